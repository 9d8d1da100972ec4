"""Figures per catalog entry: accuracy against float64, latency, and out-of-context synthesis.

Run through the CLI: ``python -m generators report`` (all) or ``python -m generators synth``.
Writes ``reports/<family>.json`` (every number) and ``reports/<family>.md`` (the table of the
family's page ``docs/families/<family>.md``, which gets a copy between its markers).
"""

import importlib
import json
from pathlib import Path

from fpga.ooc import synth_entries
from generators.cli import BUILD_ROOT
from generators.emit import render, write_atomic, write_files
from generators.families import FAMILIES
from generators.params import parameter_table_markdown
from scripts.tables import SYNTH_TARGETS

__all__ = ["figures_module", "write_family_reports", "family_page", "report_block",
           "update_block"]


def figures_module(family):
    """``scripts/<family>_figures.py``: its ``figures(params)`` gives the figures of one report
    row (a dict merged into the row), its ``markdown(rows)`` the family's report table."""
    if family not in FAMILIES:
        raise ValueError(f"no registered family {family!r}")
    return importlib.import_module(f"scripts.{family}_figures")


def write_family_reports(entries, out_dir, synth=True):
    """Measure ``entries`` and write one JSON + Markdown pair per family into ``out_dir``, and
    each family's table into its page in the repository around ``out_dir`` (``out_dir/..``, so
    ``docs/families/<family>.md`` for ``reports``; a page without markers is left alone); return
    the paths written."""
    out_dir = Path(out_dir)
    by_family = {}
    for entry in entries:
        by_family.setdefault(entry.params.family, []).append(entry)
    paths = []
    for family, members in sorted(by_family.items()):
        json_path, md_path = out_dir / f"{family}.json", out_dir / f"{family}.md"
        synth_rows = synth_entries(members, SYNTH_TARGETS, BUILD_ROOT / "synth") if synth else []
        # Without synthesis, keep the figures of the last full report for unchanged blocks.
        previous = {row["name"]: row for row in
                    (json.loads(json_path.read_text()) if json_path.is_file() and not synth
                     else [])}
        figures = figures_module(family)
        rows = []
        for entry in members:
            manifest = json.loads(render(entry)[f"{entry.name}.json"])
            rows.append({
                "name": entry.name, "params": entry.params.to_dict(),
                # Families without one element format per side (several streams) leave these out.
                **{side: getattr(entry.params, side).name for side in ("in_format", "out_format")
                   if hasattr(entry.params, side)},
                "latency_cycles": manifest["latency_cycles"],
                "initiation_interval": manifest["initiation_interval"],
                **figures.figures(entry.params),
                "synth": {r["target"]: {k: v for k, v in r.items() if k != "name"}
                          for r in synth_rows if r["name"] == entry.name},
            })
            kept = previous.get(entry.name)
            if kept and kept["params"] == rows[-1]["params"]:
                rows[-1]["synth"] = kept["synth"]
        markdown = figures.markdown(rows)
        write_files({json_path.name: (json.dumps(rows, indent=2, sort_keys=True) + "\n").encode(),
                     md_path.name: markdown.encode()}, out_dir)
        paths += [json_path, md_path]
        # The family's page beside the report folder (the repository's, for --out reports).
        page = family_page(out_dir.parent, family)
        if update_block(page, family, markdown):
            paths.append(page)
        if write_parameter_table(page, FAMILIES[family]):
            paths.append(page)
    return sorted(set(paths), key=paths.index)


def parameter_table(family):
    """The generated parameter table of ``family`` as its docs page embeds it."""
    return parameter_table_markdown(family.params_class)


def write_parameter_table(page, family):
    """Put the parameter table of ``family`` between the page's ``report:params`` markers."""
    text = page.read_text(encoding="utf-8") if page.is_file() else ""
    if report_block(text, "params") == parameter_table(family):
        return False
    return update_block(page, "params", parameter_table(family))


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


def update_block(page, name, table):
    """Put ``table`` between the ``report:<name>`` markers of ``page``; True if it has them."""
    if not page.is_file():
        return False
    text = page.read_text(encoding="utf-8")
    span = _block_span(text, name)
    if span is None:
        return False
    write_atomic(page, (text[:span[0]] + table + text[span[1]:]).encode())
    return True
