"""Faults during emission: kill -9 and Ctrl-C in the write phase, concurrent builds, modes.

The kill and interrupt tests run ``python -m generators build`` in a subprocess with the test hook
``MLHW_SLOW_WRITE`` (seconds before each step of the write phase, read by emit.py only), so the
moments they hit are spread over the whole phase rather than left to chance.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from generators import emit
from generators.cli import main
from generators.emit import JOURNAL, TEMP_SUFFIX, build_folder, recover, write_atomic
from testbench.runner import REPO_ROOT

NAMES = ("ga", "gb", "gc")
STEP = 0.05     # MLHW_SLOW_WRITE of the kill tests: 13 steps for 3 pairs, about 0.7 s


def config(tmp_path, in_frac):
    """Three small GELU blocks; a different ``in_frac`` changes every file."""
    path = tmp_path / f"blocks{in_frac}.toml"
    path.write_text("".join(textwrap.dedent(f"""
        [{name}]
        family = "gelu"
        method = "i_gelu"
        lanes = {lanes}
        in_width = 8
        in_frac = {in_frac}
    """) for lanes, name in enumerate(NAMES, 1)))
    return path


def start_build(config_path, out, slow=STEP):
    env = {**os.environ, "MLHW_SLOW_WRITE": str(slow), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-m", "generators", "build", "--config",
                             str(config_path), "--out", str(out)],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(predicate, process, timeout=60):
    """Poll until ``predicate()``; fail if ``process`` ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the write phase never started"
        time.sleep(0.002)


def temps(out):
    return sorted(p.name for p in out.iterdir() if p.name.endswith(TEMP_SUFFIX))


def mismatched_pairs(out):
    """Names whose manifest's sha256 is not that of the Verilog beside it."""
    bad = []
    for name in NAMES:
        described = json.loads((out / f"{name}.json").read_bytes())
        verilog = (out / described["verilog"]["file"]).read_bytes()
        if described["verilog"]["sha256"] != hashlib.sha256(verilog).hexdigest():
            bad.append(name)
    return bad


def pending(out):
    """Target names of the journal's pending renames ({} without a journal)."""
    if not (out / JOURNAL).exists():
        return set()
    return {name for _temp, name in json.loads((out / JOURNAL).read_bytes())["replace"]}


def kill_at_moments(tmp_path, moments):
    """For each moment, a build into its own folder (holding the other config's output) is
    ``kill -9``-ed that many seconds into its write phase; the runs go in parallel, the timing
    being the hook's sleeps. Then each folder is checked, recovered as the next run would, and
    every pair must match. Returns how many kills landed while a journal was present."""
    configs = {4: config(tmp_path, 4), 5: config(tmp_path, 5)}
    first = tmp_path / "first"
    assert main(["build", "--config", str(configs[4]), "--out", str(first)]) == 0
    folders = [tmp_path / f"out{index}" for index in range(len(moments))]
    for out in folders:
        shutil.copytree(first, out)
    processes = [start_build(configs[5], out) for out in folders]
    started = [None] * len(folders)
    while any(process.returncode is None for process in processes):
        for index, (process, out, moment) in enumerate(zip(processes, folders, moments)):
            if process.returncode is not None:
                continue
            if process.poll() is not None:      # finished before its moment
                assert process.communicate()[1] == "" and process.returncode == 0
                continue
            if started[index] is None and temps(out):
                started[index] = time.monotonic()
            if started[index] is not None and time.monotonic() - started[index] >= moment:
                process.send_signal(signal.SIGKILL)
                process.communicate()
        time.sleep(0.002)
    journals = 0
    for out, moment in zip(folders, moments):
        # Before recovery a pair may disagree only if the journal names it: it is being written.
        names = pending(out)
        journals += bool(names)
        for name in mismatched_pairs(out):
            assert {f"{name}.v", f"{name}.json"} <= names, (moment, name)
        recover(out)        # what the next build or build --check does first
        assert mismatched_pairs(out) == [], moment
        assert temps(out) == [] and not (out / JOURNAL).exists()
    return journals


def test_kill_during_the_write_phase_leaves_every_pair_matching(tmp_path):
    # Before the journal, during the renames (three times), and at the end of the phase.
    journals = kill_at_moments(tmp_path, [0.1, 0.45, 0.55, 0.65, 0.9])
    assert journals >= 1, "no kill landed during the renames: the test missed the window"


@pytest.mark.slow
def test_kill_at_many_moments(tmp_path):
    moments = [i * STEP * 0.7 for i in range(24)]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert kill_at_moments(tmp_path / "a", moments[:12]) + \
        kill_at_moments(tmp_path / "b", moments[12:]) >= 4


def test_next_build_removes_temp_files_and_keeps_the_users(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / f".ga.v.k3j2x9{TEMP_SUFFIX}").write_bytes(b"truncated")   # a killed run's
    (out / ".notes").write_text("mine")
    (out / "notes.v").write_text("// mine")
    assert main(["build", "--config", str(config(tmp_path, 4)), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".notes", "notes.v"] + [f"{n}{s}" for n in NAMES for s in (".json", ".v")])


def test_check_rolls_an_interrupted_write_forward(tmp_path, capsys):
    """A journal left by a kill is finished by build --check, which then finds the folder
    current (the write was decided)."""
    out = tmp_path / "out"
    blocks = config(tmp_path, 4)
    assert main(["build", "--config", str(blocks), "--out", str(out)]) == 0
    fresh = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["build", "--config", str(config(tmp_path, 5)), "--out", str(out)]) == 0
    # Stage the state a kill between two renames leaves: ga's Verilog renamed, not its manifest.
    (out / "ga.v").write_bytes(fresh["ga.v"])
    for name in ("ga.json", "gb.v", "gb.json", "gc.v", "gc.json"):
        (out / f".{name}.x{TEMP_SUFFIX}").write_bytes(fresh[name])
    journal = {"replace": [[f".{name}.x{TEMP_SUFFIX}", name] for name in
                           ("ga.json", "gb.v", "gb.json", "gc.v", "gc.json")], "remove": []}
    (out / JOURNAL).write_text(json.dumps(journal))
    assert mismatched_pairs(out) == ["ga"]
    capsys.readouterr()
    assert main(["build", "--check", "--config", str(blocks), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"{out}: 6 files up to date\n"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == fresh


def test_ctrl_c_in_the_write_phase(tmp_path):
    """SIGINT before the journal: nothing changes; after it: the write completes. Either way
    exit 130, one line, no temporary file, every pair matching."""
    out = tmp_path / "out"
    configs = [config(tmp_path, 4), config(tmp_path, 5)]
    assert main(["build", "--config", str(configs[0]), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    for when, started in (("temps", lambda: temps(out)),
                          ("renames", lambda: (out / JOURNAL).exists())):
        process = start_build(configs[1], out, slow=0.1)
        wait_for(started, process)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        assert (process.returncode, stderr) == (130, "error: interrupted\n"), when
        assert temps(out) == [] and not (out / JOURNAL).exists(), when
        assert mismatched_pairs(out) == [], when
        after = {p.name: p.read_bytes() for p in out.iterdir()}
        if when == "temps":
            assert after == before
        else:
            assert set(after) == set(before)
            assert all(after[name] != before[name] for name in after), "write not completed"


def test_ctrl_c_while_rendering_is_one_line(tmp_path, monkeypatch, capsys):
    def interrupted(entry):
        raise KeyboardInterrupt

    monkeypatch.setattr(emit, "render", interrupted)
    try:
        assert main(["build", "--config", str(config(tmp_path, 4)), "--out",
                     str(tmp_path / "out")]) == 130
    except KeyboardInterrupt:       # escaping, it would stop the whole test session
        pytest.fail("KeyboardInterrupt escaped main")
    assert capsys.readouterr().err == "error: interrupted\n"
    assert not (tmp_path / "out").exists()


def test_concurrent_builds_serialise(tmp_path):
    """A build into a folder another build holds waits, saying so, and then writes."""
    out = tmp_path / "out"
    out.mkdir()
    with build_folder(out):
        process = start_build(config(tmp_path, 4), out, slow=0)
        line = process.stderr.readline()        # blocks until the build has to wait
        assert line == f"waiting for another build of {out}\n"
        time.sleep(0.5)
        assert process.poll() is None and list(out.iterdir()) == []
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0 and stderr == ""
    assert stdout == f"{out}: wrote 6 files, 0 unchanged (3 blocks)\n"
    assert mismatched_pairs(out) == []


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_files_keep_the_umask(tmp_path, capsys, umask, mode):
    previous = os.umask(umask)
    try:
        assert main(["build", "--config", str(config(tmp_path, 4)), "--out",
                     str(tmp_path / "out")]) == 0
        write_atomic(tmp_path / "report.md", b"table\n")
    finally:
        os.umask(previous)
    for path in [*(tmp_path / "out").iterdir(), tmp_path / "report.md"]:
        assert path.stat().st_mode & 0o777 == mode, path


def test_write_atomic_fsyncs_the_file_and_the_folder(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.path.isdir(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    assert write_atomic(tmp_path / "a.txt", b"one\n") is True
    assert synced == [False, True]          # the file's data, then the rename in its folder
    assert write_atomic(tmp_path / "a.txt", b"one\n") is False   # unchanged: not touched
    assert synced == [False, True]


# --- synth: results replaced whole, never removed first ---------------------------------------

FAKE_STAT = {"creator": "Yosys 0.70 (git sha1 abc123, Release)",
             "design": {"num_cells_by_type": {"SB_LUT4": 3, "SB_DFF": 2}}}
FAKE_REPORT = {"utilization": {name: {"used": 0} for name in
                               ("ICESTORM_LC", "ICESTORM_DSP", "ICESTORM_RAM", "ICESTORM_SPRAM")},
               "fmax": {"aclk": {"achieved": 99.0}}}


def fake_tools(monkeypatch, fail_nextpnr=None):
    """Replace yosys and nextpnr by writers of their output files (in the folder they run in);
    ``fail_nextpnr``, an exception, is raised instead of nextpnr's run."""
    import fpga.ooc

    def run(tool, args, cwd, log, log_home=None):
        if "yosys" in tool:
            (cwd / "stat.json").write_text(json.dumps(FAKE_STAT))
            (cwd / "synth.json").write_text("{}")
            (cwd / "pnr.json").write_text("{}")
        elif fail_nextpnr is not None:
            raise fail_nextpnr
        else:
            (cwd / "report.json").write_text(json.dumps(FAKE_REPORT))
        (cwd / log).write_text(f"{tool} ran\n")

    monkeypatch.setattr(fpga.ooc, "_run", run)
    monkeypatch.setattr(fpga.ooc, "_nextpnr_version", lambda tool: "nextpnr-test")


def test_interrupted_synth_keeps_the_last_results(tmp_path, monkeypatch):
    from fpga.ooc import STAGING, synthesize

    source = tmp_path / "top.v"
    source.write_text("module top(input aclk); endmodule\n")
    work = tmp_path / "work"
    fake_tools(monkeypatch)
    first = synthesize(source, "top", "ice40-up5k", work)
    assert first["lut"] == 3 and first["fmax_mhz"] == 99.0
    before = {p.name: p.read_bytes() for p in work.iterdir()}
    assert {"top.v", "synth.json", "stat.json", "report.json", "yosys.log",
            "nextpnr.log"} <= set(before) and STAGING not in before

    fake_tools(monkeypatch, fail_nextpnr=KeyboardInterrupt())
    source.write_text("module top(input aclk, input a); endmodule\n")
    with pytest.raises(KeyboardInterrupt):
        synthesize(source, "top", "ice40-up5k", work)
    after = {p.name: p.read_bytes() for p in work.iterdir() if p.name != STAGING}
    assert after == before      # the report and everything beside it still agree

    fake_tools(monkeypatch)
    assert synthesize(source, "top", "ice40-up5k", work) == first
    assert (work / "top.v").read_text() == source.read_text()
    assert not (work / STAGING).exists()


def test_synth_entries_writes_the_verilog_atomically(tmp_path, monkeypatch):
    import fpga.ooc
    from generators.catalog import DEFAULT_CATALOG

    written = []
    monkeypatch.setattr(fpga.ooc, "write_atomic",
                        lambda path, content: written.append(path) or path.write_bytes(content))
    fake_tools(monkeypatch)
    entry = next(entry for entry in DEFAULT_CATALOG if entry.name == "gelu_int8")
    rows = fpga.ooc.synth_entries([entry], ["ice40-up5k"], tmp_path)
    assert [row["lut"] for row in rows] == [3]
    assert written == [tmp_path / "gelu_int8" / "gelu_int8.v"]
