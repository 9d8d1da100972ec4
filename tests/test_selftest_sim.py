"""The self-test top in simulation: tier 1 (Amaranth: UART, vectors, refusals) and tier 2
(cocotb + Verilator on its Verilog: PASS for a correct block, FAIL for a corrupted ROM)."""

import hashlib
import json
from types import SimpleNamespace

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from fpga.selftest import SelfTest, UartTx, check_supported, make_vectors, summary_text
from generators.catalog import DEFAULT_CATALOG
from generators.emit import write_atomic
from generators.params import ParamValueError
from generators.simkit import StreamMonitor, monitor_streams, stream_put
from testbench.runner import REPO_ROOT, run_cocotb

CATALOG = {e.name: e for e in DEFAULT_CATALOG}
DIVISOR = 8


def test_uart_tx_sends_8n1_lsb_first():
    dut = UartTx(4)
    sent = []

    async def bench(ctx):
        for byte in (0x55, 0xA3):
            await stream_put(ctx, dut.i, byte)
            bits = []
            for _ in range(10 * 4 + 2):
                await ctx.tick()
                bits.append(ctx.get(dut.tx))
            sent.append(bits)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    monitor_streams(sim, dut)
    sim.add_testbench(bench)
    sim.run()
    for byte, bits in zip((0x55, 0xA3), sent):
        start = bits.index(0)
        frame = [bits[start + 4 * k + 2] for k in range(10)]    # mid-bit samples
        assert frame == [0, *((byte >> k) & 1 for k in range(8)), 1], (hex(byte), bits)


def test_vectors_are_the_golden_model():
    entry = CATALOG["softmax_int8"]
    core = check_supported(entry)
    vec = make_vectors(entry, core, beats=40, seed=3)
    assert vec.beats == 40 and sum(len(x) for x, _ in vec.frames) == 40 * 4
    from generators.softmax.model import softmax
    for (x, mask), y in zip(vec.frames, vec.expected):
        assert list(y) == [int(v) for v in softmax(entry.params, x, mask)]
    bad = make_vectors(entry, core, beats=40, seed=3, corrupt=True)
    assert [a ^ b for a, b in zip(vec.out_words, bad.out_words)].count(1) == 1
    assert bad.in_words == vec.in_words


def test_refuses_unknown_family():
    entry = SimpleNamespace(name="gelu_int8", params=SimpleNamespace(family="lut_tensor"))
    with pytest.raises(ParamValueError, match=r"^gelu_int8: the self-test supports the families "
                       r"'gelu', 'softmax', 'deform', 'lut_tc', 'sparse_dsp', not 'lut_tensor' "
                       r"\(it needs the golden model of one frame: the frame_model of the "
                       r"family's descriptor\)$"):
        check_supported(entry)


def test_refuses_other_stream_shapes():
    class TwoInputs(wiring.Component):
        i: In(stream.Signature(8))
        w: In(stream.Signature(8))
        o: Out(stream.Signature(8))

        def elaborate(self, platform):
            return Module()

    core = TwoInputs()
    core._MustUse__silence = True       # built only to be refused
    with pytest.raises(ParamValueError, match=r"^gelu_int8: the self-test needs exactly one input "
                       r"stream 'i' and one output stream 'o', not \{'i': 'in', 'w': 'in', "
                       r"'o': 'out'\}$"):
        check_supported(CATALOG["gelu_int8"], core)


def test_summary_grammar():
    assert summary_text("gelu_int8", False, 10, 3, 1, 64, 64) == \
        "gelu_int8 FAIL run=000A traffic=3 errors=0001 beats=0040/0040\r\n"


def _simulate(name, beats, corrupt, runs=4, expect=None):
    entry = CATALOG[name]
    top = SelfTest(entry, divisor=DIVISOR, pause_cycles=64, watchdog_cycles=2048, beats=beats,
                   corrupt=corrupt)
    module = f"selftest_{name}"
    text = verilog.convert(top, name=module, emit_src=False).encode()
    digest = hashlib.sha256(text).hexdigest()[:10]
    case = REPO_ROOT / "build" / "selftest" / f"{module}-{digest}"
    write_atomic(case / f"{module}.v", text)
    params = {"entry": name, "divisor": DIVISOR, "beats": top.vectors.out_beats, "runs": runs,
              "expect": expect or ("FAIL" if corrupt else "PASS")}
    run_cocotb(verilog_sources=[case / f"{module}.v"], toplevel=module,
               test_module="testbench.selftest_tb", build_dir=case / "sim",
               params_json=json.dumps(params), timeout_s=600)


def test_selftest_top_gelu_passes_and_the_check_can_fail():
    _simulate("gelu_int8", 64, corrupt=False)
    # The same top judged as if its ROM were corrupted must fail: the checks are not vacuous.
    with pytest.raises(AssertionError, match=r"run 1: 'gelu_int8 PASS run=0001"):
        _simulate("gelu_int8", 64, corrupt=False, runs=1, expect="FAIL")


def test_selftest_top_gelu_fails_for_corrupted_expected_rom():
    _simulate("gelu_int8", 64, corrupt=True)


@pytest.mark.slow      # a third Verilator build (~30 s); gelu covers the default suite
def test_selftest_top_softmax():
    _simulate("softmax_int8", 48, corrupt=False)


#: One entry per multi-stream family, the one its board row uses.
MULTI_STREAM = ["sparse_dsp_l8_m4", "lut_tc_binary", "deform_dw_square_tiny"]


@pytest.mark.slow      # two Verilator builds each; the Amaranth runs below cover the default suite
@pytest.mark.parametrize("name", MULTI_STREAM)
def test_selftest_top_multi_stream_verilog(name):
    _simulate(name, 24, corrupt=False, runs=8)
    _simulate(name, 24, corrupt=True, runs=2)


def _amaranth_runs(name, corrupt, runs=8, beats=24):
    """Amaranth simulation of ``runs`` runs (every traffic pattern, the late stream included):
    (passed, failed) LEDs after each, and the streams' monitors."""
    top = SelfTest(CATALOG[name], divisor=2, pause_cycles=16, watchdog_cycles=2048,
                   beats=beats, corrupt=corrupt)
    sim = Simulator(top)
    sim.add_clock(1e-6)
    monitors = {member: StreamMonitor(getattr(top.core, member), member).attach(sim)
                for member in [*top.vectors.inputs, *top.vectors.outputs]}
    leds = []

    async def bench(ctx):
        for run in range(1, runs + 1):
            await ctx.tick().until(top.runs >= run)
            leds.append((ctx.get(top.passed), ctx.get(top.failed)))

    sim.add_testbench(bench)
    sim.run()
    return top, leds, monitors


@pytest.mark.parametrize("name", MULTI_STREAM)
def test_selftest_multi_stream_passes_and_fails(name):
    """Every input stream from its own ROM, each output checked: eight runs (four traffic
    patterns, each with and without a late last stream) pass and the sources obey the stream
    rules; with one expected word corrupted every run fails."""
    top, leds, monitors = _amaranth_runs(name, corrupt=False)
    assert len(top.vectors.inputs) >= 2, top.vectors.inputs
    assert leds == [(1, 0)] * 8, leds
    for member, monitor in monitors.items():
        words = {**top.vectors.inputs, **top.vectors.outputs}[member]
        assert len(monitor.transfers) == 8 * len(words), (member, len(monitor.transfers))
    assert max(monitors[m].stalls for m in top.vectors.inputs) > 0
    _top, leds, _ = _amaranth_runs(name, corrupt=True, runs=2)
    assert leds == [(0, 1)] * 2, leds


def test_source_obeys_the_stream_rules():
    """Amaranth simulation of four runs (every traffic pattern): the ROM source into the block
    holds valid and its payload while stalled (stalls really occur), and every run passes."""
    top = SelfTest(CATALOG["gelu_int8"], divisor=2, pause_cycles=16, watchdog_cycles=512,
                   beats=32)
    sim = Simulator(top)
    sim.add_clock(1e-6)
    source = StreamMonitor(top.core.i, "core.i").attach(sim)
    sink = StreamMonitor(top.core.o, "core.o").attach(sim)

    async def bench(ctx):
        await ctx.tick().until(top.runs >= 4)
        assert ctx.get(top.passed) and not ctx.get(top.failed)

    sim.add_testbench(bench)
    sim.run()
    assert source.stalls > 10, source.stalls
    assert len(sink.transfers) >= 4 * 32
