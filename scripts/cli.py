"""The verbs of the figures and reports layer: ``report``, and ``--report`` on ``bitstream``.

Registered as entry points (pyproject.toml): ``report`` in ``mlhw_generators.verbs``, the board
figures option in ``mlhw_generators.verb_options`` (it gets the rows the boards layer's
``bitstream`` verb returns and writes them, so the boards layer never writes a report).
"""

import argparse
from pathlib import Path

from generators.cli import BUILD_ROOT, Verb, VerbOption, add_selection, selected_entries

__all__ = ["REPORT", "BITSTREAM_REPORT", "SWEEP", "add_engine_arguments", "engine_from_args"]


def add_engine_arguments(parser, default_workers="all cores"):
    """``--workers``, ``--address``, ``--retries``: where the engine's tasks run."""
    parser.add_argument("--workers", metavar="N", type=_positive,
                        help=f"tasks at once on a local Ray cluster (default: {default_workers})")
    parser.add_argument("--address", metavar="HOST:PORT",
                        help="run on this existing Ray cluster (default: $RAY_ADDRESS, else a "
                             "local cluster of this machine's cores)")
    parser.add_argument("--retries", metavar="N", type=int, default=2,
                        help="runs again a task whose worker died, up to N times (default: 2)")


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, not {text!r}")
    return value


def engine_from_args(args, inline=False):
    """The :class:`scripts.engine.Engine` the engine options ask for."""
    from .engine import Engine

    return Engine(workers=args.workers, address=args.address, retries=args.retries,
                  inline=inline and not args.address)


def _report_arguments(parser):
    add_selection(parser)
    parser.add_argument("--no-synth", action="store_true",
                        help="accuracy and latency only (no yosys/nextpnr)")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="report folder (default: the repository's reports/); the measured "
                             "rows are merged into its report files")
    add_engine_arguments(parser, default_workers="all cores; 1 runs in this process")


def _report(args):
    from .report import default_reports_dir, docs_root, write_family_reports

    entries = selected_entries(args)
    out = default_reports_dir() if args.out is None else args.out
    # Only the whole default catalog into the repository's reports rewrites the docs pages.
    pages = docs_root(entries, out)
    # Without synthesis, or on one worker, the rows are quick: no cluster to start.
    inline = args.no_synth or args.workers == 1
    with engine_from_args(args, inline=inline) as engine:
        paths = write_family_reports(entries, out, synth=not args.no_synth, pages=pages,
                                     engine=engine)
    print("wrote " + ", ".join(str(p) for p in paths))
    if pages is None:
        print("docs pages left alone (they follow a whole-catalog report into the repository's "
              "reports/ only)")
    return paths


REPORT = Verb(
    "report", help="accuracy, latency and synthesis figures per block (docs tables)",
    description="Measure every selected block and merge its rows into <out>/<family>.json and "
                ".md; a whole-catalog run into the repository's reports/ also rewrites the "
                "family pages' tables.",
    add_arguments=_report_arguments, run=_report)


def _report_folder(text):
    """``--report``'s folder, refused at once (not after the bitstreams) if it cannot be one."""
    from generators.params import ParamError

    from generators.cli import check_out_folder

    try:
        check_out_folder(Path(text), "--report")
    except ParamError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return Path(text)


def _board_report_arguments(parser):
    parser.add_argument("--report", metavar="DIR", type=_report_folder,
                        help="also merge the figures into DIR/boards.json and boards.md (and, "
                             "for the repository's reports/, the table of docs/boards.md)")


def _board_report(args, rows):
    if args.report is None:
        return
    from .board_report import boards_page, write_board_report

    paths = write_board_report(rows, args.report, page=boards_page(args.report))
    print("wrote " + ", ".join(str(p) for p in paths))


BITSTREAM_REPORT = VerbOption("bitstream", add_arguments=_board_report_arguments,
                              after=_board_report)


def _sweep_arguments(parser):
    parser.add_argument("spec", metavar="SPEC.toml", type=Path,
                        help="the sweep: family, [params], [grid] or [search], targets, seeds, "
                             "[plot] (see docs/sweeps.md)")
    parser.add_argument("--out", metavar="DIR", type=Path, default=BUILD_ROOT / "sweeps",
                        help=f"results folder: <name>.csv, .json, .png, .svg (default: "
                             f"{BUILD_ROOT / 'sweeps'})")
    add_engine_arguments(parser, default_workers="all cores; 1 runs a grid in this process")


def _sweep(args):
    from generators.cli import check_out_folder

    from .sweep import load_spec, run_sweep, write_results

    spec = load_spec(args.spec)
    check_out_folder(args.out)
    from .sweep import spec_points, validate_points

    validate_points(spec, spec_points(spec))        # every point, before Ray starts
    # One worker for a grid: the points one after another in this process, no cluster to start
    # (as report does); the search modes run on Ray Tune whatever the count.
    inline = args.workers == 1 and not spec.search
    with engine_from_args(args, inline=inline) as engine:
        rows = run_sweep(spec, engine)
    paths = write_results(spec, rows, args.out)
    failed = sum(1 for row in rows if row.get("error"))
    print(f"{len(rows)} rows ({failed} failed): wrote " + ", ".join(str(p) for p in paths))
    return rows


SWEEP = Verb(
    "sweep", help="design-space sweep of one family on Ray: table and Pareto plots",
    description="Build, measure and synthesise every point of a sweep spec (a grid, or a "
                "random or model-based search) on a local or existing Ray cluster; results "
                "are cached by content, so a rerun costs nothing for finished points.",
    add_arguments=_sweep_arguments, run=_sweep)
