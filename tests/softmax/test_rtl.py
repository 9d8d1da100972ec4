"""Tier 1: the softmax component in Amaranth's simulator, against the model, under backpressure."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from generators.simkit import add_consumer, add_producer, monitor_streams, random_pauses
from generators.softmax.model import softmax
from generators.softmax.params import SoftmaxParams
from generators.softmax.rtl import softmax_core


def bits(flags):
    return sum(int(bit) << k for k, bit in enumerate(flags))


def run_stream(params, vectors, masks, seed=1, backpressure=0.3, gaps=0.2, keeps=None,
               keeps_out=None):
    """Push vectors (with per-element masks and keeps, default all ones) through the component,
    the stream rules monitored; return the output vectors. ``keeps_out``: a list that receives
    the output keep bits per element."""
    dut = softmax_core(params)
    lanes = params.lanes
    keeps = keeps or [[True] * len(v) for v in vectors]
    beats = []
    for vector, mask, keep in zip(vectors, masks, keeps):
        count = len(vector) // lanes
        for beat in range(count):
            lane = slice(beat * lanes, (beat + 1) * lanes)
            beats.append({"data": [int(v) for v in vector[lane]], "keep": bits(keep[lane]),
                          "mask": bits(mask[lane]), "last": int(beat == count - 1)})
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    monitor_streams(sim, dut)
    add_producer(sim, dut.i, beats, pauses=random_pauses(gaps, f"{seed}-i"))
    received = add_consumer(sim, dut.o, len(beats), pauses=random_pauses(backpressure,
                                                                         f"{seed}-o"))
    sim.run_until(1e-8 * (20 * len(beats) + 2000))
    got, current = [], []
    for beat in received:
        current += beat["data"]
        if keeps_out is not None:
            keeps_out += [bool(beat["keep"] >> k & 1) for k in range(lanes)]
        if beat["last"]:
            got.append(current)
            current = []
    return got


@pytest.mark.parametrize("kwargs", [dict(method="natural", lanes=4, max_len=32),
                                    dict(method="base2", lanes=1, max_len=8),
                                    dict(method="natural", lanes=2, max_len=16,
                                         recip_method="newton", recip_segments_log2=1),
                                    dict(method="base2", lanes=3, max_len=12, recip_method="pwl",
                                         sum_frac=12),
                                    dict(method="ibert", lanes=4, max_len=32),
                                    dict(method="ibert", lanes=1, max_len=8, in_width=12,
                                         in_frac=8, out_width=10, out_frac=10)],
                         ids=["natural_l4", "base2_l1", "natural_l2_newton", "base2_l3_pwl_sum12",
                              "ibert_l4",
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
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    monitors = monitor_streams(sim, dut)
    add_producer(sim, dut.i, [{"data": [0] * lanes, "keep": (1 << lanes) - 1, "mask": 0,
                               "last": int(beat == beats - 1)}
                              for beat in range(beats)])
    add_consumer(sim, dut.o, beats)
    sim.run_until(1e-6)
    # The first output is valid the cycle before the edge that takes it (the output is always
    # ready), so the latency is one less than the cycles between the two transfers.
    cycles = monitors["o"].transfers[0] - monitors["i"].transfers[-1] - 1
    assert cycles == dut.first_output_after(beats)


@pytest.mark.parametrize("kwargs", [dict(method="base2", lanes=3, max_len=12),
                                    dict(method="ibert", lanes=2, max_len=8)],
                         ids=["base2_l3", "ibert_l2"])
def test_every_length_by_tkeep(kwargs):
    """Every length 1..max_len with the pad lanes marked by keep alone (random data and mask
    in them), and keep low inside vectors: those lanes give 0 with keep low, the rest match the
    model of the elements alone."""
    params = SoftmaxParams(**kwargs)
    rng = np.random.default_rng(5)
    lanes, fmt = params.lanes, params.in_format
    vectors, masks, keeps = [], [], []
    for length in [*range(1, params.max_len + 1), params.max_len, params.max_len]:
        n = -(-length // lanes) * lanes
        vectors.append(rng.integers(fmt.min_code, fmt.max_code + 1, n))
        masks.append(rng.random(n) < 0.25)
        keeps.append(np.arange(n) < length)
    keeps[-1] = rng.random(params.max_len) < 0.7           # null positions inside a vector
    keeps_out = []
    got = run_stream(params, vectors, masks, keeps=keeps, keeps_out=keeps_out)
    assert keeps_out == [bool(b) for keep in keeps for b in keep]
    for x, mask, keep, y in zip(vectors, masks, keeps, got):
        length = int(keep.sum())
        assert y == [int(v) for v in softmax(params, x, mask, keep)]
        assert all(v == 0 for v, k in zip(y, keep) if not k)
        if keep[:length].all():                          # a padded vector: its prefix
            assert y[:length] == [int(v) for v in softmax(params, x[:length], mask[:length])]
