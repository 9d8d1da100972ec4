"""cocotb tests of an emitted LUT tensor core against its bit-exact model (params in GEN_PARAMS).

Streams: s_axis_a (activation groups), s_axis_w (index patterns), s_axis_z (zero points, int2
and int4), s_axis_c (accumulator input rows, acc_in), s_axis_s (scales and biases, requant),
m_axis (one row of results per beat, tlast at the tile's last row), driven by the manifest
harness (testbench.harness) from payload dicts. Seeded random tiles plus the directed cases
(weights at both ends of their range with extreme activations, zero and most-negative
activations, K = max_k, K = 1 and K not a multiple of g) under random tvalid gaps on every input
and tready backpressure; back-to-back tiles at full rate, where the weight stream must never
stall.
"""

import os
import random

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from generators.catalog import Entry, params_from_json
from generators.emit import manifest
from generators.lut_tc.model import lut_tc_tile, reference
from generators.lut_tc.prepare import pack_epilogue, pack_tile
from generators.lut_tc.sim import tile_payloads
from testbench.axis import TRAFFIC_MATRIX
from testbench.harness import ManifestTB
from testbench.lut_tc_cases import epilogue_inputs

P = params_from_json(os.environ["GEN_PARAMS"])
MANIFEST = manifest(Entry("lut_tc", P), "0" * 64)
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


class Tile:
    """One tile: its input payloads per stream, the expected result rows, its step count."""

    def __init__(self, a, q, z, c, scale, bias):
        a_beats, w_beats, z_beats = pack_tile(P, a, q, z)
        c_beats, s_beat = pack_epilogue(P, c, scale, bias)
        want = reference(P.weight_format, a, q, z, acc_in=c, params=P, scale=scale, bias=bias)
        # model vs A @ (q - z) (+ C, requantised)
        assert lut_tc_tile(P, a_beats, w_beats, z_beats, c_beats, s_beat) == want.tolist()
        self.inputs = tile_payloads(P, [(a_beats, w_beats, z_beats, c_beats, s_beat)])
        self.steps = len(w_beats)
        self.outputs = [{"data": [int(v) for v in row], "last": int(r == len(want) - 1)}
                        for r, row in enumerate(want)]


async def started(dut):
    tb = ManifestTB(dut, MANIFEST)
    await tb.reset()
    return tb


async def run(tb, cases):
    """Send every tile, check each result row in order, then that nothing else comes out."""
    tiles = [Tile(*case) for case in cases]
    for tile in tiles:
        for name, payloads in tile.inputs.items():
            tb.send(f"s_axis_{name}", payloads)
        tb.expect("m_axis", tile.outputs)
    await tb.wait(40 * (sum(t.steps for t in tiles) + P.m * len(tiles)) + 2000)
    await tb.drain(64)


@cocotb.test()
async def test_random_and_directed_under_backpressure(dut):
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await started(dut)
    tb.set_traffic("random")
    await run(tb, directed(rng) + [random_tile(rng) for _ in range(TILES)])


@cocotb.test()
async def test_traffic_matrix(dut):
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await started(dut)
    for idle, backpressure in TRAFFIC_MATRIX:
        tb.set_traffic(idle, m_axis=backpressure)
        await run(tb, [random_tile(rng) for _ in range(3)])


def tile_steps(k):
    """Tile steps (w beats) of a tile of reduction length ``k``."""
    return -(-k // P.g) * P.steps_per_group


@cocotb.test()
async def test_back_to_back_full_rate(dut):
    """Tiles of at least m steps back to back, no gaps, no backpressure: after the first beat,
    the weight stream is taken every cycle (one tile step per cycle, no precompute stalls).

    Where even max_k gives fewer than m steps (max_k < g, say), the tiles are of max_k and
    the m-row drain paces them: a tile of s steps then waits m - s cycles for the previous
    tile's rows, and no more."""
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await started(dut)
    k_min = min(-(-P.m // P.steps_per_group) * P.g, P.max_k)    # at least m steps per tile
    cases = [random_tile(rng, k=int(rng.integers(k_min, max(k_min, SHORT_K) + 1)))
             for _ in range(12)]
    drain_waits = sum(max(0, P.m - tile_steps(case[0].shape[1])) for case in cases[1:])
    stalls, steps = [], []

    async def count():
        while True:
            await RisingEdge(dut.aclk)
            if dut.s_axis_w_tvalid.value == 1:
                (steps if dut.s_axis_w_tready.value == 1 else stalls).append(1)

    counter = cocotb.start_soon(count())
    await run(tb, cases)
    counter.cancel()
    dut._log.info("back-to-back: %d steps, %d stalled cycles", len(steps), len(stalls))
    assert len(stalls) <= 1 + drain_waits, \
        f"weight stream stalled {len(stalls)} cycles ({1 + drain_waits} allowed: the first " \
        f"group's table is built in the cycle it arrives, and {drain_waits} drain waits)"
