"""The search modes of a sweep (``[search]``): Ray Tune samples the grid's points instead of
running all of them. ``mode = "random"``: Tune's random search; ``mode = "model"``: Tune's
Optuna searcher (a tree-structured Parzen estimator that proposes points near the best seen).
Each trial is one point of the grid (validated with all the others before Tune starts), run as
:func:`scripts.sweep.evaluate` on the engine's cluster, through the same synthesis cache; its
objective is the spec's expression averaged over the point's targets and seeds, and a point
that breaks a constraint scores infinitely badly.
"""

import json
import math
import os
import tempfile
from pathlib import Path

# Tune's own console tables and result loggers (TensorBoard, CSV) are not wanted: the progress
# line and the sweep's table are the output. Set before Tune is imported.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")

from ray import tune  # noqa: E402 (after the settings above)

__all__ = ["search"]


def _trial(config, spec_data):
    from scripts.sweep import evaluate, expression_value

    entries, targets, seeds, figures, cache, objective, constraints, sign = spec_data
    key = json.dumps(config, sort_keys=True)
    name, params_json = entries[key]
    rows, state = evaluate((name, params_json, targets, seeds, figures, cache))
    values = [expression_value(objective, row) for row in rows]
    feasible = all(row.get("error") is None and all(
        expression_value(text, row) for text in constraints) for row in rows)
    score = (sum(values) / len(values) if feasible and None not in values else math.inf)
    tune.report({"score": sign * score, "feasible": feasible, "cache_state": state,
                 "rows": json.dumps(rows)})


class _Report(tune.Callback):
    """Each finished trial on the progress line. Tune pickles its callbacks into the
    experiment's state file; the progress line (its stream cannot be pickled) stays with this
    process's copy."""

    def __init__(self, progress):
        self.progress = progress

    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self.progress = None

    def on_trial_complete(self, iteration, trials, trial, **info):
        result = trial.last_result or {}
        rows = json.loads(result.get("rows", "[]"))
        if self.progress is not None:
            self.progress.finish(rows[0]["name"] if rows else trial.trial_id,
                                 result.get("cache_state", "done"))

    def on_trial_error(self, iteration, trials, trial, **info):
        if self.progress is not None:
            self.progress.finish(trial.trial_id, "failed")


def search(spec, entries, engine, cache):
    """Rows of the points Tune chose to run (``spec.search["samples"]`` trials)."""
    from ray.tune.search import BasicVariantGenerator

    from fpga.progress import Progress

    settings = spec.search
    keys = list(spec.grid)
    by_config = {}
    for entry in entries:
        values = entry.params.to_dict()
        by_config[json.dumps({k: _plain(values[k]) for k in keys}, sort_keys=True)] = (
            entry.name, entry.params.to_json())
    sign = 1 if settings.get("direction", "min") == "min" else -1
    seed = settings.get("seed", 0)
    samples = settings.get("samples", 8)
    if settings.get("mode", "random") == "model":
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)

        algorithm = OptunaSearch(sampler=optuna.samplers.TPESampler(seed=seed))
    else:
        algorithm = BasicVariantGenerator(random_state=seed)
    space = {key: tune.choice([_plain(v) for v in values]) for key, values in spec.grid.items()}
    data = (by_config, spec.targets, spec.seeds, spec.figures, str(cache),
            settings["objective"], settings.get("constraints", []), sign)
    with Progress(f"search {spec.name}", samples) as progress:
        with tempfile.TemporaryDirectory(prefix="tune-") as storage:
            tuner = tune.Tuner(
                tune.with_parameters(_trial, spec_data=data), param_space=space,
                tune_config=tune.TuneConfig(metric="score", mode="min", num_samples=samples,
                                            search_alg=algorithm,
                                            max_concurrent_trials=engine.capacity),
                run_config=tune.RunConfig(storage_path=str(Path(storage).resolve()),
                                          name=spec.name, verbose=0, callbacks=[_Report(progress)]))
            results = tuner.fit()
    rows, seen = [], set()
    for result in results:
        if result.error is not None or "rows" not in (result.metrics or {}):
            continue
        for row in json.loads(result.metrics["rows"]):
            identity = (row["name"], row["target"], row["seed"])
            if identity not in seen:        # a point drawn twice is one row
                seen.add(identity)
                rows.append(row)
    return sorted(rows, key=lambda row: (row["name"], row["target"], row["seed"]))


def _plain(value):
    """A parameter value as Tune's search space holds it (lists, not tuples)."""
    return list(value) if isinstance(value, tuple) else value
