"""The verbs of the figures and reports layer: ``report``, and ``--report`` on ``bitstream``.

Registered as entry points (pyproject.toml): ``report`` in ``mlhw_generators.verbs``, the board
figures option in ``mlhw_generators.verb_options`` (it gets the rows the boards layer's
``bitstream`` verb returns and writes them, so the boards layer never writes a report).
"""

from pathlib import Path

from generators.cli import Verb, VerbOption, add_selection, selected_entries

__all__ = ["REPORT", "BITSTREAM_REPORT"]


def _report_arguments(parser):
    add_selection(parser)
    parser.add_argument("--no-synth", action="store_true",
                        help="accuracy and latency only (no yosys/nextpnr)")
    parser.add_argument("--out", metavar="DIR", type=Path, default=Path("reports"),
                        help="report folder (default: reports)")


def _report(args):
    from .report import write_family_reports

    paths = write_family_reports(selected_entries(args), args.out, synth=not args.no_synth)
    print("wrote " + ", ".join(str(p) for p in paths))
    return paths


REPORT = Verb(
    "report", help="accuracy, latency and synthesis figures per block (docs tables)",
    description="Measure every selected block and write reports/<family>.json and .md.",
    add_arguments=_report_arguments, run=_report)


def _board_report_arguments(parser):
    parser.add_argument("--report", metavar="DIR", type=Path,
                        help="also merge the figures into DIR/boards.json and boards.md and "
                             "the table of docs/boards.md")


def _board_report(args, rows):
    if args.report is None:
        return
    from .board_report import write_board_report

    # The boards page beside the report folder (the repository's, for --report reports).
    paths = write_board_report(rows, args.report, page=args.report.parent / "docs" / "boards.md")
    print("wrote " + ", ".join(str(p) for p in paths))


BITSTREAM_REPORT = VerbOption("bitstream", add_arguments=_board_report_arguments,
                              after=_board_report)
