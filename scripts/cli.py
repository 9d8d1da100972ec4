"""The verbs of the figures and reports layer: ``report``, and ``--report`` on ``bitstream``.

Registered as entry points (pyproject.toml): ``report`` in ``mlhw_generators.verbs``, the board
figures option in ``mlhw_generators.verb_options`` (it gets the rows the boards layer's
``bitstream`` verb returns and writes them, so the boards layer never writes a report).
"""

import argparse
from pathlib import Path

from generators.cli import Verb, VerbOption, add_selection, selected_entries

__all__ = ["REPORT", "BITSTREAM_REPORT"]


def _report_arguments(parser):
    add_selection(parser)
    parser.add_argument("--no-synth", action="store_true",
                        help="accuracy and latency only (no yosys/nextpnr)")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="report folder (default: the repository's reports/); the measured "
                             "rows are merged into its report files")


def _report(args):
    from .report import default_reports_dir, docs_root, write_family_reports

    entries = selected_entries(args)
    out = default_reports_dir() if args.out is None else args.out
    # Only the whole default catalog into the repository's reports rewrites the docs pages.
    pages = docs_root(entries, out)
    paths = write_family_reports(entries, out, synth=not args.no_synth, pages=pages)
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
