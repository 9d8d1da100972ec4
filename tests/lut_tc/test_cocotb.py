"""Tier 2: cocotb + Verilator on emitted LUT tensor core Verilog, bit-exact against the model.

Eleven Verilog configurations in the default suite (each costs a Verilator build); every catalog
entry behind ``slow``.
"""

import pytest

from generators.catalog import DEFAULT_CATALOG, Entry
from generators.lut_tc.params import LutTcParams
from testbench.runner import simulate_entry

CASES = {
    # Bit-parallel INT4 at g = 3 without pre-flip (index inversion in the lanes), INT16 inputs.
    "lut_tc_m_int4_par": LutTcParams(m=3, n=5, g=3, weight_format="int4", act_width=16,
                                     max_k=40, bit_serial=False, preflip=False),
    # The naive LUT design (full 2**g tables) at g = 2, ternary, one row.
    "lut_tc_m_ternary_naive": LutTcParams(m=1, n=8, g=2, weight_format="ternary", max_k=17,
                                          symmetrize=False, preflip=False),
    # INT4 with the accumulator input and the requantisation stage (the optional epilogue).
    "lut_tc_m_int4_epilogue": LutTcParams(m=2, n=4, g=4, weight_format="int4", max_k=24,
                                          acc_in=True, requant=True, shift=12),
    # INT2 with a zero point per 8 rows of K (one z beat per group).
    "lut_tc_m_int2_zp8": LutTcParams(m=2, n=4, g=4, weight_format="int2", max_k=40, zp_group=8),
    # max_k < g: one K-group per tile, of fewer steps than rows (the drain paces the tiles).
    "lut_tc_m_short_k": LutTcParams(m=4, n=4, g=4, weight_format="int2", max_k=3),
    # Pair tables on bit-serial INT2 planes without pre-flip, a zero point per 8 rows of K.
    "lut_tc_m_int2_ptab": LutTcParams(m=2, n=3, g=4, weight_format="int2", max_k=24,
                                      preflip=False, pair_tables=True, zp_group=8),
    # The adder-tree baseline (INT2: +-a, +-3a per weight and the zero-point drain).
    "lut_tc_m_adder_int2": LutTcParams(m=2, n=4, g=4, weight_format="int2", max_k=24,
                                       bit_serial=False, adder_tree=True),
}
#: The adder tree in the other formats, at the figures' shape (M2 x N8, g = 4, K <= 256).
ADDER_SLOW = {
    f"lut_tc_m_adder_{fmt}": LutTcParams(n=8, weight_format=fmt, bit_serial=False,
                                         adder_tree=True)
    for fmt in ("binary", "ternary", "int2", "int4")
}
CATALOG = [e for e in DEFAULT_CATALOG if e.params.family == "lut_tc"]
# The shipped INT2 entries (M2 x N8, g = 4, K up to 256, bit-serial and bit-parallel), the
# ternary pairs core (the ternary entry that meets the fabric target), the binary pair-table
# core (the entry that beats the adder tree) and the shapes above.
SHIPPED = ("lut_tc_int2", "lut_tc_int2_parallel", "lut_tc_ternary_pairs", "lut_tc_binary_pairs")
ENTRIES = [e for e in CATALOG if e.name in SHIPPED] + \
          [Entry(name, params) for name, params in CASES.items()]
SLOW = [e for e in CATALOG if e.name not in SHIPPED] + \
       [Entry(name, params) for name, params in ADDER_SLOW.items()]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_lut_tc_bit_exact(entry):
    simulate_entry(entry, "testbench.lut_tc_tb")


@pytest.mark.slow
@pytest.mark.parametrize("entry", SLOW, ids=[e.name for e in SLOW])
def test_lut_tc_catalog_bit_exact(entry):
    simulate_entry(entry, "testbench.lut_tc_tb", extra_env={"LUT_TC_TILES": "64"})
