"""cocotb tests of an emitted sparse DSP chain against its bit-exact model (params in GEN_PARAMS).

Three AXI4-Stream ports: s_axis_x (activations), s_axis_w (weight beats, tuser = log2 N) and
m_axis (one beat per tile). Every output beat is compared with the model, and the rows with a
plain int64 ``W @ x``; random tvalid gaps and tready backpressure on all three streams; the
DSP busy fraction (weight beats taken per cycle) is measured on long back-to-back matrices.
"""

import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, SimTimeoutError, with_timeout
from cocotbext.axi import AxiStreamFrame

from generators.catalog import params_from_json
from generators.sparse_dsp.compress import compress, prune_nm, rows_of
from generators.sparse_dsp.model import OutBeat, matvec
from testbench.axis import TRAFFIC_MATRIX, set_pauses, stream_sink, stream_source, to_signed

P = params_from_json(os.environ["GEN_PARAMS"])
VECTORS = 2 if P.packed else 1
SLOTS = P.max_groups * VECTORS
W_LOW, W_HIGH = -(1 << (P.weight_bits - 1)), 1 << (P.weight_bits - 1)
JOBS = int(os.environ.get("SPARSE_DSP_JOBS", "12"))


def reference(w, x, tile_ns):
    """Rows W' @ x, W' = w pruned per tile exactly as compress(prune=True) does."""
    pruned, row = np.zeros_like(w), 0
    for n in tile_ns:
        groups = P.lanes // n
        tile = np.zeros((groups, w.shape[1]), dtype=np.int64)
        take = min(groups, w.shape[0] - row)
        tile[:take] = w[row:row + take]
        pruned[row:row + take] = prune_nm(tile, n, P.m)[:take]
        row += groups
    return (pruned @ np.asarray(x).T).T if P.packed else pruned @ x


class Job:
    """One activation vector and one matrix: its streams, the model's beats, W @ x."""

    def __init__(self, w, x, ns):
        self.w, self.x = np.asarray(w, dtype=np.int64), np.asarray(x, dtype=np.int64)
        self.beats, self.tile_ns = compress(P, self.w, ns, prune=True)
        self.expected = matvec(P, self.x, self.beats)
        self.rows = reference(self.w, self.x, self.tile_ns)
        # The model's rows are W @ x: checked here so a model bug cannot hide behind the RTL.
        assert np.array_equal(rows_of(P, self.expected, len(self.w)), self.rows)

    def x_frame(self):
        lanes = self.x.reshape(VECTORS, -1, P.x_per_beat).transpose(1, 0, 2).reshape(-1)
        return AxiStreamFrame([int(v) & 0xFF for v in lanes])

    def w_frame(self):
        words = []
        for b in range(len(self.beats)):
            word = 0
            for j in range(P.lanes):
                word |= (int(self.beats.values[b, j]) & ((1 << P.weight_bits) - 1)) \
                    << (j * P.weight_bits)
                if not P.dense_only:
                    word |= int(self.beats.index[b, j]) << (P.lanes * P.weight_bits
                                                            + j * P.index_bits)
            words.append(word)
        return AxiStreamFrame(words, tuser=[int(c) for c in self.beats.n_code])


def random_job(rng, k=None, rows=None, ns=None, low=W_LOW, high=W_HIGH, density=None):
    k = k or P.m * int(rng.integers(1, P.max_k // P.m + 1))
    rows = rows or int(rng.integers(1, 4 * P.lanes))
    w = rng.integers(low, high, (rows, k))
    if density is not None:
        w = np.where(rng.random((rows, k)) < density, w, 0)
    x = rng.integers(-128, 128, (VECTORS, k) if P.packed else k)
    ns = ns or [int(rng.choice(P.supported_n)) for _ in range(rows)]
    return Job(w, x, ns)


def directed_jobs(rng):
    k, nmax, nmin = P.max_k, P.supported_n[-1], P.supported_n[0]
    xshape = (VECTORS, k) if P.packed else k
    return [
        Job(np.zeros((P.lanes, k)), rng.integers(-128, 128, xshape), nmin),    # all-zero blocks
        random_job(rng, k=k, ns=[nmax] * 4 * P.lanes, density=1.0),           # all dense blocks
        random_job(rng, ns=list(P.supported_n) * 4 * P.lanes),                # mixed N
        Job(np.full((2 * P.lanes, k), W_LOW), np.full(xshape, -128), nmax),   # -128 x min, K max
        Job(np.full((3, k), W_HIGH - 1), np.full(xshape, -128), nmin),        # + x -, K max
        random_job(rng, k=P.m, rows=1),                                       # one block, one row
        random_job(rng, rows=20 * P.lanes, k=P.m * 2),                        # many rows
        random_job(rng, density=0.3),                                         # zero-padded N:M
    ]


class SparseDspTB:
    def __init__(self, dut):
        self.dut = dut
        self.rng = random.Random(cocotb.RANDOM_SEED % 2**32)
        Clock(dut.aclk, 10, unit="ns").start()
        self.x_source = stream_source(dut, "s_axis_x", 8)
        self.w_source = stream_source(dut, "s_axis_w", len(dut.s_axis_w_tdata))
        self.sink = stream_sink(dut, "m_axis", P.acc_bits)
        self.taken = []           # cycle of every weight beat taken
        self.cycle = 0

    async def reset(self):
        self.dut.aresetn.value = 0
        await ClockCycles(self.dut.aclk, 4)
        self.dut.aresetn.value = 1
        await RisingEdge(self.dut.aclk)
        cocotb.start_soon(self._count())

    async def _count(self):
        dut = self.dut
        while True:
            await RisingEdge(dut.aclk)
            self.cycle += 1
            if dut.s_axis_w_tvalid.value == 1 and dut.s_axis_w_tready.value == 1:
                self.taken.append(self.cycle)

    def set_traffic(self, idle, backpressure):
        for port, pattern in ((self.x_source, idle), (self.w_source, idle),
                              (self.sink, backpressure)):
            set_pauses(port, pattern, self.rng)

    async def run(self, jobs):
        for job in jobs:
            self.x_source.send_nowait(job.x_frame())
            self.w_source.send_nowait(job.w_frame())
        cycles = sum(len(j.beats) + j.x.size for j in jobs) * 12 + 2000
        got = []

        async def receive():
            for _ in jobs:
                got.append(await self.sink.recv())

        try:
            await with_timeout(receive(), cycles * 10, "ns")
        except SimTimeoutError:
            raise AssertionError(f"timeout: {len(got)} of {len(jobs)} matrices came out") from None
        for n, (frame, job) in enumerate(zip(got, jobs)):
            data = to_signed(list(frame.tdata), P.acc_bits)
            tuser = frame.tuser if isinstance(frame.tuser, list) else [frame.tuser] * len(data)
            user = tuser[::SLOTS]
            beats = [OutBeat(tuple(data[i * SLOTS:(i + 1) * SLOTS]), user[i],
                             i == len(data) // SLOTS - 1) for i in range(len(data) // SLOTS)]
            if beats != job.expected:
                bad = next((i for i, (g, e) in enumerate(zip(beats, job.expected)) if g != e),
                           min(len(beats), len(job.expected)))
                raise AssertionError(
                    f"matrix {n}: {len(beats)} beats, expected {len(job.expected)}; first "
                    f"difference at tile {bad}: got "
                    f"{beats[bad] if bad < len(beats) else None}, expected "
                    f"{job.expected[bad] if bad < len(job.expected) else None}")
            assert np.array_equal(rows_of(P, beats, len(job.w)), job.rows)
        # Nothing more may come out: the queue ends empty.
        self.sink.set_pause_generator(None)
        self.sink.pause = False
        await ClockCycles(self.dut.aclk, 40)
        assert self.sink.count() == 0 and not self.sink.active, "extra output after the last tile"
        assert self.x_source.idle() and self.w_source.idle()


@cocotb.test()
async def test_random_and_directed_under_backpressure(dut):
    rng = np.random.default_rng(random.getrandbits(32))
    tb = SparseDspTB(dut)
    await tb.reset()
    tb.set_traffic("random", "random")
    await tb.run(directed_jobs(rng) + [random_job(rng) for _ in range(JOBS)])


@cocotb.test()
async def test_traffic_matrix(dut):
    rng = np.random.default_rng(random.getrandbits(32))
    tb = SparseDspTB(dut)
    await tb.reset()
    for idle, backpressure in TRAFFIC_MATRIX:
        tb.set_traffic(idle, backpressure)
        await tb.run([random_job(rng, rows=int(rng.integers(1, 2 * P.lanes)))
                      for _ in range(3)])


@cocotb.test()
async def test_busy_fraction_per_n(dut):
    """Long matrices back to back, one per N, each with its own vector: weight beats taken per
    cycle from the first beat of a matrix to its last (every lane multiplies a non-zero on every
    beat taken), and over the whole run, since each next vector loads into the second buffer
    while the current matrix streams."""
    rng = np.random.default_rng(random.getrandbits(32))
    tb = SparseDspTB(dut)
    await tb.reset()
    k = min(P.max_k, 8 * P.m)
    jobs = [random_job(rng, k=k, rows=P.lanes // n * 64, ns=n) for n in P.supported_n]
    await tb.run(jobs)
    start = 0
    for n, job in zip(P.supported_n, jobs):
        window = tb.taken[start:start + len(job.beats)]
        start += len(job.beats)
        fraction = len(window) / (window[-1] - window[0] + 1)
        dut._log.info("N=%d:M=%d: %d weight beats in %d cycles, DSP busy fraction %.4f",
                      n, P.m, len(window), window[-1] - window[0] + 1, fraction)
        assert fraction >= 0.98, f"N={n}: busy fraction {fraction:.4f}"
    assert start == len(tb.taken)
    overall = len(tb.taken) / (tb.taken[-1] - tb.taken[0] + 1)
    dut._log.info("all N back to back, vectors reloaded: busy fraction %.4f", overall)
    assert overall >= 0.98, f"back-to-back matrices: busy fraction {overall:.4f}"
