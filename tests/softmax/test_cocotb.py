"""Tier 2: cocotb + Verilator on emitted softmax Verilog, bit-exact against the model."""

import pytest

from generators.catalog import DEFAULT_CATALOG, Entry
from generators.softmax.params import SoftmaxParams
from testbench.runner import simulate_entry

CASES = {
    "softmax_m_natural_l4": SoftmaxParams(method="natural", lanes=4, max_len=64),
    # One lane, base 2: the catalog's softmax_int8_base2_l1 covers it.
    "softmax_m_newton_l4": SoftmaxParams(method="natural", lanes=4, max_len=32,
                                         recip_method="newton", recip_segments_log2=1),
    "softmax_m_natural_l2_s16": SoftmaxParams(method="natural", lanes=2, max_len=32,
                                              in_width=16, in_frac=10, out_width=12,
                                              out_frac=12),
    # I-BERT's two-pass form, one lane, short vectors, 8 fraction bits (a 178-entry table)
    "softmax_m_ibert_l1_q8": SoftmaxParams(method="ibert", lanes=1, max_len=16, in_width=12,
                                           in_frac=8, out_width=10, out_frac=10),
}


ENTRIES = [e for e in DEFAULT_CATALOG if e.params.family == "softmax"] + \
          [Entry(name, params) for name, params in CASES.items()]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_softmax_bit_exact(entry):
    simulate_entry(entry, "testbench.softmax_tb")


CATALOG = [e for e in DEFAULT_CATALOG if e.params.family == "softmax"]


@pytest.mark.slow
@pytest.mark.parametrize("entry", CATALOG, ids=[e.name for e in CATALOG])
def test_softmax_every_length_by_tkeep(entry):
    """Every length 1..max_len (256) with tkeep-marked pad lanes full of garbage, on the catalog
    blocks (the default run does it on the max_len <= 32 configurations above)."""
    simulate_entry(entry, "testbench.softmax_tb",
                   extra_env={"SOFTMAX_EVERY_LENGTH": "1", "SOFTMAX_VECTORS": "10"})
