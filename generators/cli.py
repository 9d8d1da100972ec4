"""Command line: ``python -m generators {build,params,synth,report,bitstream} ...``.

Every user mistake ends as one ``error: ...`` line on stderr and exit status 2; ``build --check``
finding stale output exits 1. Nothing is written until every requested block has been generated.
"""

import argparse
import sys
from pathlib import Path

from . import __version__
from .catalog import DEFAULT_CATALOG, load_config, select
from .params import ParamError

__all__ = ["main"]

EXIT_STALE = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # argparse's default prints the whole usage; one line is enough to act on.
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _add_selection(parser):
    parser.add_argument("--config", metavar="FILE.toml", type=Path,
                        help="build the blocks of this TOML file instead of the default catalog")
    parser.add_argument("--only", metavar="NAME", action="append", default=[],
                        help="only this block (repeatable)")


def _parser():
    parser = _Parser(prog="python -m generators",
                     description="Generate, check and measure verified ML-accelerator blocks.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True,
                                  metavar="{build,params,synth,report,bitstream}",
                                  parser_class=_Parser)

    build = verbs.add_parser("build", help="emit Verilog + manifests (default: whole catalog)",
                             description="Emit Verilog and one manifest JSON per block.")
    _add_selection(build)
    build.add_argument("--out", metavar="DIR", type=Path, default=Path("hdl"),
                       help="output folder (default: hdl)")
    build.add_argument("--list", action="store_true",
                       help="list the blocks and their parameters, write nothing")
    build.add_argument("--check", action="store_true",
                       help="write nothing; exit 1 if the output folder differs from what the "
                            "generators produce now")

    params = verbs.add_parser("params", help="the parameter table of a family",
                              description="Print a family's parameters: kind, default, allowed "
                                          "values, where each applies and what it does.")
    params.add_argument("family", metavar="FAMILY", help="gelu, softmax, deform, lut_tc, ...")
    params.add_argument("--markdown", action="store_true",
                        help="a markdown table, as the docs pages embed it")

    synth = verbs.add_parser(
        "synth", help="out-of-context yosys + nextpnr: LUT/FF/DSP/BRAM and Fmax",
        description="Synthesise, place and route blocks out of context and write "
                    "synth.json and synth.md.")
    _add_selection(synth)
    synth.add_argument("--target", action="append", default=[], metavar="TARGET",
                       help="ice40-up5k or ecp5-85f (repeatable; default: both)")
    synth.add_argument("--out", metavar="DIR", type=Path, default=Path("build/synth"),
                       help="work and report folder (default: build/synth)")

    report = verbs.add_parser(
        "report", help="accuracy, latency and synthesis figures per block (README tables)",
        description="Measure every selected block and write reports/<family>.json and .md.")
    _add_selection(report)
    report.add_argument("--no-synth", action="store_true",
                        help="accuracy and latency only (no yosys/nextpnr)")
    report.add_argument("--out", metavar="DIR", type=Path, default=Path("reports"),
                        help="report folder (default: reports)")

    bitstream = verbs.add_parser(
        "bitstream", help="self-test bitstream of a block for a board (yosys, nextpnr, "
                          "icepack/ecppack)",
        description="Build the on-chip self-test of each selected block for each board into "
                    "<out>/<board>/<name>-<digest>/ (bitstream, nextpnr report, logs, params).")
    bitstream.add_argument("--board", action="append", default=[], metavar="BOARD",
                           help="icebreaker, ulx3s or orangecrab (repeatable; required)")
    _add_selection(bitstream)
    bitstream.add_argument("--design", choices=("selftest", "bridge"), default="selftest",
                           help="selftest: on-chip test, LEDs and UART summary (default); "
                                "bridge: UART-to-stream bridge for scripts/host_bridge.py")
    bitstream.add_argument("--out", metavar="DIR", type=Path, default=Path("build/boards"),
                           help="build folder (default: build/boards)")
    bitstream.add_argument("--report", metavar="DIR", type=Path,
                           help="also merge the figures into DIR/boards.json and boards.md and "
                                "the README table")
    return parser


def _entries(args):
    entries = load_config(args.config) if args.config else DEFAULT_CATALOG
    return select(entries, args.only)


def _build(args):
    from .emit import render, stale_files, write_files

    entries = _entries(args)
    if args.list:
        for entry in entries:
            settings = ", ".join(f"{k}={v}" for k, v in entry.params.to_dict().items())
            print(f"{entry.name:24} {entry.params.family:6} {settings}")
        return 0
    if args.out.exists() and not args.out.is_dir():
        raise ParamError(f"--out must be a folder, not the file {str(args.out)!r}")
    files = {}
    for entry in entries:
        files.update(render(entry))
    if args.check:
        stale = stale_files(files, args.out, complete=not (args.only or args.config))
        if stale:
            print(f"error: {args.out} is stale ({', '.join(stale)}); run: python -m generators "
                  f"build", file=sys.stderr)
            return EXIT_STALE
        print(f"{args.out}: {len(files)} files up to date")
        return 0
    write_files(files, args.out)
    print(f"wrote {len(files)} files for {len(entries)} blocks to {args.out}")
    return 0


def _params(args):
    from .catalog import FAMILIES
    from .params import did_you_mean, parameter_table_markdown, parameter_table_text, show

    if args.family not in FAMILIES:
        raise ParamError(f"family must be one of {', '.join(map(repr, FAMILIES))}, not "
                         f"{show(args.family)}{did_you_mean(args.family, FAMILIES)}")
    table = parameter_table_markdown if args.markdown else parameter_table_text
    print(table(FAMILIES[args.family].params_class), end="")
    return 0


def _synth(args):
    from fpga.ooc import TARGETS
    from scripts.report import synth_entries, write_synth_reports

    targets = args.target or sorted(TARGETS)
    for target in targets:
        if target not in TARGETS:
            raise ParamError(f"--target must be one of {', '.join(map(repr, sorted(TARGETS)))}, "
                             f"not {target!r}")
    rows = synth_entries(_entries(args), targets, args.out)
    write_synth_reports(rows, args.out)
    print(f"wrote {args.out / 'synth.json'} and {args.out / 'synth.md'}")
    return 0


def _report(args):
    from scripts.report import write_family_reports

    paths = write_family_reports(_entries(args), args.out, synth=not args.no_synth)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _bitstream(args):
    from fpga.bitstream import build_bitstream, write_board_report
    from fpga.boards import board
    from fpga.selftest import check_supported

    if not args.board:
        from fpga.boards import BOARDS
        raise ParamError(f"--board is required: one of {', '.join(map(repr, BOARDS))}")
    boards = [board(name).name for name in args.board]
    entries = _entries(args)
    for entry in entries:       # refuse unsupported blocks before the first (long) build
        check_supported(entry)
    rows = []
    for name in boards:
        for entry in entries:
            row = build_bitstream(entry, name, args.out, design=args.design)
            rows.append(row)
            print(f"{name} {entry.name} {args.design}: {row['bitstream']} (logic cells {row['lc']['used']}/"
                  f"{row['lc']['available']}, Fmax {row['fmax_mhz']:.1f} MHz for a "
                  f"{row['target_mhz']:g} MHz clock)")
    if args.report:
        # The README beside the report folder (the repository's, for --report reports) gets the table.
        paths = write_board_report(rows, args.report, readme=args.report.parent / "README.md")
        print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def main(argv=None):
    try:
        args = _parser().parse_args(argv)
    except SystemExit as done:      # --help, --version, usage errors: report the status
        return done.code
    try:
        return {"build": _build, "params": _params, "synth": _synth, "report": _report,
                "bitstream": _bitstream}[args.verb](args)
    except ParamError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as error:   # a tool (yosys, nextpnr) failed: its message says which
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE

