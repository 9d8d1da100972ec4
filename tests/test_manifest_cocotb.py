"""Tier 2, generic: every catalog entry driven from its manifest alone (testbench.manifest_tb):
every input fed, every output drained, beat counts, tlast framing and the latency checked."""

import pytest

from generators.catalog import DEFAULT_CATALOG
from testbench.runner import REPO_ROOT, simulate_entry

# The largest chains and engines: minutes of Verilator build and simulation each.
SLOW = {"sparse_dsp_l16_m16", "sparse_dsp_l16_m16_dense", "gelu_edge_moe",
        "gelu_edge_moe_fitted"}
ENTRIES = [pytest.param(e, id=e.name, marks=[pytest.mark.slow] if e.name in SLOW else [])
           for e in DEFAULT_CATALOG]


def run_from_manifest(entry):
    # The committed manifest: what a third party gets (build --check keeps it current).
    manifest = REPO_ROOT / "hdl" / f"{entry.name}.json"
    simulate_entry(entry, "testbench.manifest_tb", extra_env={"GEN_MANIFEST": str(manifest)})


@pytest.mark.parametrize("entry", ENTRIES)
def test_catalog_entry_from_its_manifest(entry):
    run_from_manifest(entry)
