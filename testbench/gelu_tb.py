"""cocotb tests of an emitted GELU block against its bit-exact model (parameters in GEN_PARAMS).

Inputs: every code when the input is at most 16 bits, otherwise directed corners (format
limits, every table-region edge and the cut-off, each +-1 code, both signs) plus seeded random
codes. All under random tvalid gaps and tready backpressure, then the whole traffic matrix, then a
full-rate run that must sustain one beat per cycle.
"""

import os
import random

import cocotb
import numpy as np

from generators.catalog import params_from_json
from generators.gelu.model import gelu, table_layout
from generators.gelu.params import TABLE_METHODS
from generators.gelu.rtl import Gelu
from testbench.axis import TRAFFIC_MATRIX, AxisTB

PARAMS = params_from_json(os.environ["GEN_PARAMS"])
FMT = PARAMS.in_format
EXHAUSTIVE_BITS = 16
SAMPLED = int(os.environ.get("GELU_SAMPLED", "40000"))    # random codes beyond 16 bits


def directed_codes():
    codes = {FMT.min_code, FMT.max_code, 0}
    edges = ([] if PARAMS.method not in TABLE_METHODS else
             [edge for region in table_layout(PARAMS).regions for edge in region[:2]])
    for edge in edges + [1 << FMT.frac, 8 << FMT.frac]:
        for code in (edge - 1, edge, edge + 1):
            codes.update((code, -code))
    return sorted(c for c in codes if FMT.min_code <= c <= FMT.max_code)


def input_codes(rng):
    if FMT.width <= EXHAUSTIVE_BITS:
        codes = FMT.codes()
        rng.shuffle(codes)
    else:
        codes = rng.integers(FMT.min_code, FMT.max_code + 1, SAMPLED)
    codes = np.concatenate([directed_codes(), codes])
    pad = -len(codes) % PARAMS.lanes
    return np.concatenate([codes, rng.integers(FMT.min_code, FMT.max_code + 1, pad)])


def frames_of(codes, rng, max_beats):
    """Split codes into frames of random whole-beat lengths (1 beat included)."""
    frames, start = [], 0
    while start < len(codes):
        beats = int(rng.integers(1, max_beats + 1))
        frames.append(codes[start:start + beats * PARAMS.lanes])
        start += beats * PARAMS.lanes
    return ([[int(v) for v in f] for f in frames],
            [[int(v) for v in gelu(PARAMS, f)] for f in frames])


async def make_tb(dut):
    tb = AxisTB(dut, lanes=PARAMS.lanes, in_width=PARAMS.in_width, out_width=PARAMS.out_width)
    await tb.reset()
    return tb


@cocotb.test()
async def test_all_codes_under_backpressure(dut):
    """Every input code (or the sampled set) bit-exact under random gaps and backpressure."""
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await make_tb(dut)
    tb.set_traffic("random", "random")
    frames, expected = frames_of(input_codes(rng), rng, max_beats=256)
    stats = await tb.run_vectors(frames, expected)
    dut._log.info("checked %d elements: %s", sum(map(len, frames)), stats)


@cocotb.test()
async def test_traffic_matrix(dut):
    """Short frames (1 beat included) under every traffic pattern; framing must survive."""
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await make_tb(dut)
    codes = np.array(directed_codes() * 2)
    for idle, backpressure in TRAFFIC_MATRIX:
        tb.set_traffic(idle, backpressure)
        mixed = np.concatenate(
            [codes, rng.integers(FMT.min_code, FMT.max_code + 1, 64 * PARAMS.lanes)])
        mixed = mixed[: len(mixed) // PARAMS.lanes * PARAMS.lanes]
        frames, expected = frames_of(mixed, rng, max_beats=5)
        await tb.run_vectors(frames, expected)


@cocotb.test()
async def test_full_rate(dut):
    """Without gaps or backpressure a beat enters and leaves every cycle (II = 1)."""
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await make_tb(dut)
    codes = rng.integers(FMT.min_code, FMT.max_code + 1, 2048 * PARAMS.lanes)
    frames, expected = frames_of(codes, rng, max_beats=512)
    stats = await tb.run_vectors(frames, expected)
    assert stats.cycles <= stats.out_beats + Gelu(PARAMS).latency + 1, stats
