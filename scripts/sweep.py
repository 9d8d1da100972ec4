"""Design-space sweeps: a spec (TOML) of one family's parameter grid or search, targets and
nextpnr seeds; every point built, measured by the model and synthesised out of context on the
engine (:mod:`scripts.engine`); a table (CSV and JSON, one row per point, target and seed) and
Pareto plots (PNG and SVG).

A spec::

    family = "gelu"
    targets = ["ice40-up5k"]      # fpga.ooc targets (default: ice40-up5k)
    seeds = [1]                   # nextpnr placement seeds (default: [1])
    figures = true                # the family's report figures (scripts/<family>_figures.py)

    [params]                      # every point's fixed parameters
    in_width = 8
    [grid]                        # lists: the points are their product
    method = ["fitted_pwl", "edge_moe"]
    [search]                      # optional: sample the grid instead (Ray Tune)
    mode = "random"               # random, or "model" (Tune's Optuna TPE searcher)
    samples = 6
    objective = "lut"             # an expression over a row, minimised ...
    direction = "min"             # ... or "max"
    constraints = ["max_error_lsb <= 1"]
    [derived]                     # more columns: expressions over a row
    lut_per_lane = "lut / p_lanes"
    [plot]
    x = "lut"                     # both minimised unless x_direction / y_direction = "max"
    y = "max_error_lsb"
    group = "p_method"            # one colour per value
    [[anchors]]                   # published points: x and y, or one of them (a line)
    label = "Edge-MoE table"
    y = 0.95

A row's columns: ``name``, ``target``, ``seed``, ``p_<param>`` for each parameter, the
manifest's ``latency_cycles`` and ``initiation_interval``, the family's figures flattened with
``_`` (``accuracy_max_error_lsb``; a top-level ``accuracy`` also gives the short names such as
``max_error_lsb``), the synthesis figures (``lut``, ``ff``, ``dsp``, ``bram``, ``lc``,
``fmax_mhz``, ``error``) and the derived columns.
"""

import ast
import csv
import io
import itertools
import json
import math
import operator
import tomllib
from pathlib import Path

from generators.cli import BUILD_ROOT
from generators.family import Entry
from generators.families import FAMILIES
from generators.params import ParamError, did_you_mean, show

__all__ = ["Spec", "load_spec", "spec_points", "validate_points", "run_sweep", "evaluate",
           "pareto_front", "table_csv", "table_json", "plot_pareto", "SWEEP_CACHE"]

#: The synthesis results of every sweep (content-addressed, see fpga.ooc.synthesize_cached).
SWEEP_CACHE = BUILD_ROOT / "synth" / "cache"

SPEC_KEYS = {"family", "name", "targets", "seeds", "figures", "params", "grid", "search",
             "derived", "plot", "anchors"}
SYNTH_KEYS = ("lut", "ff", "dsp", "bram", "lc", "fmax_mhz", "error")


class Spec:
    """A parsed sweep spec (see the module's docstring); ``path`` names it in errors."""

    def __init__(self, document, path="spec"):
        self.path = str(path)
        where = Path(self.path).name
        unknown = sorted(set(document) - SPEC_KEYS)
        if unknown:
            raise ParamError(f"{where}: unknown key {unknown[0]!r}"
                             f"{did_you_mean(unknown[0], SPEC_KEYS)} (allowed: "
                             f"{', '.join(sorted(SPEC_KEYS))})")
        family = document.get("family")
        if not isinstance(family, str) or family not in FAMILIES:
            raise ParamError(f"{where}: family must be one of "
                             f"{', '.join(map(repr, FAMILIES))}, not {show(family)}"
                             f"{did_you_mean(family, FAMILIES) if isinstance(family, str) else ''}")
        self.family = family
        self.name = document.get("name", f"{family}_sweep")
        self.targets = self._list(document, "targets", ["ice40-up5k"], str)
        from fpga.ooc import NODSP_TARGETS, STUB_TARGET, TARGETS

        known = sorted([*TARGETS, *NODSP_TARGETS, STUB_TARGET])
        for target in self.targets:
            if target not in known:
                raise ParamError(f"{where}: targets must each be one of "
                                 f"{', '.join(map(repr, known))}, not {target!r}")
        self.seeds = self._list(document, "seeds", [1], int)
        for seed in self.seeds:
            if isinstance(seed, bool) or seed < 0:
                raise ParamError(f"{where}: seeds must be integers >= 0, not {show(seed)}")
        self.figures = document.get("figures", True)
        if not isinstance(self.figures, bool):
            raise ParamError(f"{where}: figures must be true or false, not {show(self.figures)}")
        self.params = self._table(document, "params")
        self.grid = self._table(document, "grid")
        for key, values in self.grid.items():
            if not isinstance(values, list) or not values:
                raise ParamError(f"{where}: grid.{key} must be a non-empty list of values, not "
                                 f"{show(values)}")
            if key in self.params:
                raise ParamError(f"{where}: {key} is both in [params] and in [grid]")
        self.search = self._table(document, "search")
        self._check_search(where)
        self.derived = self._table(document, "derived")
        for key, text in self.derived.items():
            _check_expression(text, f"{where}: derived.{key}")
        self.plot = self._table(document, "plot")
        self.anchors = document.get("anchors", [])
        if not isinstance(self.anchors, list) or not all(
                isinstance(a, dict) and "label" in a and ("x" in a or "y" in a)
                for a in self.anchors):
            raise ParamError(f"{where}: anchors must be tables with a label and x, y or both")

    def _list(self, document, key, default, kind):
        values = document.get(key, default)
        if not isinstance(values, list) or not values or not all(
                isinstance(v, kind) for v in values):
            raise ParamError(f"{Path(self.path).name}: {key} must be a non-empty list of "
                             f"{kind.__name__}, not {show(values)}")
        return list(dict.fromkeys(values))

    def _table(self, document, key):
        value = document.get(key, {})
        if not isinstance(value, dict):
            raise ParamError(f"{Path(self.path).name}: [{key}] must be a table, not "
                             f"{show(value)}")
        return dict(value)

    def _check_search(self, where):
        if not self.search:
            return
        allowed = {"mode", "samples", "objective", "direction", "constraints", "seed"}
        for key in self.search:
            if key not in allowed:
                raise ParamError(f"{where}: search.{key} is not a search setting (allowed: "
                                 f"{', '.join(sorted(allowed))})")
        mode = self.search.get("mode", "random")
        if mode not in ("random", "model"):
            raise ParamError(f"{where}: search.mode must be 'random' or 'model', not "
                             f"{show(mode)}")
        samples = self.search.get("samples", 8)
        if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
            raise ParamError(f"{where}: search.samples must be an integer >= 1, not "
                             f"{show(samples)}")
        if "objective" not in self.search:
            raise ParamError(f"{where}: search needs an objective (an expression over a row, "
                             f"e.g. \"lut\")")
        _check_expression(self.search["objective"], f"{where}: search.objective")
        if self.search.get("direction", "min") not in ("min", "max"):
            raise ParamError(f"{where}: search.direction must be 'min' or 'max', not "
                             f"{show(self.search['direction'])}")
        constraints = self.search.get("constraints", [])
        if not isinstance(constraints, list):
            raise ParamError(f"{where}: search.constraints must be a list of expressions")
        for text in constraints:
            _check_expression(text, f"{where}: search.constraints")


def load_spec(path):
    """The :class:`Spec` of a TOML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ParamError(f"cannot read sweep spec {str(path)!r}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ParamError(f"{path.name}: not UTF-8 text; TOML files are UTF-8") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ParamError(f"{path.name}: invalid TOML: {error}") from None
    return Spec(document, path)


def spec_points(spec):
    """The grid's points, ``[{param: value}]`` in the grid's order (one point without a
    grid)."""
    keys = list(spec.grid)
    return [dict(zip(keys, values)) for values in itertools.product(*spec.grid.values())]


def _point_name(spec, index):
    return f"{spec.name}_{index:03d}"


def validate_points(spec, points):
    """An :class:`Entry` per point; every invalid point (parameters, resource guards) listed
    in one :class:`ParamError`, before anything runs."""
    from generators.guards import check

    params_class = FAMILIES[spec.family].params_class
    entries, problems = [], []
    for index, point in enumerate(points):
        settings = ", ".join(f"{k}={v!r}" for k, v in point.items())
        try:
            entry = Entry(_point_name(spec, index), params_class.from_dict(
                {**spec.params, **point}))
            check(entry)
        except ParamError as error:
            problems.append(f"  point {index} ({settings}): {error}")
            continue
        entries.append(entry)
    if problems:
        raise ParamError(f"{Path(spec.path).name}: {len(problems)} of {len(points)} points are "
                         f"invalid (no point was run):\n" + "\n".join(problems))
    return entries


# --- one point, on a worker -------------------------------------------------------------------

def _flatten(prefix, value, out):
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}_{key}" if prefix else str(key), inner, out)
    elif isinstance(value, (list, tuple)):
        out[prefix] = json.dumps(value)
    else:
        out[prefix] = value


def evaluate(item):
    """Build, measure and synthesise one point: ``item`` is ``(name, params JSON, targets,
    seeds, figures, cache)``. Returns ``(rows, state)``, one row per target and seed; state
    "cached" when every synthesis result was in the cache."""
    from fpga.ooc import synthesize_cached
    from generators.catalog import params_from_json
    from generators.emit import render

    name, params_json, targets, seeds, with_figures, cache = item
    params = params_from_json(params_json)
    files = render(Entry(name, params))
    manifest = json.loads(files[f"{name}.json"])
    base = {"name": name}
    for key, value in params.to_dict().items():
        _flatten(f"p_{key}", value, base)
    base["latency_cycles"] = manifest["latency_cycles"]
    base["initiation_interval"] = manifest["initiation_interval"]
    if hasattr(params, "macs_per_cycle"):       # a family's own throughput figure
        base["macs_per_cycle"] = params.macs_per_cycle
    if with_figures:
        from scripts.report import figures_module

        figures = json.loads(json.dumps(figures_module(params.family).figures(params)))
        flat = {}
        _flatten("", figures, flat)
        accuracy = figures.get("accuracy")
        if isinstance(accuracy, dict):     # the short names plots use: the block's own method
            own = accuracy.get(getattr(params, "method", None))
            own = own if isinstance(own, dict) else accuracy
            _flatten("", {k: v for k, v in own.items() if not isinstance(v, dict)}, flat)
        base.update({key: value for key, value in flat.items() if key not in base})
    rows, all_cached = [], True
    for target in targets:
        for seed in seeds:
            cached = synthesize_cached(files[f"{name}.v"], name, target, cache, seed=seed,
                                       cached_only=True)
            if cached is None:
                all_cached = False
                cached = synthesize_cached(files[f"{name}.v"], name, target, cache, seed=seed)
            row = {**base, "target": target, "seed": seed}
            row.update({key: cached.get(key) for key in SYNTH_KEYS})
            rows.append(row)
    return rows, "cached" if all_cached else "done"


# --- expressions over a row -------------------------------------------------------------------

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow, ast.Mod: operator.mod}
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
            ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne}
_FUNCTIONS = {"log2": math.log2, "min": min, "max": max, "abs": abs}


def _check_expression(text, where):
    if not isinstance(text, str):
        raise ParamError(f"{where} must be an expression in a string, not {show(text)}")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ParamError(f"{where}: {text!r} is not an expression") from None
    for node in ast.walk(tree):
        allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.USub, ast.Compare, ast.BoolOp,
                   ast.And, ast.Or, ast.Name, ast.Load, ast.Constant, ast.Call,
                   *_BINARY, *_COMPARE)
        if not isinstance(node, allowed) or (isinstance(node, ast.Call) and not (
                isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS)):
            raise ParamError(f"{where}: {text!r} may use column names, numbers, + - * / ** %, "
                             f"comparisons, and/or and {', '.join(_FUNCTIONS)} only")


def _evaluate(node, row):
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, row)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        value = row.get(node.id)
        if value is None:
            raise KeyError(node.id)
        return value
    if isinstance(node, ast.UnaryOp):
        return -_evaluate(node.operand, row)
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, row), _evaluate(node.right, row))
    if isinstance(node, ast.BoolOp):
        values = [_evaluate(v, row) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, row)
        for op, right_node in zip(node.ops, node.comparators):
            right = _evaluate(right_node, row)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Call):
        return _FUNCTIONS[node.func.id](*(_evaluate(a, row) for a in node.args))
    raise ValueError(f"cannot evaluate {ast.dump(node)}")


def expression_value(text, row):
    """``text`` evaluated over ``row``; None when a column it names is missing (a failed
    synthesis) or it divides by zero."""
    try:
        return _evaluate(ast.parse(text, mode="eval"), row)
    except (KeyError, ZeroDivisionError, TypeError):
        return None


def add_derived(spec, rows):
    for row in rows:
        for key, text in spec.derived.items():
            row[key] = expression_value(text, row)
    return rows


# --- the sweep --------------------------------------------------------------------------------

def _items(spec, entries, cache):
    # Absolute: a worker's working folder need not be ours.
    return [(entry.name, entry.params.to_json(), spec.targets, spec.seeds, spec.figures,
             str(Path(cache).resolve())) for entry in entries]


def run_sweep(spec, engine, cache=SWEEP_CACHE):
    """Run ``spec`` on ``engine``: every point validated first, then one task per point.
    Returns the rows (failed points as rows with ``error``)."""
    points = spec_points(spec)
    entries = validate_points(spec, points)
    if spec.search:
        from scripts.sweep_search import search

        return add_derived(spec, search(spec, entries, engine, Path(cache).resolve()))
    results = engine.map(evaluate, _items(spec, entries, cache),
                         [entry.name for entry in entries], f"sweep {spec.name}")
    return add_derived(spec, _rows(spec, entries, results))


def _rows(spec, entries, results):
    rows = []
    for entry, result in zip(entries, results):
        if isinstance(result, dict):        # engine.Failure: the whole point failed
            rows += [{"name": entry.name, "target": target, "seed": seed,
                      "error": result["error"]}
                     for target in spec.targets for seed in spec.seeds]
        else:
            rows += result
    return rows


def _columns(rows):
    first = ["name", "target", "seed"]
    seen = dict.fromkeys(first)
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def table_csv(rows):
    """The rows as CSV text (columns in order of first appearance)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_columns(rows), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buffer.getvalue()


def table_json(rows):
    return json.dumps(rows, indent=2, sort_keys=True) + "\n"


def pareto_front(points, x_max=False, y_max=False):
    """The points ``[(x, y, ...)]`` no other point beats on both axes (each minimised unless
    ``*_max``), sorted by x."""
    def better(a, b):
        ax, ay = (-a[0] if x_max else a[0]), (-a[1] if y_max else a[1])
        bx, by = (-b[0] if x_max else b[0]), (-b[1] if y_max else b[1])
        return ax <= bx and ay <= by and (ax < bx or ay < by)

    front = [p for p in points if not any(better(q, p) for q in points)]
    return sorted(set(front), key=lambda p: (p[0], p[1]))


def plot_pareto(spec, rows, stem):
    """``stem``.png and .svg: the rows' points on the plot's axes per target, each target's
    Pareto front joined, the anchors marked. Byte-identical for the same rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_key, y_key = spec.plot.get("x", "lut"), spec.plot.get("y", "latency_cycles")
    x_max = spec.plot.get("x_direction", "min") == "max"
    y_max = spec.plot.get("y_direction", "min") == "max"
    group = spec.plot.get("group")
    with matplotlib.rc_context({"svg.hashsalt": "mlhw-sweep", "font.size": 9}):
        figure, axes = plt.subplots(figsize=(6.4, 4.4))
        markers = "osD^v<>"
        groups = sorted({str(row.get(group)) for row in rows}) if group else [None]
        for t_index, target in enumerate(spec.targets):
            mine = [r for r in rows if r.get("target") == target
                    and isinstance(r.get(x_key), (int, float))
                    and isinstance(r.get(y_key), (int, float))]
            for g_index, value in enumerate(groups):
                chosen = [r for r in mine if group is None or str(r.get(group)) == value]
                if not chosen:
                    continue
                label = " ".join(filter(None, [target if len(spec.targets) > 1 else None,
                                               f"{group.removeprefix('p_')}={value}"
                                               if group else None])) or target
                axes.scatter([r[x_key] for r in chosen], [r[y_key] for r in chosen],
                             marker=markers[g_index % len(markers)], s=28,
                             color=f"C{(t_index * len(groups) + g_index) % 10}", label=label,
                             alpha=0.85)
            front = pareto_front([(r[x_key], r[y_key]) for r in mine], x_max, y_max)
            if front:
                axes.step([p[0] for p in front], [p[1] for p in front], where="post",
                          color="0.3", linewidth=1, linestyle="--",
                          label=f"Pareto front ({target})")
        for a_index, anchor in enumerate(spec.anchors):
            style = {"color": f"C{(a_index + 6) % 10}", "linewidth": 1, "linestyle": ":"}
            if "x" in anchor and "y" in anchor:
                axes.scatter([anchor["x"]], [anchor["y"]], marker="*", s=140,
                             color=style["color"], label=anchor["label"], zorder=5)
            elif "y" in anchor:
                axes.axhline(anchor["y"], label=anchor["label"], **style)
            else:
                axes.axvline(anchor["x"], label=anchor["label"], **style)
        for axis, key in (("x", x_key), ("y", y_key)):
            scale = spec.plot.get(f"{axis}_scale", "linear")
            (axes.set_xscale if axis == "x" else axes.set_yscale)(scale)
            (axes.set_xlabel if axis == "x" else axes.set_ylabel)(
                spec.plot.get(f"{axis}_label", key))
        axes.set_title(spec.plot.get("title", f"{spec.family}: {spec.name}"))
        axes.grid(True, linewidth=0.3)
        axes.legend(fontsize=7, loc="best")
        figure.tight_layout()
        stem = Path(stem)
        stem.parent.mkdir(parents=True, exist_ok=True)
        paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
        # No dates or versions in the files: a rerun of the same rows gives the same bytes.
        figure.savefig(paths[0], dpi=110, metadata={"Software": None})
        figure.savefig(paths[1], metadata={"Date": None, "Creator": None})
        plt.close(figure)
    return paths


def write_results(spec, rows, out_dir):
    """``out_dir``/<name>.csv, .json, .png and .svg; return the paths."""
    from generators.emit import write_atomic

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out_dir / f"{spec.name}.csv", out_dir / f"{spec.name}.json"
    write_atomic(csv_path, table_csv(rows).encode())
    write_atomic(json_path, table_json(rows).encode())
    return [csv_path, json_path, *plot_pareto(spec, rows, out_dir / spec.name)]
