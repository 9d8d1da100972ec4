"""cocotb tests of an emitted softmax block against its bit-exact model (parameters in GEN_PARAMS).

Random lengths (1 beat and max_len included) and masks under gaps and backpressure; directed
vectors (equal logits, one dominant logit, both ends of the input range, no/some/all masked);
back-to-back vectors at full rate, which must stream one beat per cycle; vectors of every
length 1..max_len whose pad lanes (tkeep low) carry random data and tuser bits, which must give 0
with tkeep low (on configurations with max_len <= 32, or any with SOFTMAX_EVERY_LENGTH=1).
"""

import os
import random

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from generators.catalog import params_from_json
from generators.softmax.model import softmax
from generators.softmax.rtl import softmax_core
from testbench.axis import TRAFFIC_MATRIX, AxisTB

PARAMS = params_from_json(os.environ["GEN_PARAMS"])
FMT = PARAMS.in_format
P = PARAMS.lanes
VECTORS = int(os.environ.get("SOFTMAX_VECTORS", "150"))
EVERY_LENGTH = os.environ.get("SOFTMAX_EVERY_LENGTH", "1" if PARAMS.max_len <= 32 else "0") == "1"


def random_vector(rng, beats=None, mask_rate=None):
    beats = beats or int(rng.integers(1, PARAMS.max_len // P + 1))
    n = beats * P
    scale = 2.0 ** PARAMS.in_frac * float(rng.choice([0.5, 1.0, 2.0, 4.0]))
    x = np.clip(np.floor(rng.normal(0.0, 1.0, n) * scale + 0.5), FMT.min_code, FMT.max_code)
    rate = float(rng.choice([0.0, 0.0, 0.2, 0.6])) if mask_rate is None else mask_rate
    return [int(v) for v in x], [bool(b) for b in rng.random(n) < rate]


def directed_vectors(rng):
    n = PARAMS.max_len
    cases = [
        ([FMT.max_code] * n, [False] * n),                               # all equal, top
        ([FMT.min_code] * P, [False] * P),                               # all equal, bottom
        ([FMT.min_code] * (n - 1) + [FMT.max_code], [False] * n),        # one dominant
        ([FMT.max_code] + [FMT.min_code] * (P - 1), [False] * P),        # one dominant, 1 beat
        ([0] * P, [True] * P),                                           # all masked
        ([FMT.max_code, 0] * (n // 2) if n > 1 else [0], [True, False] * (n // 2) or [False]),
    ]
    return cases + [random_vector(rng, beats=PARAMS.max_len // P) for _ in range(2)]


def padded_vector(rng, length):
    """A vector of ``length`` elements in whole beats: its pad lanes have tkeep low and random
    data and tuser bits. Returns (codes, mask, keep) per lane."""
    beats = -(-length // P)
    x, mask = random_vector(rng, beats=beats)
    for lane in range(length, beats * P):
        x[lane] = int(rng.integers(FMT.min_code, FMT.max_code + 1))
        mask[lane] = bool(rng.random() < 0.5)
    return x, mask, [lane < length for lane in range(beats * P)]


def expected_of(vectors):
    return [[int(v) for v in softmax(PARAMS, *vector)] for vector in vectors]


async def make_tb(dut):
    tb = AxisTB(dut, lanes=P, in_width=PARAMS.in_width, out_width=PARAMS.out_width,
                out_signed=False)
    await tb.reset()
    return tb


async def run(tb, vectors):
    """Vectors are (codes, mask) or (codes, mask, keep); the output tkeep must be the input's."""
    frames, masks = [v[0] for v in vectors], [v[1] for v in vectors]
    keeps = [v[2] if len(v) > 2 else [True] * len(v[0]) for v in vectors]
    return await tb.run_vectors(frames, expected_of(vectors), masks=masks, keeps=keeps)


@cocotb.test(skip=not EVERY_LENGTH)
async def test_every_length_by_tkeep(dut):
    """Every length 1..max_len, pad lanes marked by tkeep alone (random data and tuser in
    them), shuffled, under random gaps and backpressure; then every length once more at full
    rate with heavy backpressure."""
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await make_tb(dut)
    lengths = [int(n) for n in rng.permutation(np.arange(1, PARAMS.max_len + 1))]
    tb.set_traffic("random", "random")
    await run(tb, [padded_vector(rng, n) for n in lengths])
    tb.set_traffic("none", "heavy")
    await run(tb, [padded_vector(rng, n) for n in range(1, PARAMS.max_len + 1)])
    # tkeep low inside a vector too (AXI4-Stream null positions): not elements either.
    nulls = []
    for _ in range(8):
        x, mask = random_vector(rng)
        nulls.append((x, mask, [bool(b) for b in rng.random(len(x)) >= 0.3]))
    tb.set_traffic("random", "random")
    await run(tb, nulls)


@cocotb.test()
async def test_random_and_directed_under_backpressure(dut):
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await make_tb(dut)
    tb.set_traffic("random", "random")
    await run(tb, directed_vectors(rng) + [random_vector(rng) for _ in range(VECTORS)])


@cocotb.test()
async def test_traffic_matrix(dut):
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await make_tb(dut)
    for idle, backpressure in TRAFFIC_MATRIX:
        tb.set_traffic(idle, backpressure)
        await run(tb, [random_vector(rng) for _ in range(12)])


@cocotb.test()
async def test_back_to_back_full_rate(dut):
    """Vectors of every length back to back: the input never stalls (one beat per cycle).

    Outputs of a vector can only start once its last input is in (its maximum and sum are
    known then), so the output side idles after a short vector followed by a long one; the
    input side is where the block's throughput shows.
    """
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await make_tb(dut)
    vectors = [random_vector(rng, beats=int(b)) for b in
               list(range(1, PARAMS.max_len // P + 1)) * 2 + [1] * 16]
    stalls = []

    async def count_stalls():
        while True:
            await RisingEdge(dut.aclk)
            if dut.s_axis_tvalid.value == 1 and dut.s_axis_tready.value == 0:
                stalls.append(1)

    counter = cocotb.start_soon(count_stalls())
    stats = await run(tb, vectors)
    counter.cancel()
    dut._log.info("back-to-back: %s, input stalls %d", stats, len(stalls))
    assert not stalls, f"input stalled {len(stalls)} cycles"
    # Everything after the last input beat is one vector's latency plus its drain.
    beats = PARAMS.max_len // P
    drain = softmax_core(PARAMS).first_output_after(beats) + beats + 2
    assert stats.cycles <= stats.in_beats + drain, stats
