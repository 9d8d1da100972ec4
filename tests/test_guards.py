"""The resource guards refuse blow-up configs in one line, before any elaboration, and the
per-family estimates are upper bounds on the real Verilog, not far above it."""

import time

import pytest

from generators import guards
from generators.catalog import DEFAULT_CATALOG, entry_from_table
from generators.cli import main
from generators.emit import render
from testbench.runner import REPO_ROOT

#: The configs the issue found: minutes to a MemoryError, and 125 MB of Verilog.
BLOW_UPS = {
    "deform": ('family = "deform"\nh_max = 4096\nw_max = 4096\nc_max = 1024',
               ["294 MB of Verilog (limit 20 MB)", "336 Mbit of memory",
                "line buffer 10485760 words x 32 bit"]),
    "sparse_dsp": ('family = "sparse_dsp"\nlanes = 32\nmax_k = 65536',
                   ["130 MB of Verilog (limit 20 MB)", "32 lane buffers x 131072 words x 8 bit"]),
    # Small Verilog, but its adder trees take minutes to elaborate.
    "lut_tc": ('family = "lut_tc"\nm = 8\nn = 64\nweight_format = "int4"\nbit_serial = false\n'
               'act_width = 16\nmax_k = 4096', ["to elaborate (limit 60 s)"]),
}

#: How far above the real Verilog the estimates may be: the largest ratio on the population they
#: were fitted on (catalog, and ladders of growing configs per family) was 2.1.
BYTES_FACTOR = 2.5
#: The elaboration proxy, on a shared 2-core machine: within these factors of the measured time.
SECONDS_FACTORS = (0.5, 8.0)


def _run(tmp_path, capsys, body, *extra):
    config = tmp_path / "blocks.toml"
    config.write_text(f"[a]\n{body}\n", encoding="utf-8")
    out = tmp_path / "out"
    status = main(["build", "--config", str(config), "--out", str(out), *extra])
    captured = capsys.readouterr()
    return status, captured, out


@pytest.mark.parametrize("family", BLOW_UPS)
def test_blow_ups_refused_in_one_line_with_figures(family, tmp_path, capsys):
    body, figures = BLOW_UPS[family]
    start = time.perf_counter()
    status, captured, out = _run(tmp_path, capsys, body)
    elapsed = time.perf_counter() - start
    assert status == 2 and captured.out == "" and captured.err.count("\n") == 1, captured
    line = captured.err
    assert line.startswith("error: [a] would ") and line.endswith(
        "; pass --force to build it anyway\n"), line
    for figure in figures:
        assert figure in line, line
    assert not out.exists()
    assert elapsed < 5, f"refused after {elapsed:.1f} s"


def test_refusal_does_not_elaborate(monkeypatch):
    """The guard runs before the core is built: a refused entry never reaches Amaranth."""
    entry = entry_from_table("a", {"family": "sparse_dsp", "lanes": 32, "max_k": 65536})
    monkeypatch.setattr(type(entry.family), "core", lambda *_: pytest.fail("elaborated"))
    start = time.perf_counter()
    with pytest.raises(guards.ResourceError, match=r"^\[a\] would emit about 130 MB"):
        guards.check(entry)
    assert time.perf_counter() - start < 0.5


def test_force_builds_a_block_over_a_limit(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(guards, "LIMITS", guards.Limits(verilog_bytes=50_000))
    body = 'family = "gelu"\nlanes = 4'           # estimated 114 kB, about 89 kB in fact
    status, captured, out = _run(tmp_path, capsys, body)
    assert status == 2 and captured.err == (
        "error: [a] would emit about 114 kB of Verilog (limit 50 kB); memory: 8 ROMs x 89 words "
        "x 18 bit; pass --force to build it anyway\n")
    assert not out.exists()
    status, captured, out = _run(tmp_path, capsys, body, "--force")
    assert status == 0, captured
    assert (out / "a.v").stat().st_size > 50_000 and (out / "a.json").is_file()


def test_every_figure_over_its_limit_is_named(monkeypatch):
    entry = entry_from_table("a", {"family": "softmax", "lanes": 4})
    tight = guards.Limits(verilog_bytes=1, memory_bits=1, elaboration_seconds=0.1)
    with pytest.raises(guards.ResourceError) as raised:
        guards.check(entry, tight)
    message = str(raised.value)
    assert "emit about" in message and "of memory (limit 1 bit)" in message
    assert "to elaborate (limit 0 s)" in message and "logit ring 128 words x 36 bit" in message


def test_catalog_within_the_limits(capsys):
    estimates = [guards.check(entry) for entry in DEFAULT_CATALOG]
    assert max(e.verilog_bytes for e in estimates) < guards.LIMITS.verilog_bytes / 10
    assert main(["build", "--list"]) == 0
    assert capsys.readouterr().out.count("\n") == len(DEFAULT_CATALOG)


def test_init_line_bytes_matches_yosys():
    # Lines of hdl/: "    lbuf[0] = 32'd0;", "    ring[0] = 36'h000000000;"
    assert guards.init_line_bytes("lbuf", 1, 32) == len("    lbuf[0] = 32'd0;\n")
    assert guards.init_line_bytes("ring", 1, 36) == len("    ring[0] = 36'h000000000;\n")
    assert guards.init_line_bytes("rom", 1, 14, zero=False) == len("    rom[0] = 14'h0001;\n")


@pytest.mark.parametrize("entry", DEFAULT_CATALOG, ids=lambda entry: entry.name)
def test_catalog_estimate_bounds_its_verilog(entry):
    """The catalog's Verilog is in hdl/: the estimate is at least its size and within the
    factor."""
    actual = (REPO_ROOT / "hdl" / f"{entry.name}.v").stat().st_size
    estimated = entry.family.estimate(entry.params).verilog_bytes
    assert actual <= estimated <= BYTES_FACTOR * actual, (actual, estimated)


#: Configs the estimates were not fitted on, one or two per family, a few seconds each.
HELD_OUT = [
    {"family": "gelu", "method": "edge_moe", "lanes": 8},
    {"family": "gelu", "method": "i_gelu", "lanes": 8, "in_width": 24, "in_frac": 16},
    {"family": "softmax", "lanes": 8, "max_len": 2048, "recip_method": "newton"},
    {"family": "softmax", "method": "ibert", "lanes": 2, "max_len": 1024},
    {"family": "deform", "offset_mode": "rounded", "pe": 2, "c_max": 16, "h_max": 48,
     "w_max": 48, "d_max": 6},
    {"family": "deform", "mode": "full", "pe": 2, "po": 4, "c_max": 16, "co_max": 32},
    {"family": "lut_tc", "weight_format": "ternary", "m": 2, "n": 8, "bit_serial": False,
     "act_width": 16},
    {"family": "sparse_dsp", "lanes": 16, "m": 8, "supported_n": [2, 4, 8], "max_k": 2048},
    {"family": "sparse_dsp", "lanes": 8, "m": 8, "supported_n": [4, 8], "max_k": 512,
     "sparse_mux": "fabric"},
]


@pytest.mark.slow
@pytest.mark.parametrize("table", HELD_OUT, ids=lambda t: ",".join(f"{v}" for v in t.values()))
def test_held_out_estimate_bounds_its_build(table):
    entry = entry_from_table("a", table)
    estimate = guards.check(entry)
    start = time.perf_counter()
    actual = len(render(entry)["a.v"])
    seconds = time.perf_counter() - start
    assert actual <= estimate.verilog_bytes <= BYTES_FACTOR * actual, (actual, estimate)
    low, high = SECONDS_FACTORS
    assert low * seconds <= estimate.elaboration_seconds <= high * seconds, (seconds, estimate)
