"""cocotb tests of an emitted LUT tensor core against its bit-exact model (params in GEN_PARAMS).

Streams: s_axis_a (activation groups), s_axis_w (index patterns), s_axis_z (zero points, int2
and int4), s_axis_c (accumulator input rows, acc_in), s_axis_s (scales and biases, requant),
m_axis (one row of results per beat, tlast at the tile's last row). Seeded random
tiles plus the directed cases (weights at both ends of their range with extreme activations,
zero and most-negative activations, K = max_k, K = 1 and K not a multiple of g) under random
tvalid gaps on all three inputs and tready backpressure; back-to-back tiles at full rate, where
the weight stream must never stall.
"""

import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, SimTimeoutError, with_timeout
from cocotbext.axi import AxiStreamFrame

from generators.catalog import params_from_json
from generators.lut_tc.model import lut_tc_tile, reference
from generators.lut_tc.prepare import pack_epilogue, pack_tile
from testbench.axis import (TRAFFIC_MATRIX, set_pauses, stream_sink, stream_source,
                            to_signed, to_unsigned)
from testbench.lut_tc_cases import epilogue_inputs

P = params_from_json(os.environ["GEN_PARAMS"])
TILES = int(os.environ.get("LUT_TC_TILES", "24"))
#: Random K is mostly short, so a run stays quick; the directed cases cover K = max_k.
SHORT_K = min(P.max_k, 8 * P.g)


def random_tile(rng, k=None, extreme=None):
    """``(A, q, z, C, scale, bias)`` of one tile."""
    k = k or int(rng.integers(1, SHORT_K + 1))
    half = 1 << (P.act_width - 1)
    a = rng.integers(-half, half, (P.m, k))
    top = 2 if P.weight_format == "ternary" else (1 << P.bits) - 1
    q = rng.integers(0, top + 1, (k, P.n))
    z = rng.integers(0, 1 << P.bits, P.zero_point_shape(k)) if P.has_zero_point else None
    if extreme in ("max", "min"):
        q[:] = top if extreme == "max" else 0
        a[:] = half - 1 if extreme == "max" else -half
        if z is not None:
            z[:] = 0 if extreme == "max" else top      # the largest |q - z|
    elif extreme == "zero":
        a[:] = 0
    elif extreme == "neg":
        a[:] = -half
    return (a, q, z) + epilogue_inputs(P, rng, extreme)


def directed(rng):
    cases = [random_tile(rng, k=P.max_k, extreme=e) for e in ("max", "min", "zero", "neg")]
    cases += [random_tile(rng, k=P.max_k), random_tile(rng, k=1),
              random_tile(rng, k=P.g + 1 if P.g + 1 <= P.max_k else P.max_k)]
    return cases


class LutTcTB:
    """Clock, reset, the three sources, the result sink and an in-order tile scoreboard."""

    def __init__(self, dut):
        self.dut = dut
        self.rng = random.Random(cocotb.RANDOM_SEED % 2**32)
        Clock(dut.aclk, 10, unit="ns").start()
        self.a = stream_source(dut, "s_axis_a", P.act_width)
        self.w = stream_source(dut, "s_axis_w", P.pattern_width)
        self.z = stream_source(dut, "s_axis_z", P.bits) if P.has_zero_point else None
        self.c = stream_source(dut, "s_axis_c", P.out_width) if P.acc_in else None
        self.s = stream_source(dut, "s_axis_s", P.scale_bits + P.bias_bits) \
            if P.requant else None
        self.o = stream_sink(dut, "m_axis", P.result_width)

    async def reset(self):
        self.dut.aresetn.value = 0
        await ClockCycles(self.dut.aclk, 5)
        self.dut.aresetn.value = 1
        await RisingEdge(self.dut.aclk)

    def set_traffic(self, idle, backpressure):
        for source in self._sources():
            if source is not None:
                set_pauses(source, idle, self.rng)
        set_pauses(self.o, backpressure, self.rng)

    def _sources(self):
        return [s for s in (self.a, self.w, self.z, self.c, self.s) if s is not None]

    async def run(self, cases):
        """Send every tile, check each result tile in order, then that nothing else comes out."""
        expected = []
        steps = 0
        for a, q, z, c, scale, bias in cases:
            a_beats, w_beats, z_beats = pack_tile(P, a, q, z)
            c_beats, s_beat = pack_epilogue(P, c, scale, bias)
            want = reference(P.weight_format, a, q, z, acc_in=c, params=P, scale=scale,
                             bias=bias)
            # model vs A @ (q - z) (+ C, requantised)
            assert lut_tc_tile(P, a_beats, w_beats, z_beats, c_beats, s_beat) == want.tolist()
            self.a.send_nowait(AxiStreamFrame(to_unsigned(sum(a_beats, []), P.act_width)))
            self.w.send_nowait(AxiStreamFrame(sum(w_beats, [])))
            if self.z is not None:
                self.z.send_nowait(AxiStreamFrame(sum(z_beats, [])))
            if self.c is not None:
                self.c.send_nowait(AxiStreamFrame(to_unsigned(sum(c_beats, []), P.out_width)))
            if self.s is not None:
                self.s.send_nowait(AxiStreamFrame(s_beat))
            expected.append([int(v) for v in want.reshape(-1)])
            steps += len(w_beats)
        got = []

        async def receive():
            for _ in expected:
                got.append(await self.o.recv())

        try:
            await with_timeout(receive(), 10 * 40 * (steps + P.m * len(cases)) + 20000, "ns")
        except SimTimeoutError:
            pass
        for n, (frame, want) in enumerate(zip(got, expected)):
            values = to_signed(list(frame.tdata), P.result_width)
            assert len(values) == len(want), \
                f"tile {n}: {len(values)} results, expected {len(want)} (tlast misplaced?)"
            for i, (v, e) in enumerate(zip(values, want)):
                assert v == e, f"tile {n} row {i // P.n} column {i % P.n}: expected {e} got {v}"
        assert len(got) == len(expected), f"received {len(got)} of {len(expected)} tiles"
        self.set_traffic("none", "none")
        await ClockCycles(self.dut.aclk, 64)
        assert self.o.count() == 0 and not self.o.active, "extra output after the last tile"
        assert all(source.idle() for source in self._sources()), "inputs left unconsumed"


@cocotb.test()
async def test_random_and_directed_under_backpressure(dut):
    rng = np.random.default_rng(random.getrandbits(32))
    tb = LutTcTB(dut)
    await tb.reset()
    tb.set_traffic("random", "random")
    await tb.run(directed(rng) + [random_tile(rng) for _ in range(TILES)])


@cocotb.test()
async def test_traffic_matrix(dut):
    rng = np.random.default_rng(random.getrandbits(32))
    tb = LutTcTB(dut)
    await tb.reset()
    for idle, backpressure in TRAFFIC_MATRIX:
        tb.set_traffic(idle, backpressure)
        await tb.run([random_tile(rng) for _ in range(3)])


@cocotb.test()
async def test_back_to_back_full_rate(dut):
    """Tiles of at least m steps back to back, no gaps, no backpressure: after the first beat,
    the weight stream is taken every cycle (one tile step per cycle, no precompute stalls)."""
    rng = np.random.default_rng(random.getrandbits(32))
    tb = LutTcTB(dut)
    await tb.reset()
    k_min = -(-P.m // P.steps_per_group) * P.g        # at least m steps per tile
    cases = [random_tile(rng, k=int(rng.integers(k_min, max(k_min, SHORT_K) + 1)))
             for _ in range(12)]
    stalls, steps = [], []

    async def count():
        while True:
            await RisingEdge(dut.aclk)
            if dut.s_axis_w_tvalid.value == 1:
                (steps if dut.s_axis_w_tready.value == 1 else stalls).append(1)

    counter = cocotb.start_soon(count())
    await tb.run(cases)
    counter.cancel()
    dut._log.info("back-to-back: %d steps, %d stalled cycles", len(steps), len(stalls))
    assert len(stalls) <= 1, f"weight stream stalled {len(stalls)} cycles (1 allowed: the first " \
                             f"group's table is built in the cycle it arrives)"
