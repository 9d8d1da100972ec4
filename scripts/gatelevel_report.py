"""Gate-level figures: runs the netlist regression of ``fpga/gatelevel.py`` for every family
and writes ``reports/boards.gatelevel.*`` and the ``report:gatelevel`` block of docs/boards.md
(the figures layer writes docs; the board layer only returns rows)."""

import argparse
import json
from pathlib import Path

from fpga.gatelevel import (CASES, DEFAULT_TARGET, SELFTEST_BEATS, TARGETS, run_case,
                            simulate_selftest_netlist)
from generators.catalog import DEFAULT_CATALOG
from generators.emit import write_atomic
from scripts.report import update_block
from testbench.runner import REPO_ROOT


def _table(rows, selftests):
    lines = ["| family | block | target | output beats checked | mismatches | cells | "
             "time (s) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = ", ".join(f"{k} {v}" for k, v in r["cells"].items())
        lines.append(f"| {r['family']} | {r['top']} | {TARGETS[r['target']][2]} | "
                     f"{sum(r['beats'].values())} | 0 | {cells} | {r['total_s']} |")
    lines += ["", "| self-test netlist | target | ROM corrupted | UART verdict | runs | "
              "time (s) |", "|---|---|---|---|---|---|"]
    for r in selftests:
        lines.append(f"| {r['top']} | {TARGETS[r['target']][2]} | "
                     f"{'yes' if r['expect'] == 'FAIL' else 'no'} | {r['expect']} (as expected) | "
                     f"{r['runs']} | {r['total_s']} |")
    lines += ["", "The self-test netlists' UART lines, as the testbench decoded them:", "", "```"]
    lines += [line for r in selftests for line in r["uart"]]
    lines += ["```"]
    return "\n".join(lines) + "\n"


def _write_report(out, rows, selftests, newest):
    print(json.dumps(newest), flush=True)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "boards.gatelevel.json", (json.dumps(
        {"cases": rows, "selftests": selftests}, indent=2, sort_keys=True) + "\n").encode())
    table = _table(rows, selftests)
    write_atomic(out / "boards.gatelevel.md", table.encode())
    if out.resolve() == REPO_ROOT / "reports":
        update_block(REPO_ROOT / "docs" / "boards.md", "gatelevel", table)


def main(argv=None):
    """``python -m scripts.gatelevel_report [--out reports]``: every family on both targets and the
    self-test netlists (PASS and FAIL, on the family's :data:`DEFAULT_TARGET`) of every family,
    written to ``boards.gatelevel.json`` and ``.md`` in ``--out`` (for ``reports``, also the
    ``report:gatelevel`` block of docs/boards.md). A failing case stops the run with its
    message."""
    parser = argparse.ArgumentParser(prog="python -m scripts.gatelevel_report")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--targets", nargs="+", default=sorted(TARGETS), choices=sorted(TARGETS))
    parser.add_argument("--families", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--selftests", nargs="*", default=list(CASES), choices=list(CASES),
                        help="families whose self-test netlist runs (PASS and FAIL)")
    args = parser.parse_args(argv)
    catalog = {e.name: e for e in DEFAULT_CATALOG}
    rows, selftests = [], []
    for family in args.families:
        for target in args.targets:
            rows.append(run_case(family, target))
            _write_report(args.out, rows, selftests, rows[-1])    # each result once it is in
        # The self-test top on one target per family (its UART, ROMs and counters are the
        # same logic on both).
        for corrupt in (False, True):
            if family in args.selftests:
                selftests.append(simulate_selftest_netlist(
                    catalog[CASES[family][0]], DEFAULT_TARGET[family], beats=SELFTEST_BEATS,
                    corrupt=corrupt, runs=2 if corrupt else 4))
                _write_report(args.out, rows, selftests, selftests[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
