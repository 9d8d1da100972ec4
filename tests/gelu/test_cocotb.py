"""Tier 2: cocotb + Verilator on the emitted Verilog of every GELU catalog entry and a matrix of
boundary configurations, bit-exact against the model under backpressure."""

import pytest

from generators.catalog import DEFAULT_CATALOG, Entry
from generators.gelu.params import GeluParams
from testbench.runner import simulate_entry

MATRIX = {
    # one lane, default segments clipped to an int8 range
    "gelu_m_fitted_l1": GeluParams(method="fitted_pwl", lanes=1, in_width=8, in_frac=5,
                                   out_width=8, out_frac=5),
    # 16 lanes; output with fewer integer bits than the input: saturation
    "gelu_m_edge_l16_sat": GeluParams(method="edge_moe", lanes=16, in_width=12, in_frac=6,
                                      out_width=8, out_frac=4, table_step_log2=4,
                                      table_entries=97),
    # three lanes (not a power of two), floor rounding, i-GELU on 16 bits
    "gelu_m_igelu_l3_floor": GeluParams(method="i_gelu", lanes=3, in_width=16, in_frac=10,
                                        out_width=12, out_frac=8, rounding="floor"),
    # direct table: five lanes (two dual-port ROMs and a single one), saturating output,
    # floor rounding, every 12-bit code
    "gelu_m_direct_l5_sat": GeluParams(method="direct_table", lanes=5, in_width=12, in_frac=6,
                                       out_width=8, out_frac=5, rounding="floor"),
    # wider output than input, odd widths, sampled inputs (24 bits)
    "gelu_m_fitted_w24": GeluParams(method="fitted_pwl", lanes=2, in_width=24, in_frac=18,
                                    out_width=27, out_frac=22),
}

CASES = [e for e in DEFAULT_CATALOG if e.params.family == "gelu"] + \
        [Entry(name, params) for name, params in MATRIX.items()]


@pytest.mark.parametrize("entry", CASES, ids=[e.name for e in CASES])
def test_gelu_bit_exact(entry):
    simulate_entry(entry, "testbench.gelu_tb")


WIDE = [e for e in CASES if e.params.in_width > 16]


@pytest.mark.slow
@pytest.mark.parametrize("entry", WIDE, ids=[e.name for e in WIDE])
def test_gelu_bit_exact_million_codes(entry):
    simulate_entry(entry, "testbench.gelu_tb", {"GELU_SAMPLED": "1000000"})
