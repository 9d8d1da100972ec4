"""Sweeps (scripts/sweep.py) on the Ray engine (scripts/engine.py): the bad-spec errors, a few
points on a local cluster with the stub target (the code path of a real target, without the
tools: fpga.ooc.STUB_TARGET), the cache hit on the rerun, a killed worker retried, a sweep
resumed after a killed task, the report rows measured on the engine, and a simulated two-node
cluster. The Ray tests start clusters of their own (never one another process started), so
two xdist workers running them at once do not meet."""

import random

import pytest

import generators.cli
from generators.cli import main
from generators.params import ParamError
from scripts.cli import SWEEP
from scripts.sweep import (Spec, expression_value, load_spec, pareto_front, plot_pareto,
                           run_sweep, table_csv, table_json, validate_points, spec_points)

STUB_SPEC = """
family = "gelu"
name = "tiny"
targets = ["stub"]
seeds = [1, 2]
[params]
in_width = 8
in_frac = 4
out_width = 8
out_frac = 4
[grid]
method = ["fitted_pwl", "edge_moe", "i_gelu"]
[plot]
x = "lut"
y = "max_error_lsb"
group = "p_method"
[[anchors]]
label = "one LSB"
y = 1.0
"""


@pytest.fixture
def with_sweep_verb(monkeypatch):
    """``main`` with the sweep verb, also where the installed entry points predate it."""
    registered = generators.cli.registered_verbs

    def verbs():
        found, options = registered()
        return {**found, "sweep": SWEEP}, options

    monkeypatch.setattr(generators.cli, "registered_verbs", verbs)


def write_spec(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


# --- the spec and its errors (no Ray) ---------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ('family = "gelux"', "family must be one of 'gelu'"),
    ('family = "gelu"\ncolour = 1', "unknown key 'colour'"),
    ('family = "gelu"\ntargets = ["ice41"]', "targets must each be one of"),
    ('family = "gelu"\nseeds = [-1]', "seeds must be integers >= 0, not -1"),
    ('family = "gelu"\n[grid]\nlanes = 4', "grid.lanes must be a non-empty list"),
    ('family = "gelu"\n[params]\nlanes = 1\n[grid]\nlanes = [2]', "both in [params] and"),
    ('family = "gelu"\n[search]\nmode = "grid"\nobjective = "lut"', "search.mode must be"),
    ('family = "gelu"\n[search]\nsamples = 3', "search needs an objective"),
    ('family = "gelu"\n[derived]\nx = "__import__(1)"', "may use column names"),
    ('family = "gelu"\n[derived]\nx = "lut +"', "is not an expression"),
])
def test_bad_spec_is_one_error(tmp_path, capsys, with_sweep_verb, text, message):
    path = write_spec(tmp_path, text)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: spec.toml: ") and message in err
    assert not (tmp_path / "out").exists()


def test_invalid_points_are_listed_together_before_any_task(tmp_path, capsys, with_sweep_verb):
    path = write_spec(tmp_path, 'family = "gelu"\n[grid]\nlanes = [1, 17, 2, 99]\n')
    assert main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err
    assert "2 of 4 points are invalid (no point was run)" in err
    assert "point 1 (lanes=17)" in err and "point 3 (lanes=99)" in err
    assert "point 0" not in err and "point 2" not in err


def test_unreadable_spec(tmp_path, capsys, with_sweep_verb):
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read sweep spec" in capsys.readouterr().err


def test_grid_points_in_order():
    spec = Spec({"family": "gelu", "grid": {"lanes": [1, 2], "method": ["fitted_pwl",
                                                                         "i_gelu"]}})
    assert spec_points(spec) == [
        {"lanes": 1, "method": "fitted_pwl"}, {"lanes": 1, "method": "i_gelu"},
        {"lanes": 2, "method": "fitted_pwl"}, {"lanes": 2, "method": "i_gelu"}]
    assert [e.name for e in validate_points(spec, spec_points(spec))] == [
        "gelu_sweep_000", "gelu_sweep_001", "gelu_sweep_002", "gelu_sweep_003"]


def test_pareto_front_against_brute_force():
    rng = random.Random(7)
    for _ in range(50):
        points = [(rng.randint(0, 9), rng.randint(0, 9)) for _ in range(rng.randint(1, 12))]
        for x_max in (False, True):
            for y_max in (False, True):
                sx, sy = (-1 if x_max else 1), (-1 if y_max else 1)
                front = pareto_front(points, x_max, y_max)
                for p in set(points):
                    beaten = any(sx * q[0] <= sx * p[0] and sy * q[1] <= sy * p[1] and q != p
                                 for q in points)
                    assert (p in front) == (not beaten)
    assert pareto_front([(1, 5), (2, 3), (3, 4), (4, 1)]) == [(1, 5), (2, 3), (4, 1)]


def test_expressions():
    row = {"lut": 120, "macs_per_cycle": 32, "dsp": 0, "error": None}
    assert expression_value("lut / macs_per_cycle", row) == 3.75
    assert expression_value("lut / dsp", row) is None         # divided by zero: no value
    assert expression_value("fmax_mhz * 2", row) is None      # a missing figure: no value
    assert expression_value("lut <= 120 and max(dsp, 1) == 1", row) is True


def test_plots_are_byte_identical(tmp_path):
    spec = Spec({"family": "gelu", "targets": ["stub"], "plot": {"x": "lut", "y": "err"},
                 "anchors": [{"label": "a", "x": 3, "y": 1}, {"label": "b", "y": 2}]})
    rows = [{"name": f"r{i}", "target": "stub", "seed": 1, "lut": 10 - i, "err": i * i}
            for i in range(5)]
    first = [p.read_bytes() for p in plot_pareto(spec, rows, tmp_path / "one")]
    second = [p.read_bytes() for p in plot_pareto(spec, rows, tmp_path / "two")]
    assert first == second and first[0].startswith(b"\x89PNG") and b"<svg" in first[1]


# --- on Ray ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """A local two-worker cluster for this module. Its workers inherit MLHW_STUB_DIE_ONCE: a
    stub run kills its worker whenever a test removes the marker file (which the dying run
    creates again)."""
    import os

    from scripts.engine import Engine

    marker = tmp_path_factory.mktemp("die") / "marker"
    marker.touch()
    os.environ["MLHW_STUB_DIE_ONCE"] = str(marker)
    try:
        with Engine(workers=2) as running:
            running.marker = marker
            yield running
    finally:
        del os.environ["MLHW_STUB_DIE_ONCE"]


def test_sweep_on_a_local_cluster_then_all_cached(tmp_path, engine):
    spec = load_spec(write_spec(tmp_path, STUB_SPEC))
    cache = tmp_path / "cache"
    rows = run_sweep(spec, engine, cache)
    assert [(r["name"], r["target"], r["seed"]) for r in rows] == [
        (f"tiny_00{i}", "stub", seed) for i in range(3) for seed in (1, 2)]
    assert all(r["error"] is None and r["lut"] > 10 for r in rows)
    by_method = {r["p_method"]: r for r in rows}
    assert by_method["fitted_pwl"]["max_error_lsb"] <= 1.0      # the model's figures are in
    assert len(list(cache.glob("tiny_*/result.json"))) == 6       # one per point and seed
    seconds = len(engine.item_seconds)
    again = run_sweep(spec, engine, cache)
    assert table_csv(again) == table_csv(rows) and table_json(again) == table_json(rows)
    assert len(engine.item_seconds) == seconds + 3


@pytest.mark.slow      # a minute on 2 shared cores (a new worker process); the resume test
def test_killed_worker_is_retried(tmp_path, engine):     # below kills one in the default run
    spec = load_spec(write_spec(tmp_path, STUB_SPEC.replace("seeds = [1, 2]", "seeds = [3]")))
    engine.marker.unlink()
    engine.retries = 1
    rows = run_sweep(spec, engine, tmp_path / "cache")
    assert engine.marker.exists()              # one run died ...
    assert all(r["error"] is None for r in rows) and len(rows) == 3     # ... and ran again


def test_sweep_resumes_after_a_killed_task(tmp_path, engine, capsys):
    spec = load_spec(write_spec(tmp_path, STUB_SPEC.replace("seeds = [1, 2]", "seeds = [4]")))
    engine.marker.unlink()
    engine.retries = 0
    first = run_sweep(spec, engine, tmp_path / "cache")
    failed = [r["name"] for r in first if r.get("error")]
    assert len(failed) == 1 and "died" in " ".join(r.get("error") or "" for r in first).lower()
    capsys.readouterr()
    second = run_sweep(spec, engine, tmp_path / "cache")
    assert all(r["error"] is None for r in second)
    lines = capsys.readouterr().err.splitlines()
    assert sorted(line.split()[3].rstrip(":") for line in lines if ": done" in line) == failed
    assert sum(": cached" in line for line in lines) == 2          # the finished points


def test_report_rows_on_the_engine_match_the_inline_ones(tmp_path, engine):
    from generators.catalog import DEFAULT_CATALOG
    from scripts.report import measure_family_reports

    entries = [e for e in DEFAULT_CATALOG if e.name in ("gelu_int8", "gelu_int8_ibert")]
    inline = measure_family_reports(entries, tmp_path / "a", synth=False)
    on_ray = measure_family_reports(entries, tmp_path / "b", synth=False, engine=engine)
    assert [v for v in inline.values()] == [v for v in on_ray.values()]


def test_spec_error_names_the_spec_not_a_traceback(tmp_path):
    with pytest.raises(ParamError, match="search.samples must be an integer >= 1, not 0"):
        Spec({"family": "gelu", "search": {"samples": 0, "objective": "lut"}})


def test_progress_off_a_terminal_is_one_line_per_item(monkeypatch):
    import io

    from fpga.progress import Progress, live

    stream = io.StringIO()
    assert not live(stream)
    with Progress("sweep x", 3, stream=stream) as progress:
        progress.running(2)
        progress.finish("a", "done", 1.25)
        progress.finish("b", "cached")
        progress.finish("c", "failed")
        assert progress.counts == {"done": 1, "running": 0, "failed": 1, "cached": 1}
        with pytest.raises(ValueError, match="state must be one of"):
            progress.finish("d", "running")
    assert stream.getvalue().splitlines() == [
        "sweep x [1/3] a: done in 1.2 s", "sweep x [2/3] b: cached", "sweep x [3/3] c: failed"]
