"""Tier 2: cocotb + Verilator on emitted deformable-convolution engines, bit-exact against the
integer model. Five small builds: one per offset mode (the plain 3x3 included), and the full
3x3 mode."""

import pytest

from generators.catalog import DEFAULT_CATALOG, Entry
from generators.deform.params import DeformParams
from testbench.runner import simulate_entry

CASES = {
    # square dilations, INT4 weights, 2 channels a cycle, the minimum line buffer
    "deform_t_square": DeformParams(offset_mode="square", pe=2, c_max=4, h_max=9, w_max=9,
                                    d_max=3, weight_bits=4),
    # per-tap integer offsets, INT8 weights, a line buffer one row deeper than needed
    "deform_t_rounded": DeformParams(offset_mode="rounded", pe=4, c_max=8, h_max=8, w_max=7,
                                     d_max=2, rows=7),
    # fractional offsets (3 fraction bits) with the DCNv2 mask, one channel a cycle
    "deform_t_bilinear": DeformParams(offset_mode="bilinear", pe=1, c_max=2, h_max=7, w_max=6,
                                      d_max=2, offset_frac=3, mask=True, mask_bits=6),
    # the plain 3x3 baseline: no offset stream, the 3-row line buffer
    "deform_t_plain": DeformParams(offset_mode="none", pe=2, c_max=4, h_max=7, w_max=6,
                                   weight_bits=4),
    # full 3x3: 2 input x 2 output channels a cycle, per-tap integer offsets
    "deform_t_full": DeformParams(mode="full", offset_mode="rounded", pe=2, c_max=4, po=2,
                                  co_max=4, h_max=6, w_max=5, d_max=2),
}

ENTRIES = [Entry(name, params) for name, params in CASES.items()]
CATALOG = [e for e in DEFAULT_CATALOG if e.params.family == "deform"]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_deform_bit_exact(entry):
    simulate_entry(entry, "testbench.deform_tb")


@pytest.mark.slow
@pytest.mark.parametrize("entry", CATALOG, ids=[e.name for e in CATALOG])
def test_deform_catalog_bit_exact(entry):
    simulate_entry(entry, "testbench.deform_tb")
