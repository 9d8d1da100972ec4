"""Tier 2: cocotb + Verilator on emitted sparse DSP chain Verilog, bit-exact against the model
and W @ x, under gaps and backpressure on all three streams."""

import pytest

from generators.catalog import DEFAULT_CATALOG, Entry
from generators.sparse_dsp.params import SparseDspParams
from testbench.runner import simulate_entry

CASES = {
    # Packed two-vector mode with the overflow adjust unit, 3-bit weights, M = 8.
    "sparse_dsp_t_packed_oau": SparseDspParams(lanes=4, m=8, supported_n=(1, 2, 4),
                                               weight_bits=3, max_k=64, packed=True,
                                               oau=True),
    # The sparse MUX in fabric (one shared buffer read M activations at a time).
    "sparse_dsp_t_fabric": SparseDspParams(lanes=8, m=8, supported_n=(1, 2, 8), max_k=64,
                                           sparse_mux="fabric"),
    # The shortest vector, one block (max_k = m): one-state block counters, every tile one beat.
    "sparse_dsp_t_one_block": SparseDspParams(lanes=4, m=4, supported_n=(1, 2, 4), max_k=4),
}

SHIPPED = ("sparse_dsp_l8_m4", "sparse_dsp_l8_m4_packed")
CATALOG = [e for e in DEFAULT_CATALOG if e.params.family == "sparse_dsp"]
ENTRIES = [e for e in CATALOG if e.name in SHIPPED] + \
          [Entry(name, params) for name, params in CASES.items()]
SLOW = [e for e in CATALOG if e.name not in SHIPPED]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_sparse_dsp_bit_exact(entry):
    simulate_entry(entry, "testbench.sparse_dsp_tb")


@pytest.mark.slow
@pytest.mark.parametrize("entry", SLOW, ids=[e.name for e in SLOW])
def test_sparse_dsp_catalog_bit_exact(entry):
    simulate_entry(entry, "testbench.sparse_dsp_tb")
