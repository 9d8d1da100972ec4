"""The published price of deformability: the report holds the measured cycles of every compared
entry and the comparison table; the cycles hold on a layer seed they were not measured with."""

import json
from pathlib import Path

import pytest

from generators.catalog import DEFAULT_CATALOG
from scripts.deform_figures import (COMPARED, LAYER_SEED, LAYERS, PLAIN_TWINS,
                                    comparison_markdown, full_rate_cycles)

REPORT = Path(__file__).resolve().parents[2] / "reports" / "deform.json"
PAGE = Path(__file__).resolve().parents[2] / "docs" / "families" / "deform.md"
ENTRIES = {e.name: e for e in DEFAULT_CATALOG}


def rows():
    return {row["name"]: row for row in json.loads(REPORT.read_text())}


def kind(name):
    return "deformable" if ENTRIES[name].params.offsets else "plain 3x3"


def test_every_compared_entry_is_in_the_catalog_and_measured():
    published = rows()
    for plain, twins in PLAIN_TWINS.items():
        assert not ENTRIES[plain].params.offsets
        for twin in twins:
            # the same sizes and MAC array: only the offsets and the line buffer differ
            a, b = ENTRIES[twin].params, ENTRIES[plain].params
            assert (a.pe, a.c_max, a.h_max, a.w_max, a.weight_bits, a.mode) == \
                (b.pe, b.c_max, b.h_max, b.w_max, b.weight_bits, b.mode)
    for name in COMPARED:
        rate = published[name]["figures"]["full_rate"][kind(name)]
        assert rate["layers"] == LAYERS and len(rate["next_layer_cycles"]) == LAYERS - 1
        beats = ENTRIES[name].params.h_max * ENTRIES[name].params.w_max * \
            ENTRIES[name].params.groups_max
        assert rate["output_beats"] == LAYERS * beats
        # one output beat a cycle once primed: never faster, at most 2 % slower
        assert beats <= min(rate["next_layer_cycles"]) <= max(rate["next_layer_cycles"]) \
            <= 1.02 * beats


def test_the_comparison_table_is_published():
    table = comparison_markdown(list(rows().values()))
    lines = [line for line in table.splitlines() if line.startswith("| deform_")]
    assert len(lines) == sum(len(twins) for twins in PLAIN_TWINS.values())
    assert all("—" not in line.split(" | ")[3] for line in lines), "cycles missing"
    assert table in REPORT.with_suffix(".md").read_text()
    assert table in PAGE.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["deform_dw_plain_tiny", "deform_dw_square_tiny"])
def test_published_cycles_hold_on_another_seed(name):
    """Cycles depend on the sizes, not on the data or the offsets: a fresh layer seed gives
    the published counts (the deformable engine's to one cycle a layer)."""
    published = rows()[name]["figures"]["full_rate"][kind(name)]
    fresh = full_rate_cycles(name, ENTRIES[name].params, layer_seed=LAYER_SEED + 1)[kind(name)]
    assert abs(fresh["cycles"] - published["cycles"]) <= LAYERS
    assert abs(fresh["first_layer_cycles"] - published["first_layer_cycles"]) <= 1
