"""Tier 1: the softmax component in Amaranth's simulator, against the model, under backpressure."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from generators.softmax.model import softmax
from generators.softmax.params import SoftmaxParams
from generators.softmax.rtl import softmax_core


def run_stream(params, vectors, masks, seed=1, backpressure=0.3, gaps=0.2):
    """Push vectors (with per-element masks) through the component; return the output vectors."""
    dut = softmax_core(params)
    rng = random.Random(seed)
    lanes = params.lanes
    beats = sum(len(v) // lanes for v in vectors)
    got = []

    async def producer(ctx):
        for vector, mask in zip(vectors, masks):
            count = len(vector) // lanes
            for beat in range(count):
                while rng.random() < gaps:
                    await ctx.tick()
                for k in range(lanes):
                    ctx.set(dut.i.p.data[k], int(vector[beat * lanes + k]))
                ctx.set(dut.i.p.mask, sum(int(mask[beat * lanes + k]) << k for k in range(lanes)))
                ctx.set(dut.i.p.last, beat == count - 1)
                ctx.set(dut.i.valid, 1)
                await ctx.tick().until(dut.i.ready)
                ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        current, received = [], 0
        while received < beats:
            ready = rng.random() >= backpressure
            ctx.set(dut.o.ready, ready)
            await ctx.delay(1e-9)
            valid, last = ctx.get(dut.o.valid), ctx.get(dut.o.p.last)
            beat = [ctx.get(dut.o.p.data[k]) for k in range(lanes)]
            await ctx.tick()
            if valid and ready:
                received += 1
                current += beat
                if last:
                    got.append(current)
                    current = []

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run_until(1e-8 * (20 * beats + 2000))
    return got


@pytest.mark.parametrize("kwargs", [dict(method="natural", lanes=4, max_len=32),
                                    dict(method="base2", lanes=1, max_len=8),
                                    dict(method="natural", lanes=2, max_len=16,
                                         recip_method="newton", recip_segments_log2=1),
                                    dict(method="ibert", lanes=4, max_len=32),
                                    dict(method="ibert", lanes=1, max_len=8, in_width=12,
                                         in_frac=8, out_width=10, out_frac=10)],
                         ids=["natural_l4", "base2_l1", "natural_l2_newton", "ibert_l4",
                              "ibert_l1_q8"])
def test_matches_model_with_masks_and_backpressure(kwargs):
    params = SoftmaxParams(**kwargs)
    rng = np.random.default_rng(2)
    vectors, masks = [], []
    for i in range(12):
        n = int(rng.integers(1, params.max_len // params.lanes + 1)) * params.lanes
        vectors.append(rng.integers(params.in_format.min_code, params.in_format.max_code + 1, n))
        masks.append(rng.random(n) < (0.3 if i % 3 else 0.0))
    masks[5][:] = True                                   # an all-masked vector
    got = run_stream(params, vectors, masks)
    assert got == [[int(v) for v in softmax(params, x, mask)] for x, mask in zip(vectors, masks)]


@pytest.mark.parametrize("method", ["natural", "ibert"])
@pytest.mark.parametrize("lanes", [1, 2, 3])
@pytest.mark.parametrize("beats", [1, 5])
def test_latency_is_what_the_manifest_says(method, lanes, beats):
    """Without backpressure, from the last input transfer to the first output valid."""
    params = SoftmaxParams(method=method, lanes=lanes, max_len=8 * lanes)
    dut = softmax_core(params)
    timing = {}

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        for beat in range(beats):
            ctx.set(dut.i.p.last, beat == beats - 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)
        cycles = 0
        while not ctx.get(dut.o.valid):
            await ctx.tick()
            cycles += 1
        timing["cycles"] = cycles

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run_until(1e-6)
    assert timing["cycles"] == dut.first_output_after(beats)
