"""Board bitstreams: CLI messages, fit/timing messages, and (marked synth) real builds for an
iCE40 and ECP5 boards, each compared with its stored baseline."""

import json

import pytest

from fpga import regression
from fpga.bitstream import FlowError, check_timing, fit_problem
from fpga.boards import BOARDS, board
from generators.cli import main
from generators.params import ParamValueError

# nextpnr's utilisation lines as it prints them before giving up on placement.
NEXTPNR_OVERFULL = """Info: Device utilisation:
Info: 	           ICESTORM_LC:  6012/ 5280   113%
Info: 	          ICESTORM_RAM:     2/   30     6%
Info: 	         ICESTORM_DSP:     9/    8   112%
ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'ICESTORM_LC'
"""


def test_unknown_board_names_the_boards(capsys):
    assert main(["bitstream", "--board", "icebraker", "--only", "gelu_int8"]) == 2
    assert capsys.readouterr().err == (
        "error: board must be one of 'icebreaker', 'ulx3s', 'orangecrab', not 'icebraker'; "
        "did you mean 'icebreaker'?\n")


def test_board_is_required(capsys):
    assert main(["bitstream", "--only", "gelu_int8"]) == 2
    assert capsys.readouterr().err == \
        "error: --board is required: one of 'icebreaker', 'ulx3s', 'orangecrab'\n"


def test_board_lookup_message():
    with pytest.raises(ParamValueError, match=r"^board must be one of 'icebreaker', 'ulx3s', "
                                              r"'orangecrab', not 'ecp5'$"):
        board("ecp5")


def test_help_lists_every_board(capsys):
    assert main(["bitstream", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ", ".join(list(BOARDS)[:-1]) + " or " + list(BOARDS)[-1] in out


def test_fit_problem_names_needed_and_available():
    assert fit_problem(NEXTPNR_OVERFULL) == \
        "needs ICESTORM_LC 6012/5280, ICESTORM_DSP 9/8 (used/available)"
    assert fit_problem("Info: ICESTORM_LC:  12/ 5280   0%") is None


def test_timing_not_met_names_target_and_reached():
    report = {"fmax": {"clk12_0__io": {"achieved": 10.456, "constraint": 12.0}}}
    with pytest.raises(FlowError, match=r"^timing not met: clock clk12_0__io needs 12 MHz, "
                                        r"reached 10\.46 MHz$"):
        check_timing(report, 12.0)
    assert check_timing(report, 10.0) == 10.46


def test_baseline_tolerances():
    stored = {"fmax_mhz": 100.0, "lc": 1000, "bram": 0}
    assert regression.compare({"fmax_mhz": 109.9, "lc": 1099, "bram": 1}, stored) == []
    assert regression.compare({"fmax_mhz": 89.0, "lc": 1200, "bram": 2}, stored) == [
        "fmax_mhz 89.0 vs baseline 100.0 (-11.0 %, tolerance 10 %)",
        "lc 1200 vs baseline 1000 (+20.0 %, tolerance 10 %)",
        "bram 2 vs baseline 0 (+inf %, tolerance 10 %)"]


@pytest.mark.synth
# CI builds one iCE40 and one ECP5 board; the 85F (the slowest, ~40 s) only with -m slow.
@pytest.mark.parametrize("name", ["icebreaker", "orangecrab",
                                  pytest.param("ulx3s", marks=pytest.mark.slow)])
def test_bitstream_from_clean_build_matches_baseline(tmp_path, capsys, name):
    """A bitstream for the board, its folder complete, its figures within the baselines."""
    assert main(["bitstream", "--board", name, "--only", "gelu_int8",
                 "--out", str(tmp_path), "--report", str(tmp_path / "rep")]) == 0
    b = BOARDS[name]
    (folder,) = (tmp_path / name).iterdir()
    assert folder.name.startswith("gelu_int8-")
    bitstream = folder / ("top.bin" if b.family == "ice40" else "top.bit")
    # UP5K images are 104090 bytes; ECP5 images are compressed on these boards, so only "big".
    assert bitstream.stat().st_size == 104090 if b.family == "ice40" else \
        bitstream.stat().st_size > 50_000
    for log in ("top.rpt", "top.tim", "report.json", "params.json"):
        assert (folder / log).stat().st_size > 0, log
    assert (folder / "build.log").is_file()     # the script's own output: empty when all is well
    params = json.loads((folder / "params.json").read_text())
    assert params["block"] == "gelu_int8" and params["board"] == name
    (row,) = json.loads((tmp_path / "rep" / "boards.json").read_text())
    assert row["fmax_mhz"] >= row["target_mhz"]
    path = regression.baseline_path(b.family, name, "gelu_int8")
    assert path.is_file(), f"no baseline for these tool versions: {path}"
    problems = regression.compare(regression.baseline_of(row), json.loads(path.read_text()))
    assert problems == [], f"{name}: " + "; ".join(problems)


def test_docs_board_table_is_the_committed_report():
    from scripts.report import report_block
    from testbench.runner import REPO_ROOT

    page = (REPO_ROOT / "docs" / "boards.md").read_text(encoding="utf-8")
    table = (REPO_ROOT / "reports" / "boards.md").read_text()
    assert report_block(page, "boards") == table
    rows = json.loads((REPO_ROOT / "reports" / "boards.json").read_text())
    assert {row["board"] for row in rows} == set(BOARDS)      # every board has figures


def test_baseline_needs_a_board(capsys):
    assert main(["baseline", "--only", "gelu_int8"]) == 2
    assert capsys.readouterr().err == \
        "error: --board is required: one of 'icebreaker', 'ulx3s', 'orangecrab'\n"


def test_board_report_merges_rows_and_fills_the_boards_page(tmp_path):
    """bitstream --report's writer (the figures layer): rows merge by board, block and design,
    build paths stay out, and the page's report:boards block gets the table."""
    from scripts.board_report import write_board_report

    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "boards.md"
    page.write_text("intro\n<!-- report:boards -->\nold\n<!-- /report:boards -->\nend\n")
    row = {"board": "icebreaker", "part": "iCE40UP5K", "name": "gelu_int8", "design": "selftest",
           "lc": {"used": 10, "available": 5280}, "fmax_mhz": 30.0, "target_mhz": 12.0,
           "bitstream": "/somewhere/top.bin", "bitstream_sha256": "0" * 64}
    out = tmp_path / "reports"
    write_board_report([row], out, page=page)
    write_board_report([{**row, "fmax_mhz": 31.5}, {**row, "board": "ulx3s"}], out, page=page)
    rows = json.loads((out / "boards.json").read_text())
    assert [(r["board"], r["fmax_mhz"]) for r in rows] == [("icebreaker", 31.5), ("ulx3s", 30.0)]
    assert all("bitstream" not in r and "bitstream_sha256" not in r for r in rows)
    table = (out / "boards.md").read_text()
    assert "| icebreaker | gelu_int8 | selftest | iCE40UP5K | 10/5280 | n/a |" in table
    assert page.read_text() == \
        f"intro\n<!-- report:boards -->\n{table}<!-- /report:boards -->\nend\n"


#: One entry per family on the board it fits (the gelu rows are the tests above): the smallest
#: entry of each family, built by the default run. They build into the content-addressed cache
#: (build/boards/<board>/<name>-<digest>/, as the CLI does), so a rerun, another test or the
#: baseline verb reuses a finished place-and-route; a clean clone builds each once. Times on the
#: shared 2-core machine: see docs/boards.md. softmax_int8 on the ULX3S (the 4-lane block, 144 s
#: of nextpnr alone): -m slow.
FAMILY_BOARDS = [("icebreaker", "softmax_int8_base2_l1"), ("icebreaker", "sparse_dsp_l8_m4"),
                 ("icebreaker", "lut_tc_binary"), ("orangecrab", "deform_dw_square_tiny"),
                 pytest.param("ulx3s", "softmax_int8", marks=pytest.mark.slow)]


@pytest.mark.synth
@pytest.mark.parametrize("board,name", FAMILY_BOARDS,
                         ids=["icebreaker-softmax_int8_base2_l1", "icebreaker-sparse_dsp_l8_m4",
                              "icebreaker-lut_tc_binary", "orangecrab-deform_dw_square_tiny",
                              "ulx3s-softmax_int8"])
def test_family_bitstream_matches_baseline(tmp_path, board, name):
    assert main(["bitstream", "--board", board, "--only", name,
                 "--report", str(tmp_path / "rep")]) == 0
    (row,) = json.loads((tmp_path / "rep" / "boards.json").read_text())
    assert row["fmax_mhz"] >= row["target_mhz"]
    path = regression.baseline_path(BOARDS[board].family, board, name)
    assert path.is_file(), f"no baseline for these tool versions: {path}"
    problems = regression.compare(regression.baseline_of(row), json.loads(path.read_text()))
    assert problems == [], f"{board} {name}: " + "; ".join(problems)
