"""Figures per catalog entry: accuracy against float64, latency, and out-of-context synthesis.

Run through the CLI: ``python -m generators report`` (all) or ``python -m generators synth``.
Writes ``<out>/<family>.json`` (every number) and ``<out>/<family>.md`` (the family's report
table). A run merges the rows it measures into the report files already in ``<out>`` (the other
rows are kept whole); only a run over the whole default catalog into the repository's
``reports`` folder rewrites the family pages ``docs/families/<family>.md``.
"""

import importlib
import json
from pathlib import Path

from generators.catalog import DEFAULT_CATALOG
from generators.cli import BUILD_ROOT, check_out_folder
from generators.emit import render, write_atomic
from generators.families import FAMILIES
from generators.params import ParamError, parameter_table_markdown
from scripts.tables import SYNTH_TARGETS

__all__ = ["REPO_ROOT", "default_reports_dir", "figures_module", "measure_family_reports",
           "measure_row", "REPORT_CACHE",
           "write_family_reports", "docs_root", "merge_rows", "family_page", "report_block",
           "update_block", "replace_block", "write_all",
           "read_rows"]

#: The checkout whose ``reports`` folder and ``docs`` pages the default report run maintains.
REPO_ROOT = Path(__file__).resolve().parent.parent


def default_reports_dir():
    """The repository's report folder: the default destination (wherever the command runs)."""
    return REPO_ROOT / "reports"


def figures_module(family):
    """``scripts/<family>_figures.py``: its ``figures(params)`` gives the figures of one report
    row (a dict merged into the row), its ``markdown(rows)`` the family's report table."""
    if family not in FAMILIES:
        raise ValueError(f"no registered family {family!r}")
    return importlib.import_module(f"scripts.{family}_figures")


def _same_blocks(entries, others):
    return ({(e.name, e.params.to_json()) for e in entries}
            == {(e.name, e.params.to_json()) for e in others})


def docs_root(entries, out_dir):
    """The repository whose docs pages a report of ``entries`` into ``out_dir`` rewrites, or
    None: only the whole default catalog measured into the repository's ``reports`` folder
    speaks for the published pages (a partial or user run must not rewrite them)."""
    if (Path(out_dir).resolve() == default_reports_dir().resolve()
            and _same_blocks(entries, DEFAULT_CATALOG)):
        return REPO_ROOT
    return None


def merge_rows(kept, measured):
    """``kept`` rows (from a report file) with ``measured`` rows replacing those of the same
    name, in catalog order; rows of blocks outside the catalog follow in the order first seen."""
    rows = {row["name"]: row for row in kept}
    rows.update((row["name"], row) for row in measured)
    catalog = {entry.name: index for index, entry in enumerate(DEFAULT_CATALOG)}
    order = list(rows)
    return [rows[name] for name in
            sorted(order, key=lambda name: (catalog.get(name, len(catalog)), order.index(name)))]


def read_rows(path):
    """The rows of a JSON report file (none when it does not exist)."""
    if not path.is_file():
        return []
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(rows, list) and all(isinstance(r, dict) and "name" in r for r in rows):
            return rows
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass
    raise ParamError(f"{path} is not a report file (a JSON list of rows with a name); move it "
                     f"away or choose another --out")


def measure_row(item):
    """One report row, measured (a task of :class:`scripts.engine.Engine`): ``item`` is
    ``(name, params JSON, synth, cache folder)``. Returns ``(row, state)``; the row's synthesis
    comes from the shared result cache (:func:`fpga.ooc.synthesize_cached`), state "cached"
    when all of it was there."""
    from fpga.ooc import synthesize_cached
    from generators.catalog import params_from_json
    from generators.family import Entry

    name, params_json, synth, cache = item
    entry = Entry(name, params_from_json(params_json))
    files = render(entry)
    manifest = json.loads(files[f"{entry.name}.json"])
    synth_rows, cached = [], True
    for target in SYNTH_TARGETS if synth else ():
        row = synthesize_cached(files[f"{entry.name}.v"], entry.name, target, cache,
                                cached_only=True)
        if row is None:
            cached = False
            row = synthesize_cached(files[f"{entry.name}.v"], entry.name, target, cache)
        synth_rows.append(row)
    row = {
        "name": entry.name, "params": entry.params.to_dict(),
        # Families without one element format per side (several streams) leave these out.
        **{side: getattr(entry.params, side).name for side in ("in_format", "out_format")
           if hasattr(entry.params, side)},
        "latency_cycles": manifest["latency_cycles"],
        "initiation_interval": manifest["initiation_interval"],
        **figures_module(entry.params.family).figures(entry.params),
        "synth": {r["target"]: r for r in synth_rows},
    }
    # The row as the JSON file holds it, so fresh and kept rows render alike.
    return json.loads(json.dumps(row, sort_keys=True)), "cached" if synth and cached else "done"


#: The report rows' synthesis results (content-addressed: fpga.ooc.synthesize_cached).
REPORT_CACHE = BUILD_ROOT / "synth" / "cache"


def measure_family_reports(entries, out_dir, synth=True, pages=None, engine=None):
    """Measure ``entries`` and return every file the report writes, ``{path: bytes}``, without
    writing any: ``out_dir``/<family>.json and .md (the measured rows merged into the rows
    already there; when ``pages`` is a repository root, the measured families' rows are the
    whole report), and with ``pages`` each family page's report and parameter tables.

    The rows are measured on ``engine`` (a :class:`scripts.engine.Engine`; default: one after
    another in this process), one task per row, all families at once."""
    from scripts.engine import Engine, Failure

    out_dir = Path(out_dir)
    check_out_folder(out_dir)
    by_family = {}
    for entry in entries:
        by_family.setdefault(entry.params.family, []).append(entry)
    ordered = [entry for _, members in sorted(by_family.items()) for entry in members]
    # The cache's absolute path: a worker's working folder need not be ours.
    items = [(entry.name, entry.params.to_json(), synth, str(REPORT_CACHE.resolve()))
             for entry in ordered]
    if engine is None:
        with Engine(inline=True) as engine:
            results = engine.map(measure_row, items, [e.name for e in ordered], "report")
    else:
        results = engine.map(measure_row, items, [e.name for e in ordered], "report")
    measured_rows = {}
    for entry, result in zip(ordered, results):
        if isinstance(result, Failure):
            raise RuntimeError(f"report of {entry.name} failed: {result['error']}")
        measured_rows[entry.name] = result
    files = {}
    for family, members in sorted(by_family.items()):
        json_path, md_path = out_dir / f"{family}.json", out_dir / f"{family}.md"
        previous = read_rows(json_path)
        # Without synthesis, keep the figures of the last full report for unchanged blocks.
        kept_synth = {row["name"]: row for row in previous}
        figures = figures_module(family)
        measured = []
        for entry in members:
            row = measured_rows[entry.name]
            kept = kept_synth.get(entry.name)
            if not synth and kept and kept["params"] == row["params"]:
                row["synth"] = kept.get("synth", {})
            measured.append(row)
        # A whole-catalog run into the repository's reports is the report: rows of blocks no
        # longer measured (renamed, or left by a user run) go; any other run merges.
        rows = merge_rows([] if pages else previous, measured)
        markdown = figures.markdown(rows)
        files[json_path] = (json.dumps(rows, indent=2, sort_keys=True) + "\n").encode()
        files[md_path] = markdown.encode()
        if pages is not None:
            page = family_page(pages, family)
            if page.is_file():
                text = page.read_text(encoding="utf-8")
                text = replace_block(text, family, markdown)
                text = replace_block(text, "params", parameter_table(FAMILIES[family]))
                files[page] = text.encode()
    return files


def write_all(files):
    """Write ``{path: bytes}`` (each file atomically; unchanged files are left alone); return
    the paths in order."""
    for path, content in files.items():
        write_atomic(path, content)
    return list(files)


def write_family_reports(entries, out_dir, synth=True, pages=None, engine=None):
    """Measure ``entries``, then write the report files (see :func:`measure_family_reports`):
    nothing is written before every figure is in hand, so an interruption or a failure leaves
    the report as it was. Return the paths written."""
    return write_all(measure_family_reports(entries, out_dir, synth=synth, pages=pages,
                                            engine=engine))


def parameter_table(family):
    """The generated parameter table of ``family`` as its docs page embeds it."""
    return parameter_table_markdown(family.params_class)


def family_page(root, family):
    """The docs page of ``family`` in the repository at ``root``."""
    return Path(root) / "docs" / "families" / f"{family}.md"


def _block_span(text, name):
    """Start and end offsets of the text between a page's ``report:<name>`` markers."""
    start, end = f"<!-- report:{name} -->\n", f"<!-- /report:{name} -->"
    if start not in text or end not in text:
        return None
    return text.index(start) + len(start), text.index(end)


def report_block(text, name):
    """The text between the ``report:<name>`` markers of a page, or None."""
    span = _block_span(text, name)
    return None if span is None else text[span[0]:span[1]]


def replace_block(text, name, table):
    """``text`` with ``table`` between its ``report:<name>`` markers (unchanged without them)."""
    span = _block_span(text, name)
    return text if span is None else text[:span[0]] + table + text[span[1]:]


def update_block(page, name, table):
    """Put ``table`` between the ``report:<name>`` markers of ``page``; True if it has them."""
    if not page.is_file():
        return False
    text = page.read_text(encoding="utf-8")
    if _block_span(text, name) is None:
        return False
    write_atomic(page, replace_block(text, name, table).encode())
    return True
