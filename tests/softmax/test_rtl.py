"""Tier 1: the softmax component in Amaranth's simulator, against the model, under backpressure."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from generators.simkit import add_consumer, add_producer, monitor_streams, random_pauses
from generators.softmax.model import softmax
from generators.softmax.params import SoftmaxParams
from generators.softmax.rtl import softmax_core


def run_stream(params, vectors, masks, seed=1, backpressure=0.3, gaps=0.2):
    """Push vectors (with per-element masks) through the component, the stream rules monitored;
    return the output vectors."""
    dut = softmax_core(params)
    lanes = params.lanes
    beats = []
    for vector, mask in zip(vectors, masks):
        count = len(vector) // lanes
        for beat in range(count):
            lane = slice(beat * lanes, (beat + 1) * lanes)
            beats.append({"data": [int(v) for v in vector[lane]],
                          "mask": sum(int(bit) << k for k, bit in enumerate(mask[lane])),
                          "last": int(beat == count - 1)})
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
    add_producer(sim, dut.i, [{"data": [0] * lanes, "mask": 0, "last": int(beat == beats - 1)}
                              for beat in range(beats)])
    add_consumer(sim, dut.o, beats)
    sim.run_until(1e-6)
    # The first output is valid the cycle before the edge that takes it (the output is always
    # ready), so the latency is one less than the cycles between the two transfers.
    cycles = monitors["o"].transfers[0] - monitors["i"].transfers[-1] - 1
    assert cycles == dut.first_output_after(beats)
