"""`python -m generators synth` on the smallest catalog entry, both targets (CI's synthesis run)."""

import json

import pytest

from generators.cli import main


@pytest.mark.synth
def test_synth_cli_writes_json_and_markdown(tmp_path, capsys):
    assert main(["synth", "--only", "gelu_int8", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "synth.json").read_text())
    assert [(r["name"], r["target"]) for r in rows] == [("gelu_int8", "ecp5-85f"),
                                                        ("gelu_int8", "ice40-up5k")]
    for row in rows:
        assert "error" not in row, row
        assert row["lut"] > 0 and row["ff"] > 0 and row["fmax_mhz"] > 0
    table = (tmp_path / "synth.md").read_text().splitlines()
    assert table[0] == "| block | device | LUT | FF | DSP | BRAM | Fmax (MHz) |"
    assert len(table) == 2 + len(rows)
