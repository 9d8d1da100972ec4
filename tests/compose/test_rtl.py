"""Tier 1 (Amaranth simulator): the adapters alone under random pauses, the joins' checks, and
the composed FFN layer bit-exact under backpressure, with its latency, cycles per job and the
busy fraction of every part measured against the figures of docs/composition.md."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from generators.catalog import load_config
from generators.compose import CompositionError, FfnParams, Requant
from generators.compose.rtl.ffn import FfnCore
from generators.compose.rtl.join import join
from generators.compose.rtl.lanes import Narrow, Widen
from generators.compose.rtl.requant import Requantize
from generators.compose.sim import busy_fractions, run_ffn
from generators.fixedpoint import Fixed
from generators.simkit import add_consumer, add_producer, monitor_streams, random_pauses
from testbench.runner import REPO_ROOT

EXAMPLES = {e.name: e.params for e in
            load_config(REPO_ROOT / "generators" / "compose" / "examples" / "ffn.toml")}


def _run_adapter(dut, beats, count, seed):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    monitor_streams(sim, dut)       # raises on any broken stream rule
    add_producer(sim, dut.i, beats, pauses=random_pauses(0.3, f"i{seed}"))
    got = add_consumer(sim, dut.o, count, pauses=random_pauses(0.3, f"o{seed}"))
    sim.run()
    return got


@pytest.mark.parametrize("wide, narrow", [(8, 2), (4, 4), (6, 3)])
def test_narrow_then_widen_under_pauses(wide, narrow):
    rng = np.random.default_rng(wide * 10 + narrow)
    fmt = Fixed(10, 0)
    beats = [{"data": [int(v) for v in rng.integers(-512, 512, wide)], "last": int(k % 3 == 2)}
             for k in range(12)]
    pieces = _run_adapter(Narrow(wide, narrow, fmt), beats, 12 * wide // narrow, 1)
    flat = [v for b in beats for v in b["data"]]
    assert [v for b in pieces for v in b["data"]] == flat
    assert [b["last"] for b in pieces] == [int(b["last"] and j == wide // narrow - 1)
                                           for b in beats for j in range(wide // narrow)]
    whole = _run_adapter(Widen(narrow, wide, fmt), pieces, 12, 2)
    assert whole == beats


def test_requantize_adapter_matches_its_model():
    from generators.compose.adapters import requantize

    r = Requant(mult=37, shift=9, out_bits=8)
    rng = np.random.default_rng(5)
    values = np.concatenate([[0, 1, -1, 131071, -131072, 255, -256],
                             rng.integers(-131072, 131072, 57)])
    beats = [{"data": [int(v) for v in values[k:k + 4]], "last": 0} for k in range(0, 64, 4)]
    got = _run_adapter(Requantize(4, Fixed(18, 0), r), beats, 16, 3)
    assert [v for b in got for v in b["data"]] == requantize(values, 37, 9, 8).tolist()


def test_join_names_both_streams_and_what_differs():
    m = Module()
    up = Narrow(8, 2, Fixed(18, 0))
    with pytest.raises(CompositionError) as caught:
        join(m, up.o, Requantize(2, Fixed(16, 0), Requant(out_bits=8)).i,
             ("narrow1.o", "requant1.i"))
    assert str(caught.value) == ("stream narrow1.o (2 x s18 + last) cannot feed requant1.i "
                                 "(2 x s16 + last): data: element widths 18 and 16 differ")
    with pytest.raises(CompositionError) as caught:
        join(m, up.o, Requantize(4, Fixed(18, 0), Requant(out_bits=8)).i,
             ("narrow1.o", "requant1.i"))
    assert str(caught.value) == ("stream narrow1.o (2 x s18 + last) cannot feed requant1.i "
                                 "(4 x s18 + last): data: lane counts 2 and 4 differ")


#: INT2 bit-serial, with biases on both linears (the accumulator-input ROMs).
SMALL_INT2 = FfnParams(rows=2, d_in=16, hidden=16, d_out=8, weight_format="int2",
                       weights_seed=12, out_lanes=2, requant1=Requant(mult=5, shift=6),
                       lut_tc=(("n", 4), ("g", 4), ("bit_serial", True)),
                       b1=[(-1) ** k * 37 * k for k in range(16)],
                       b2=[(-1) ** k * 401 * k for k in range(8)])


def test_ffn_int2_bit_exact_under_backpressure():
    rng = np.random.default_rng(31)
    jobs = [np.full((2, 16), 127), np.full((2, 16), -128)] + \
        [rng.integers(-128, 128, (2, 16)) for _ in range(4)]
    got, want, _monitors = run_ffn(SMALL_INT2, jobs, in_pauses=random_pauses(0.3, "in"),
                                   out_pauses=random_pauses(0.5, "out"))
    assert got == want
    _got, _want, monitors = run_ffn(SMALL_INT2, jobs[:1])
    first = monitors["top"]["o"].transfers[0] - monitors["top"]["i"].transfers[-1]
    assert first == FfnCore(SMALL_INT2).latency


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_ffn_examples_latency_cycles_and_busy_parts(name):
    """Jobs back to back at full rate (seed 77; the docs' figures are from seed 0): the first
    job's latency is the manifest's; in steady state a job takes the manifest's initiation
    interval and both GEMM blocks are busy every cycle, as docs/composition.md says."""
    p = EXAMPLES[name]
    rng = np.random.default_rng(77)
    jobs = [rng.integers(-128, 128, (p.rows, p.d_in)) for _ in range(7)]
    got, want, monitors = run_ffn(p, jobs)
    assert got == want
    core = FfnCore(p)
    first_out = monitors["top"]["o"].transfers[0]
    assert first_out - monitors["top"]["i"].transfers[p.in_beats - 1] == core.latency
    cycles, busy = busy_fractions(p, monitors, 3, 6)
    assert cycles == core.block_spec.initiation_interval == 128
    assert busy["linear1"] == busy["linear2"] == 1.0
    # The element-wise chain runs at the rate linear1 makes results: full for the ternary
    # example (GELU narrowed to 2 lanes), half for the INT2 one (2 lanes for 4 columns).
    expected = {"ffn_ternary": 1.0, "ffn_int2": 0.5}[name]
    for part in ("narrow1", "requant1", "gelu", "requant2", "hidden_buffer"):
        assert busy[part] == expected, (part, busy)


def test_input_bound_layer_runs_at_the_input_rate():
    """One feature a beat: the input (32 beats a job) is slower than linear1 (16 tile steps);
    the period is the input's, as the manifest's initiation interval says, and the latency
    is unchanged."""
    p = FfnParams(rows=2, d_in=16, hidden=16, d_out=8, in_lanes=1, out_lanes=2, weights_seed=5,
                  lut_tc=(("n", 4), ("g", 4), ("bit_serial", False), ("ternary_pairs", True)))
    rng = np.random.default_rng(13)
    jobs = [rng.integers(-128, 128, (p.rows, p.d_in)) for _ in range(6)]
    got, want, monitors = run_ffn(p, jobs)
    assert got == want
    cycles, busy = busy_fractions(p, monitors, 2, 5)
    core = FfnCore(p)
    assert cycles == core.block_spec.initiation_interval == p.in_beats == 32
    assert busy["in_buffer"] == 1.0 and busy["linear1"] == 0.5
    assert monitors["top"]["o"].transfers[0] - monitors["top"]["i"].transfers[31] == core.latency
