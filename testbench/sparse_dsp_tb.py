"""cocotb tests of an emitted sparse DSP chain against its bit-exact model (params in GEN_PARAMS).

Three AXI4-Stream ports: s_axis_x (activations), s_axis_w (weight beats, tuser = log2 N) and
m_axis (one beat per tile), driven by the manifest harness (testbench.harness) from payload
dicts. Every output beat is compared with the model's, whose rows are checked against a plain
int64 ``W @ x``; random tvalid gaps and tready backpressure on all three streams; the DSP busy
fraction (weight beats taken per cycle) is measured on long back-to-back matrices.
"""

import os
import random

import cocotb
import numpy as np

from generators.catalog import Entry, params_from_json
from generators.emit import manifest
from generators.sparse_dsp.compress import compress, prune_nm, rows_of
from generators.sparse_dsp.model import matvec
from testbench.axis import TRAFFIC_MATRIX
from testbench.harness import ManifestTB

P = params_from_json(os.environ["GEN_PARAMS"])
MANIFEST = manifest(Entry("sparse_dsp", P), "0" * 64)
VECTORS = 2 if P.packed else 1
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

    def x_beats(self):
        # Packed: a beat holds the low vector's activations, then the high vector's.
        lanes = self.x.reshape(VECTORS, -1, P.x_per_beat).transpose(1, 0, 2).reshape(
            -1, P.x_per_beat * VECTORS)
        return [{"data": [int(v) for v in row], "last": int(n == len(lanes) - 1)}
                for n, row in enumerate(lanes)]

    def w_beats(self):
        b = self.beats
        return [{"data": {"values": [int(v) for v in b.values[n]],
                          **({} if P.dense_only else {"index": [int(i) for i in b.index[n]]})},
                 "user": int(b.n_code[n]), "last": int(b.last[n])} for n in range(len(b))]

    def o_beats(self):
        return [{"data": list(beat.data), "user": beat.valid, "last": int(beat.last)}
                for beat in self.expected]


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
        random_job(rng, rows=20 * P.lanes, k=min(2 * P.m, P.max_k)),          # many rows
        random_job(rng, density=0.3),                                         # zero-padded N:M
    ]


async def started(dut):
    tb = ManifestTB(dut, MANIFEST)
    await tb.reset()
    return tb


async def run(tb, jobs):
    """Send ``jobs`` (vectors and matrices in order), check every output beat, drain."""
    for job in jobs:
        tb.send("s_axis_x", job.x_beats())
        tb.send("s_axis_w", job.w_beats())
        tb.expect("m_axis", job.o_beats())
    await tb.wait(sum(len(j.beats) + j.x.size for j in jobs) * 12 + 2000)
    await tb.drain(40)


@cocotb.test()
async def test_random_and_directed_under_backpressure(dut):
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await started(dut)
    tb.set_traffic("random")
    await run(tb, directed_jobs(rng) + [random_job(rng) for _ in range(JOBS)])


@cocotb.test()
async def test_traffic_matrix(dut):
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await started(dut)
    for idle, backpressure in TRAFFIC_MATRIX:
        tb.set_traffic(idle, m_axis=backpressure)
        await run(tb, [random_job(rng, rows=int(rng.integers(1, 2 * P.lanes)))
                       for _ in range(3)])


@cocotb.test()
async def test_busy_fraction_per_n(dut):
    """Long matrices back to back, one per N, each with its own vector: weight beats taken per
    cycle from the first beat of a matrix to its last (every lane multiplies a non-zero on every
    beat taken), and over the whole run, since each next vector loads into the second buffer
    while the current matrix streams."""
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await started(dut)
    k = min(P.max_k, 8 * P.m)
    jobs = [random_job(rng, k=k, rows=P.lanes // n * 64, ns=n) for n in P.supported_n]
    await run(tb, jobs)
    taken = tb.transfers["s_axis_w"]      # the clock edge of every weight beat taken
    start = 0
    for n, job in zip(P.supported_n, jobs):
        window = taken[start:start + len(job.beats)]
        start += len(job.beats)
        fraction = len(window) / (window[-1] - window[0] + 1)
        dut._log.info("N=%d:M=%d: %d weight beats in %d cycles, DSP busy fraction %.4f",
                      n, P.m, len(window), window[-1] - window[0] + 1, fraction)
        assert fraction >= 0.98, f"N={n}: busy fraction {fraction:.4f}"
    assert start == len(taken)
    overall = len(taken) / (taken[-1] - taken[0] + 1)
    dut._log.info("all N back to back, vectors reloaded: busy fraction %.4f", overall)
    assert overall >= 0.98, f"back-to-back matrices: busy fraction {overall:.4f}"
