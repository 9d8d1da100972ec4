"""cocotb self-test of the harness on tests/fixtures/axis_passthrough.v (lane-wise negation).

GEN_PARAMS: {"lanes": 4, "width": 8, "corrupt": false}. With "corrupt": true the expectation of
one element is wrong on purpose, so test_directed_and_random must fail (the negative test).
"""

import json
import os
import random

import cocotb

from testbench.axis import TRAFFIC_MATRIX, AxisTB, to_signed, to_unsigned

P = json.loads(os.environ.get("GEN_PARAMS", "{}"))
LANES, W = P.get("lanes", 4), P.get("width", 8)
LO, HI = -(1 << (W - 1)), (1 << (W - 1)) - 1


def negate(frame):
    """Reference model: two's-complement negation with W-bit wraparound (-128 -> -128)."""
    return to_signed(to_unsigned([-v for v in frame], W), W)


def random_frame(max_beats=16):
    return [random.randint(LO, HI) for _ in range(LANES * random.randint(1, max_beats))]


async def make_tb(dut) -> AxisTB:
    tb = AxisTB(dut, lanes=LANES, in_width=W)
    await tb.reset()
    return tb


@cocotb.test()
async def test_directed_and_random(dut):
    """Corner values and random frames (1..16 beats, incl. single-beat) under every traffic
    pattern."""
    tb = await make_tb(dut)
    corners = (LO, HI, 0, -1, 1, LO + 1, HI - 1)
    directed = [[LO] * LANES, [HI] * LANES, [0] * LANES, [corners[i % 7] for i in range(3 * LANES)]]
    for idle, backpressure in TRAFFIC_MATRIX:
        tb.set_traffic(idle, backpressure)
        frames = directed + [random_frame() for _ in range(12)]
        expected = [negate(f) for f in frames]
        if P.get("corrupt"):
            expected[1][LANES - 1] += 1  # deliberately wrong: the scoreboard must catch it
        await tb.run_vectors(frames, expected)


@cocotb.test()
async def test_throughput(dut):
    """64K elements as a few large frames: full rate without pauses, then under random traffic."""
    tb = await make_tb(dut)
    n = 65536 // LANES
    for idle, backpressure in (("none", "none"), ("random", "random")):
        tb.set_traffic(idle, backpressure)
        frames = [[random.randint(LO, HI) for _ in range(LANES * n // 4)] for _ in range(4)]
        stats = await tb.run_vectors(frames, [negate(f) for f in frames])
        dut._log.info("THROUGHPUT idle=%s backpressure=%s: %s", idle, backpressure, stats)
        if idle == "none":  # a 2-stage pipeline must sustain one beat per cycle
            assert stats.beats_per_cycle > 0.99, stats
