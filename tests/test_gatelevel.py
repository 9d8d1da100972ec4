"""Gate-level regression: yosys's synthesized netlist (synth_ice40 -dsp for the iCE40 UP5K,
synth_ecp5 for the ECP5 85F) of one entry per family, with the primitives' simulation models,
under the family's own cocotb test: every output beat bit-exact against the golden model under
random tvalid gaps and tready backpressure. And the self-test top's netlist: PASS on the UART,
FAIL with one corrupted expected word.

Each case is one yosys run and one Verilator build of the netlist (20-40 s on the shared 2-core
machine, see docs/boards.md): the default run checks each family on one target (both targets
covered across the families), ``-m slow`` the other target and the self-test netlists.
"""

import json

import pytest

from fpga.gatelevel import CASES, DEFAULT_TARGET, SELFTEST_BEATS, TARGETS, cell_models, \
    netlist_cells, run_case, simulate_selftest_netlist
from generators.catalog import DEFAULT_CATALOG

CATALOG = {e.name: e for e in DEFAULT_CATALOG}

#: Cells a netlist of each target must be made of (it really is the mapped design).
PRIMITIVES = {"ice40": "SB_LUT4", "ecp5": "LUT4"}


def _cases():
    for family in CASES:
        for target in sorted(TARGETS):
            marks = [pytest.mark.synth] + ([] if target == DEFAULT_TARGET[family]
                                           else [pytest.mark.slow])
            yield pytest.param(family, target, marks=marks, id=f"{family}-{target}")


@pytest.mark.parametrize("family,target", list(_cases()))
def test_netlist_matches_the_model(family, target):
    result = run_case(family, target)
    assert result["cells"].get(PRIMITIVES[target], 0) > 10, result["cells"]
    assert all(n > 0 for n in result["beats"].values()), result["beats"]


def test_ecp5_models_replace_the_dp16kd_blackbox():
    shipped, extra = cell_models("ecp5")
    assert "module DP16KD" not in shipped.read_text()
    assert "module DP16KD(" in extra.read_text() and "module MULT18X18D(" in extra.read_text()
    assert len(cell_models("ice40")) == 1


def test_netlist_cells_counts_instances(tmp_path):
    gl = tmp_path / "x_gl.v"
    gl.write_text("module x(a, y);\n  input a;\n  SB_LUT4 #(\n    .LUT_INIT(16'h1)\n  ) _1_ (\n"
                  "  );\n  SB_LUT4 _2_ (\n  );\n  SB_DFF \\q_reg (\n  );\nendmodule\n")
    assert netlist_cells(gl) == {"SB_DFF": 1, "SB_LUT4": 2}


def test_unknown_target_is_named():
    with pytest.raises(ValueError, match=r"^target must be one of 'ice40', 'ecp5', not 'gw1n'$"):
        cell_models("gw1n")


#: The self-test netlists, one target per family: -m slow (each a synthesis of the whole top,
#: a Verilator build and thousands of UART cycles at ~3 ms each: 4 to 7 minutes here).
@pytest.mark.slow
@pytest.mark.synth
@pytest.mark.parametrize("family", list(CASES))
@pytest.mark.parametrize("corrupt", [False, True], ids=["pass", "fail"])
def test_selftest_netlist_reports_on_the_uart(family, corrupt):
    result = simulate_selftest_netlist(CATALOG[CASES[family][0]], DEFAULT_TARGET[family],
                                       beats=SELFTEST_BEATS, corrupt=corrupt,
                                       runs=2 if corrupt else 4)
    assert result["expect"] == ("FAIL" if corrupt else "PASS")


def test_docs_gatelevel_table_is_the_committed_report():
    from scripts.report import report_block
    from testbench.runner import REPO_ROOT

    page = (REPO_ROOT / "docs" / "boards.md").read_text(encoding="utf-8")
    table = (REPO_ROOT / "reports" / "boards.gatelevel.md").read_text(encoding="utf-8")
    assert report_block(page, "gatelevel") == table
    assert {(row["family"], row["target"]) for row in json.loads(
        (REPO_ROOT / "reports" / "boards.gatelevel.json").read_text())["cases"]} == \
        {(family, target) for family in CASES for target in TARGETS}
