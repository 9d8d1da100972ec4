"""The published softmax accuracy holds as a bound: re-measured on a seed the report was not made
with (a small sample by default, the report's full population and search under ``-m slow``)."""

import json
from pathlib import Path

import pytest

import scripts.softmax_figures as figures
from generators.catalog import DEFAULT_CATALOG

REPORT = Path(__file__).resolve().parents[2] / "reports" / "softmax.json"
FRESH_SEED = 91
BLOCKS = ["softmax_int8", "softmax_int8_base2", "softmax_int8_base2_l1"]


def published(name):
    rows = {row["name"]: row for row in json.loads(REPORT.read_text(encoding="utf-8"))}
    row = rows[name]
    figures_ = row["accuracy"][row["params"]["method"]]
    # A report without the bound figures would leave nothing to hold to: that is a failure.
    assert "adversarial" in figures_, (f"{REPORT} lacks the bound figures of {name}: run "
                                       f"python -m generators report --only {name}")
    return figures_


def entry_params(name):
    return next(e.params for e in DEFAULT_CATALOG if e.name == name)


def check_bound(name, measured, bound):
    assert measured["max_error_lsb"] <= bound["max_error_lsb"] + 1e-9, name
    assert measured["max_error_lsb_unsaturated"] <= bound["max_error_lsb_unsaturated"] + 1e-9
    # The bar: within 1 output LSB of float64 softmax, top-1 right on decisive rows.
    assert measured["max_error_lsb"] <= 1.0
    assert measured["top1_agreement_decisive"] == 1.0


@pytest.mark.parametrize("name", BLOCKS[:2])
def test_published_bound_holds_on_a_fresh_sample(name):
    params, bound = entry_params(name), published(name)
    population, _ = figures.population_accuracy(params, seed=FRESH_SEED, rows=250)
    check_bound(name, population[params.method], bound)
    adversarial = figures.adversarial_accuracy(params, seed=FRESH_SEED,
                                               lengths_=[1, 2, 5, 64, 255], climb=False)
    check_bound(name, adversarial[params.method], bound)


@pytest.mark.slow
@pytest.mark.parametrize("name", BLOCKS)
def test_published_bound_holds_on_a_fresh_full_measurement(name):
    params, bound = entry_params(name), published(name)
    accuracy = figures.softmax_accuracy(params, seed=FRESH_SEED)
    check_bound(name, accuracy[params.method], bound)


def test_batch_rows_equal_single_rows():
    """The vectorised model (which the figures use) gives each row what one vector gives."""
    import numpy as np

    from generators.softmax.model import softmax

    params = entry_params("softmax_int8")
    rng = np.random.default_rng(FRESH_SEED)
    x = rng.integers(-128, 128, (6, 37))
    mask = rng.random((6, 37)) < 0.2
    batch = softmax(params, x, mask)
    for row, row_mask, got in zip(x, mask, batch):
        assert list(got) == list(softmax(params, row, row_mask))
    # A shorter vector is the same as its elements followed by masked ones (how the figures
    # batch rows of several lengths).
    padded_mask = np.zeros((1, 37), dtype=bool)
    padded_mask[0, 23:] = True
    assert list(softmax(params, x[:1], padded_mask)[0, :23]) == list(softmax(params, x[0, :23]))
