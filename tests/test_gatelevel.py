"""Gate-level regression: yosys's synthesized netlist (synth_ice40 -dsp, synth_ecp5) of one
entry per family, with yosys's primitive models, under the family's own cocotb testbench:
bit-exact against the golden model under random tvalid gaps and tready backpressure.

Each case is one yosys run plus a Verilator build of the netlist (minutes on a shared core):
marker ``slow`` and ``synth``."""

import pytest

from fpga.gatelevel import TARGETS, simulate_netlist
from generators.catalog import DEFAULT_CATALOG
from testbench.runner import REPO_ROOT

CATALOG = {e.name: e for e in DEFAULT_CATALOG}

#: entry -> (testbench module, its backpressure test, environment shortening the run)
CASES = {
    "gelu_int8": ("testbench.gelu_tb", None, {}),
    "softmax_int8": ("testbench.softmax_tb", None, {}),
    "sparse_dsp_l8_m4": ("testbench.sparse_dsp_tb", None, {"SPARSE_DSP_JOBS": "4"}),
    "lut_tc_binary": ("testbench.lut_tc_tb", "test_random_and_directed_under_backpressure",
                      {"LUT_TC_TILES": "6"}),
    "deform_dw_square_tiny": ("testbench.deform_tb", None, {"DEFORM_LAYERS": "4"}),
}


@pytest.mark.slow
@pytest.mark.synth
@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_netlist_matches_the_model(name, target):
    module, testcase, env = CASES[name]
    entry = CATALOG[name]
    simulate_netlist(REPO_ROOT / "hdl" / f"{name}.v", name, target, module,
                     entry.params.to_json(), testcase=testcase, extra_env=env)
