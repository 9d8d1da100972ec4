"""Tier 1: the GELU component in Amaranth's simulator, against the model, with stream rules."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from generators.gelu.model import gelu
from generators.gelu.params import GeluParams
from generators.gelu.rtl import Gelu

CASES = {
    "fitted_int8_l1": dict(method="fitted_pwl", lanes=1, in_width=8, in_frac=5, out_width=8,
                           out_frac=5),
    "edge_moe_l3_narrow_out": dict(method="edge_moe", lanes=3, in_width=12, in_frac=8,
                                   out_width=8, out_frac=4),
    "fitted_wide_floor": dict(method="fitted_pwl", lanes=2, in_width=32, in_frac=22,
                              out_width=24, out_frac=20, rounding="floor"),
    "igelu_l2": dict(method="i_gelu", lanes=2, in_width=10, in_frac=6, out_width=9, out_frac=5),
}


def run_stream(params, beats, seed):
    """Push ``beats`` (lists of lane codes) with random gaps and backpressure; return outputs and
    per-cycle observations of the output handshake."""
    dut = Gelu(params)
    rng = random.Random(seed)
    received, stalls = [], []

    async def producer(ctx):
        for index, beat in enumerate(beats):
            while rng.random() < 0.3:
                await ctx.tick()
            for lane, code in enumerate(beat):
                ctx.set(dut.i.p.data[lane], int(code))
            ctx.set(dut.i.p.last, index % 5 == 4)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        previous = None
        while len(received) < len(beats):
            ready = rng.random() < 0.6
            ctx.set(dut.o.ready, ready)
            await ctx.delay(1e-9)
            valid = ctx.get(dut.o.valid)
            now = (tuple(ctx.get(dut.o.p.data[k]) for k in range(params.lanes)),
                   ctx.get(dut.o.p.last))
            if previous is not None:
                stalls.append((previous, valid, now))
            await ctx.tick()
            if valid and ready:
                received.append(now)
                previous = None
            else:
                previous = now if valid else None

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    return received, stalls


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_model_under_backpressure(case):
    params = GeluParams(**CASES[case])
    fmt = params.in_format
    rng = np.random.default_rng(7)
    codes = np.concatenate([[fmt.min_code, fmt.max_code, 0, -1, 1],
                            rng.integers(fmt.min_code, fmt.max_code + 1, 120 * params.lanes)])
    codes = codes[: len(codes) // params.lanes * params.lanes]
    beats = codes.reshape(-1, params.lanes)
    received, stalls = run_stream(params, beats.tolist(), seed=3)
    expected = gelu(params, beats)
    got = np.array([data for data, _ in received])
    assert got.shape == expected.shape
    mismatch = np.argwhere(got != expected)
    assert not mismatch.size, (f"first mismatch at beat/lane {mismatch[0]}: input "
                               f"{beats[tuple(mismatch[0])]}, expected "
                               f"{expected[tuple(mismatch[0])]}, got {got[tuple(mismatch[0])]}")
    assert [last for _, last in received] == [i % 5 == 4 for i in range(len(beats))]
    # Stream rule: a stalled output keeps valid high and its payload unchanged.
    assert stalls, "the test never stalled the output"
    for before, valid, now in stalls:
        assert valid and now == before
