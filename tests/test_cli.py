"""The command line: outputs, --check, determinism, and one test per error message."""

import subprocess
import sys
import textwrap

import pytest

from generators.catalog import FAMILIES, DEFAULT_CATALOG
from generators.cli import main
from generators.emit import render
from generators.gelu.rtl import Gelu
from testbench.runner import REPO_ROOT

ONE = "gelu_int8"


def run(*argv):
    return main([str(a) for a in argv])


def write_config(tmp_path, text):
    path = tmp_path / "blocks.toml"
    path.write_text(textwrap.dedent(text))
    return path


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def error_of(capsys, *argv, status=2):
    assert run(*argv) == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.strip()


def test_build_only_writes_verilog_and_manifest(tmp_path, capsys):
    assert run("build", "--only", ONE, "--out", tmp_path) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{ONE}.json", f"{ONE}.v"]
    assert f"module {ONE}(" in (tmp_path / f"{ONE}.v").read_text()


def test_build_list(capsys):
    assert run("build", "--list") == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == [e.name for e in DEFAULT_CATALOG]


def test_committed_hdl_is_current(capsys):
    assert run("build", "--check", "--out", REPO_ROOT / "hdl") == 0


SMALL_CATALOG = tuple(entry for entry in DEFAULT_CATALOG
                      if entry.name in (ONE, "gelu_edge_moe_fitted"))


def test_check_reports_stale_and_leftover_files(tmp_path, capsys, monkeypatch):
    """Stale: a changed file, and the outputs of a removed entry; never the user's own files."""
    monkeypatch.setattr("generators.cli.DEFAULT_CATALOG", SMALL_CATALOG)
    removed = write_config(tmp_path, """
        [removed_block]
        family = "gelu"
    """)
    out = tmp_path / "out"
    assert run("build", "--out", out) == 0
    assert run("build", "--config", removed, "--out", out) == 0     # a partial build removes none
    (out / f"{ONE}.v").write_text("// edited by hand\n")
    (out / "notes.v").write_text("// the user's\n")
    (out / "settings.json").write_text('{"mine": true}\n')
    (out / "broken.json").write_bytes(b"\xff not json")
    capsys.readouterr()
    err = error_of(capsys, "build", "--check", "--out", out, status=1)
    assert err == (f"error: {out} is stale ({ONE}.v, removed_block.json, removed_block.v); "
                   f"run: python -m generators build")
    assert (out / f"{ONE}.v").read_text() == "// edited by hand\n"   # --check writes nothing
    assert run("build", "--out", out) == 0
    assert capsys.readouterr().out == \
        f"{out}: wrote 1 file, 3 unchanged, removed 2 left-over files (2 blocks)\n"
    assert sorted(snapshot(out)) == sorted(["broken.json", "notes.v", "settings.json"] + [
        f"{entry.name}{suffix}" for entry in SMALL_CATALOG for suffix in (".json", ".v")])
    assert run("build", "--check", "--out", out) == 0     # the user's files do not count


def test_build_says_what_it_wrote(tmp_path, capsys):
    assert run("build", "--only", ONE, "--out", tmp_path) == 0
    assert capsys.readouterr().out == f"{tmp_path}: wrote 2 files, 0 unchanged (1 block)\n"
    assert run("build", "--only", ONE, "--out", tmp_path) == 0
    assert capsys.readouterr().out == f"{tmp_path}: wrote 0 files, 2 unchanged (1 block)\n"


def test_output_is_deterministic_across_processes(tmp_path):
    """Two fresh interpreters (different hash seeds and folders) emit identical bytes."""
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        subprocess.run([sys.executable, "-m", "generators", "build", "--only", ONE,
                        "--only", "gelu_edge_moe_fitted", "--out", out],
                       check=True, cwd=tmp_path, capture_output=True,
                       env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO_ROOT),
                            "PATH": "/usr/bin:/bin"})
        outputs.append(snapshot(out))
    assert outputs[0] == outputs[1]
    assert str(tmp_path).encode() not in b"".join(outputs[0].values())


def test_manifest_describes_the_verilog(tmp_path):
    import hashlib
    import json

    entry = DEFAULT_CATALOG[0]
    files = render(entry)
    manifest = json.loads(files[f"{entry.name}.json"])
    assert manifest["verilog"]["sha256"] == hashlib.sha256(files[f"{entry.name}.v"]).hexdigest()
    ports = {p["name"]: (p["direction"], p["width"]) for p in manifest["ports"]}
    lanes, width = entry.params.lanes, entry.params.in_width
    assert ports["s_axis_tdata"] == ("input", lanes * width)
    assert ports["m_axis_tready"] == ("input", 1)
    element = manifest["streams"]["s_axis"]["fields"][0]
    assert {k: element[k] for k in ("name", "lanes", "signed", "width", "int_bits",
                                    "frac_bits")} == {
        "name": "data[]", "lanes": lanes, "signed": True, "width": width,
        "int_bits": width - entry.params.in_frac, "frac_bits": entry.params.in_frac}
    assert manifest["latency_cycles"] == Gelu.LATENCY and manifest["initiation_interval"] == 1


def test_user_config_builds_its_blocks(tmp_path, capsys):
    config = write_config(tmp_path, """
        [my_gelu]
        family = "gelu"
        method = "edge_moe"
        lanes = 3
        in_width = 10
        in_frac = 6
    """)
    assert run("build", "--config", config, "--out", tmp_path / "out") == 0
    assert sorted(snapshot(tmp_path / "out")) == ["my_gelu.json", "my_gelu.v"]


# --- bad input: one line, status 2, nothing written -------------------------------------------

BAD_CONFIGS = {
    "unknown parameter": ("""
        [g]
        family = "gelu"
        lane = 4
    """, "error: [g] gelu has no parameter 'lane'; did you mean 'lanes'? (parameters: lanes, "
         "in_width, in_frac, out_width, out_frac, rounding, method, table_frac, table_step_log2, "
         "table_entries, segments)"),
    "unknown family": ("""
        [g]
        family = "gelus"
    """, f"error: [g] family must be one of {', '.join(map(repr, FAMILIES))}, not 'gelus'; "
         f"did you mean 'gelu'?"),
    "missing family": ("""
        [g]
        lanes = 2
    """, f"error: [g] needs a family key (families: {', '.join(FAMILIES)})"),
    "out of range": ("""
        [g]
        family = "gelu"
        lanes = 17
    """, "error: [g] lanes must be between 1 and 16, not 17"),
    "wrong type": ("""
        [g]
        family = "gelu"
        lanes = "4"
    """, "error: [g] lanes must be an integer, not '4'"),
    "bad choice": ("""
        [g]
        family = "gelu"
        method = "edgemoe"
    """, "error: [g] method must be one of 'direct_table', 'edge_moe', 'fitted_pwl', "
         "'i_gelu', not 'edgemoe'; did you mean 'edge_moe'?"),
    "path escape": ("""
        ["../escape"]
        family = "gelu"
    """, "error: block name '../escape' is not allowed: use 1 to 63 lowercase letters, digits "
         "and underscores, starting with a letter"),
    "path separator": ("""
        ["sub/dir"]
        family = "gelu"
    """, "error: block name 'sub/dir' is not allowed: use 1 to 63 lowercase letters, digits "
         "and underscores, starting with a letter"),
    "bad toml": ("""
        [g]
        family = "gelu"
        lanes = = 4
    """, "error: blocks.toml: invalid TOML: Invalid value (at line 4, column 9)"),
    "empty": ("", "error: blocks.toml: no blocks defined (add a [name] table with a family)"),
    "not a table": ("""
        g = 3
    """, "error: [g] must be a table of parameters, not 3"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config(tmp_path, capsys, case):
    text, message = BAD_CONFIGS[case]
    out = tmp_path / "out"
    assert run("build", "--only", ONE, "--out", out) == 0      # something already there
    before = snapshot(out)
    capsys.readouterr()
    assert error_of(capsys, "build", "--config", write_config(tmp_path, text),
                    "--out", out) == message
    assert snapshot(out) == before


def test_error_in_a_later_block_writes_nothing(tmp_path, capsys):
    config = write_config(tmp_path, """
        [good]
        family = "gelu"
        [bad]
        family = "gelu"
        in_width = 40
    """)
    out = tmp_path / "out"
    assert error_of(capsys, "build", "--config", config, "--out", out) == \
        "error: [bad] in_width must be between 8 and 32, not 40"
    assert not out.exists()


def test_softmax_ibert_table_bound(tmp_path, capsys):
    config = write_config(tmp_path, """
        [s]
        family = "softmax"
        method = "ibert"
        in_width = 20
        in_frac = 16
    """)
    assert error_of(capsys, "build", "--config", config, "--out", tmp_path / "out") == \
        "error: [s] in_frac must be at most 12 with method 'ibert' (its i-exp table has " \
        "0.69 * 2**in_frac entries), not 16"
    assert not (tmp_path / "out").exists()


def test_unknown_block(capsys):
    assert error_of(capsys, "build", "--only", "gelu_int9") == \
        "error: no block named 'gelu_int9'; did you mean 'gelu_int8'? (see --list)"


def test_missing_config(tmp_path, capsys):
    assert error_of(capsys, "build", "--config", tmp_path / "nope.toml") == \
        f"error: cannot read config '{tmp_path / 'nope.toml'}': No such file or directory"


def test_out_is_a_file(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("keep")
    for verb in ("build", "synth"):
        assert error_of(capsys, verb, "--only", ONE, "--out", target) == \
            f"error: --out must be a folder, not the file '{target}'"
    assert target.read_text() == "keep"


def test_out_below_a_file(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("keep")
    for verb in ("build", "synth"):
        assert error_of(capsys, verb, "--only", ONE, "--out", target / "sub" / "dir") == \
            f"error: --out must be a folder, not below the file '{target}'"
    assert target.read_text() == "keep"


def test_read_only_out(tmp_path, capsys, monkeypatch):
    """We run as root, so the refusal of a read-only folder is simulated where it happens."""
    import errno
    import tempfile

    def refused(*args, prefix="", suffix="", dir=None, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", f"{dir}/{prefix}x{suffix}")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    out = tmp_path / "out"
    assert error_of(capsys, "build", "--only", ONE, "--out", out) == \
        f"error: cannot use '{out}': Permission denied"
    assert snapshot(out) == {}


def test_unreadable_file_in_check(tmp_path, capsys, monkeypatch):
    import errno
    import pathlib

    assert run("build", "--only", ONE, "--out", tmp_path) == 0
    read_bytes = pathlib.Path.read_bytes

    def guarded(path):
        if path.name == f"{ONE}.v":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(pathlib.Path, "read_bytes", guarded)
    assert error_of(capsys, "build", "--check", "--only", ONE, "--out", tmp_path) == \
        f"error: cannot use '{tmp_path / (ONE + '.v')}': Permission denied"


def test_list_and_check_together_are_refused(capsys):
    assert error_of(capsys, "build", "--list", "--check") == \
        "error: argument --check: not allowed with argument --list (see python -m generators " \
        "build --help)"


def test_duplicate_target_gives_one_row_each(monkeypatch, capsys):
    import fpga.ooc

    asked = []
    monkeypatch.setattr(fpga.ooc, "synth_entries",
                        lambda entries, targets, out: asked.append(targets) or [])
    monkeypatch.setattr(fpga.ooc, "write_synth_reports", lambda rows, out: None)
    assert run("synth", "--only", ONE, "--target", "ice40-up5k", "--target", "ecp5-85f",
               "--target", "ice40-up5k") == 0
    assert asked == [["ice40-up5k", "ecp5-85f"]]


def test_ctrl_c_in_a_verb_is_one_line(monkeypatch, capsys):
    import fpga.ooc

    def interrupted(entries, targets, out):
        raise KeyboardInterrupt

    monkeypatch.setattr(fpga.ooc, "synth_entries", interrupted)
    try:
        assert error_of(capsys, "synth", "--only", ONE, status=130) == "error: interrupted"
    except KeyboardInterrupt:       # escaping, it would stop the whole test session
        pytest.fail("KeyboardInterrupt escaped main")


def test_without_the_dependencies_one_line(tmp_path):
    """python3 -m generators outside the virtualenv (-S: no site-packages, so no numpy)."""
    result = subprocess.run([sys.executable, "-S", "-m", "generators", "build"],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: the Python module 'numpy' is missing from ")
    assert 'python3 -m venv .venv && .venv/bin/pip install -e ".[dev]"' in result.stderr


def test_unknown_synth_target(capsys):
    assert error_of(capsys, "synth", "--only", ONE, "--target", "ice40") == \
        "error: --target must be one of 'ecp5-85f', 'ice40-up5k', not 'ice40'"


def test_unknown_option(capsys):
    assert error_of(capsys, "build", "--lanes", "3") == \
        "error: unrecognized arguments: --lanes 3 (see python -m generators --help)"


def test_process_exit_status_and_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "generators", "build", "--only", "nope"],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_help_for_every_verb():
    for verb in ("build", "synth", "report"):
        result = subprocess.run([sys.executable, "-m", "generators", verb, "--help"],
                                cwd=REPO_ROOT, capture_output=True, text=True)
        assert result.returncode == 0 and "--only" in result.stdout


def test_every_layer_registers_its_verbs():
    """Core verbs from the table, the others from the installed entry points."""
    from generators.cli import registered_verbs

    verbs, options = registered_verbs()
    assert list(verbs)[:1] == ["build"]
    assert {"synth", "bitstream", "baseline", "bridge", "report"} <= set(verbs)
    owners = {name: verb.run.__module__ for name, verb in verbs.items()}
    assert {owners[name] for name in ("synth", "bitstream", "baseline", "bridge")} == {"fpga.cli"}
    assert owners["report"] == "scripts.cli"
    assert [(o.verb, o.after.__module__) for o in options] == [("bitstream", "scripts.cli")]


def test_uninstalled_checkout_says_how_to_get_the_other_verbs(monkeypatch, capsys):
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [])
    assert error_of(capsys, "synth", "--only", ONE) == (
        "error: argument {build,params}: invalid choice: 'synth' (choose from 'build', "
        "'params'); the verbs of "
        "fpga/ and scripts/ (synth, bitstream, report, ...) register when the package is "
        "installed: pip install -e '.[dev]' (see python -m generators --help)")
