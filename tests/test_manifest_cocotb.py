"""Tier 2, generic: every catalog entry driven from its manifest alone (testbench.manifest_tb):
every input fed, every output drained, beat counts, tlast framing and the latency checked."""

import pytest

from generators.catalog import DEFAULT_CATALOG
from testbench.runner import REPO_ROOT, simulate_entry

# Each run is mostly its Verilator build (~20 s): by default three entries per family, each
# family's distinct stream shapes (optional streams, packed or lane layouts, modes, methods);
# the rest of the catalog, the 16-lane chains and 32-bit GELUs among them, with -m slow.
FAST = {"gelu_int8", "gelu_int8_ibert", "gelu_int16_edge_moe",
        "softmax_int8", "softmax_int8_ibert", "softmax_int8_base2_l1",
        "sparse_dsp_l8_m4", "sparse_dsp_l8_m4_packed", "sparse_dsp_l8_m4_dense",
        "lut_tc_int2", "lut_tc_binary", "lut_tc_ternary_pairs",
        "deform_dw_square_small", "deform_dw_bilinear", "deform_full_square"}
SLOW = {e.name for e in DEFAULT_CATALOG} - FAST
ENTRIES = [pytest.param(e, id=e.name, marks=[pytest.mark.slow] if e.name in SLOW else [])
           for e in DEFAULT_CATALOG]


def run_from_manifest(entry):
    # The committed manifest: what a third party gets (build --check keeps it current).
    manifest = REPO_ROOT / "hdl" / f"{entry.name}.json"
    simulate_entry(entry, "testbench.manifest_tb", extra_env={"GEN_MANIFEST": str(manifest)})


@pytest.mark.parametrize("entry", ENTRIES)
def test_catalog_entry_from_its_manifest(entry):
    run_from_manifest(entry)
