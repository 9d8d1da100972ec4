"""Self-tests of the cocotb harness (testbench/runner.py + testbench/axis.py) on a hand-written
DUT."""

import json
import re
from pathlib import Path

import pytest

from testbench.runner import LINT_WAIVERS, REPO_ROOT, lint, run_cocotb

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "axis_passthrough.v"
PARAMS = {"lanes": 4, "width": 8}


@pytest.fixture
def build_dir(request) -> Path:
    """Stable per-test build dir (build/<node id>) so reruns reuse the Verilator build; unique per
    test so pytest-xdist workers never share one."""
    return REPO_ROOT / "build" / re.sub(r"[^\w.-]+", "_", request.node.nodeid)


def run(build_dir, testcase=None, waves=False, **params):
    params = {**PARAMS, **params}
    run_cocotb(verilog_sources=[FIXTURE], toplevel="axis_passthrough",
               test_module="testbench.selftest_passthrough", build_dir=build_dir,
               params_json=json.dumps(params),
               parameters={"LANES": params["lanes"], "W": params["width"]},
               waves=waves, testcase=testcase, timeout_s=300)


# 4x8: bytes (cocotbext-axi's bytearray path); 16x12: wide bus of non-byte lanes like real blocks.
@pytest.mark.parametrize("lanes,width", [(4, 8), (16, 12)])
def test_passthrough(build_dir, lanes, width):
    run(build_dir, lanes=lanes, width=width)


def test_scoreboard_catches_wrong_expectation(build_dir):
    with pytest.raises(AssertionError, match=r"test_directed_and_random.*frame 1 element 3 "
                                             r".*expected=-126 got=-127"):
        run(build_dir, testcase="test_directed_and_random", corrupt=True)


def test_waves_fst(build_dir):
    (build_dir / "dump.fst").unlink(missing_ok=True)
    run(build_dir, testcase="test_directed_and_random", waves=True)
    fst = (build_dir / "dump.fst").read_bytes()
    assert len(fst) > 1000 and fst[0] == 0, "expected an FST file (starts with header block type 0)"


def test_lint_waivers_cover_amaranth_output(tmp_path):
    """The waivers are exactly what Amaranth 0.5 output needs: lint passes with them, fails
    without."""
    from amaranth import Array, Module, Mux, Signal, signed
    from amaranth.back import verilog
    from amaranth.lib import memory, wiring
    from amaranth.lib.wiring import In, Out

    class Sample(wiring.Component):
        a: In(signed(8))
        b: In(5)
        sel: In(2)
        y: Out(signed(12))
        q: Out(8)
        busy: Out(1)

        def elaborate(self, platform):
            m = Module()
            m.submodules.mem = mem = memory.Memory(shape=8, depth=12, init=range(12))
            rd, wr = mem.read_port(), mem.write_port()
            acc, regs = Signal(signed(20)), Array(Signal(8) for _ in range(3))
            m.d.comb += [wr.addr.eq(self.b), wr.data.eq(self.a), wr.en.eq(1),
                         rd.addr.eq(self.b + 1), self.q.eq(rd.data ^ regs[self.sel]),
                         self.y.eq(Mux(acc < 0, -acc, acc // 3))]
            m.d.sync += [acc.eq(acc + self.a * self.b), regs[self.sel].eq(self.a)]
            with m.FSM():
                with m.State("IDLE"):
                    with m.If(self.sel == 3):
                        m.next = "RUN"
                with m.State("RUN"):
                    m.d.comb += self.busy.eq(1)
                    m.next = "IDLE"
            return m

    src = tmp_path / "sample.v"
    src.write_text(verilog.convert(Sample(), name="sample", emit_src=False))
    lint([src], "sample")
    for waiver in LINT_WAIVERS:  # each waiver is needed: re-enabling it alone fails lint
        with pytest.raises(AssertionError, match=waiver.removeprefix("-Wno-")):
            lint([src], "sample", extra_args=[waiver.replace("-Wno-", "-Wwarn-")])
