"""Tier 2: cocotb + Verilator on emitted LUT tensor core Verilog, bit-exact against the model.

Three Verilog configurations in the default suite (each costs a Verilator build); every catalog
entry behind ``slow``.
"""

import pytest

from generators.catalog import DEFAULT_CATALOG, Entry
from generators.lut_tc.params import LutTcParams
from testbench.runner import simulate_entry

CASES = {
    # The catalog's default shape and format: M2 x N16, g = 4, INT2, bit-serial, K up to 256.
    "lut_tc_m_int2": LutTcParams(weight_format="int2"),
    # Bit-parallel INT4 at g = 3 without pre-flip (index inversion in the lanes), INT16 inputs.
    "lut_tc_m_int4_par": LutTcParams(m=3, n=5, g=3, weight_format="int4", act_width=16,
                                     max_k=40, bit_serial=False, preflip=False),
    # The naive LUT design (full 2**g tables) at g = 2, ternary, one row.
    "lut_tc_m_ternary_naive": LutTcParams(m=1, n=8, g=2, weight_format="ternary", max_k=17,
                                          symmetrize=False, preflip=False),
}
ENTRIES = [Entry(name, params) for name, params in CASES.items()]
CATALOG = [e for e in DEFAULT_CATALOG if e.params.family == "lut_tc"]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_lut_tc_bit_exact(entry):
    simulate_entry(entry, "testbench.lut_tc_tb")


@pytest.mark.slow
@pytest.mark.parametrize("entry", CATALOG, ids=[e.name for e in CATALOG])
def test_lut_tc_catalog_bit_exact(entry):
    simulate_entry(entry, "testbench.lut_tc_tb", extra_env={"LUT_TC_TILES": "64"})
