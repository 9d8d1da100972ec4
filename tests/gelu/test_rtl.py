"""Tier 1: the GELU component in Amaranth's simulator, against the model, with stream rules."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from generators.gelu.model import gelu
from generators.gelu.params import GeluParams
from generators.gelu.rtl import Gelu
from generators.simkit import add_consumer, add_producer, monitor_streams, random_pauses

CASES = {
    "fitted_int8_l1": dict(method="fitted_pwl", lanes=1, in_width=8, in_frac=5, out_width=8,
                           out_frac=5),
    "edge_moe_l3_narrow_out": dict(method="edge_moe", lanes=3, in_width=12, in_frac=8,
                                   out_width=8, out_frac=4),
    "fitted_wide_floor": dict(method="fitted_pwl", lanes=2, in_width=32, in_frac=22,
                              out_width=24, out_frac=20, rounding="floor"),
    # Three lanes: one dual-port ROM for lanes 0 and 1, a second for lane 2; floor rounding.
    "direct_l3_floor": dict(method="direct_table", lanes=3, in_width=9, in_frac=6,
                            out_width=8, out_frac=5, rounding="floor"),
    "igelu_l2": dict(method="i_gelu", lanes=2, in_width=10, in_frac=6, out_width=9, out_frac=5),
}


def run_stream(params, beats, seed):
    """Push ``beats`` (lists of lane codes, ``last`` on every fifth) with random gaps and
    backpressure, the stream rules monitored; return the output payloads and the number of
    cycles the output stalled."""
    dut = Gelu(params)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    monitors = monitor_streams(sim, dut)
    add_producer(sim, dut.i, [{"data": [int(code) for code in beat], "last": int(index % 5 == 4)}
                              for index, beat in enumerate(beats)],
                 pauses=random_pauses(0.3, f"{seed}-i"))
    received = add_consumer(sim, dut.o, len(beats), pauses=random_pauses(0.4, f"{seed}-o"))
    sim.run()
    return received, monitors["o"].stalls


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
    got = np.array([beat["data"] for beat in received])
    assert got.shape == expected.shape
    mismatch = np.argwhere(got != expected)
    assert not mismatch.size, (f"first mismatch at beat/lane {mismatch[0]}: input "
                               f"{beats[tuple(mismatch[0])]}, expected "
                               f"{expected[tuple(mismatch[0])]}, got {got[tuple(mismatch[0])]}")
    assert [beat["last"] for beat in received] == [i % 5 == 4 for i in range(len(beats))]
    # The monitor checked that a stalled output keeps valid high and its payload unchanged.
    assert stalls, "the test never stalled the output"
