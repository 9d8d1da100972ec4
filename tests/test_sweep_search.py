"""The search modes of a sweep (scripts/sweep_search.py) on Ray Tune, with the stub target: the
random and the model-based (Optuna TPE) search each run their samples as points of the grid,
their rows are the grid's rows for those points, and the constraint keeps the infeasible points
out of the best score. Slow (Tune starts a cluster and its trial actors: about a minute)."""

import pytest

from scripts.sweep import Spec, run_sweep, spec_points, validate_points

GRID = {"method": ["fitted_pwl", "edge_moe", "i_gelu"], "lanes": [1, 2]}


def _spec(mode, seed):
    return Spec({"family": "gelu", "name": f"search_{mode}", "targets": ["stub"], "seeds": [1],
                 "params": {"in_width": 8, "in_frac": 4, "out_width": 8, "out_frac": 4},
                 "grid": GRID,
                 "search": {"mode": mode, "samples": 4, "seed": seed, "objective": "lut",
                            "constraints": ["max_error_lsb <= 1"]}})


@pytest.mark.slow
@pytest.mark.parametrize("mode, seed", [("random", 3), ("model", 5)])
def test_search_runs_points_of_the_grid(tmp_path, mode, seed):
    from scripts.engine import Engine

    spec = _spec(mode, seed)
    names = {entry.name: entry.params.to_dict()
             for entry in validate_points(spec, spec_points(spec))}
    with Engine(workers=2) as engine:
        rows = run_sweep(spec, engine, tmp_path / "cache")
    assert 1 <= len(rows) <= 4                      # 4 samples, a point drawn twice is one row
    assert [r["name"] for r in rows] == sorted({r["name"] for r in rows})
    for row in rows:
        assert row["error"] is None and row["lut"] > 0
        params = names[row["name"]]                 # the name is the grid point's own
        assert (row["p_method"], row["p_lanes"]) == (params["method"], params["lanes"])
    # The same points on the grid path give the same figures (one engine, one cache).
    grid_spec = Spec({**{k: getattr(spec, k) for k in ("family", "name")}, "targets": ["stub"],
                      "params": spec.params, "grid": GRID})
    with Engine(inline=True) as engine:
        full = {r["name"]: r for r in run_sweep(grid_spec, engine, tmp_path / "cache")}
    for row in rows:
        assert row == full[row["name"]]
