"""The verbs of the boards and synthesis layer: ``synth``, ``bitstream``, ``baseline``, ``bridge``.

Registered as entry points of the group ``mlhw_generators.verbs`` (pyproject.toml); the core's
CLI finds them there. Heavy imports (amaranth-boards, the flows) wait for ``run``.
"""

import time
from pathlib import Path

from generators.cli import (BUILD_ROOT, CheckFailed, Verb, add_selection, check_out_folder,
                            selected_entries)
from generators.params import ParamError

__all__ = ["SYNTH", "BITSTREAM", "BASELINE", "BRIDGE"]


def _synth_arguments(parser):
    add_selection(parser)
    parser.add_argument("--target", action="append", default=[], metavar="TARGET",
                        help="ice40-up5k or ecp5-85f (repeatable; default: both)")
    parser.add_argument("--out", metavar="DIR", type=Path, default=BUILD_ROOT / "synth",
                        help=f"work and report folder (default: {BUILD_ROOT / 'synth'})")


def _synth(args):
    from .ooc import TARGETS, reporting_to, synth_entries, write_synth_reports

    check_out_folder(args.out)
    # A target named twice is synthesised once: one row per target.
    targets = list(dict.fromkeys(args.target)) or sorted(TARGETS)
    for target in targets:
        if target not in TARGETS:
            raise ParamError(f"--target must be one of {', '.join(map(repr, sorted(TARGETS)))}, "
                             f"not {target!r}")
    from .progress import Progress

    entries = selected_entries(args)
    with Progress("synth", len(entries) * len(targets)) as progress, reporting_to(progress):
        rows = synth_entries(entries, targets, args.out)
    write_synth_reports(rows, args.out)
    print(f"wrote {args.out / 'synth.json'} and {args.out / 'synth.md'}")
    return rows


SYNTH = Verb(
    "synth", help="out-of-context yosys + nextpnr: LUT/FF/DSP/BRAM and Fmax",
    description="Synthesise, place and route blocks out of context and write synth.json and "
                "synth.md.",
    add_arguments=_synth_arguments, run=_synth)


def _add_boards(parser):
    parser.add_argument("--board", action="append", default=[], metavar="BOARD",
                        help="icebreaker, ulx3s or orangecrab (repeatable; required)")


def _boards(args):
    from .boards import BOARDS, board

    if not args.board:
        raise ParamError(f"--board is required: one of {', '.join(map(repr, BOARDS))}")
    return [board(name).name for name in args.board]


def _bitstream_arguments(parser):
    _add_boards(parser)
    add_selection(parser)
    parser.add_argument("--design", choices=("selftest", "bridge"), default="selftest",
                        help="selftest: on-chip test, LEDs and UART summary (default); "
                             "bridge: UART-to-stream bridge for the bridge verb")
    parser.add_argument("--out", metavar="DIR", type=Path, default=BUILD_ROOT / "boards",
                        help=f"build folder (default: {BUILD_ROOT / 'boards'})")


def _bitstream(args):
    """Build every selected block for every board; return the result rows."""
    from .bitstream import build_bitstream
    from .selftest import check_selftest

    boards = _boards(args)
    entries = selected_entries(args)
    for entry in entries:       # refuse unsupported blocks before the first (long) build
        check_selftest(entry)   # the bridge drives the same blocks (multi-stream: framed)
    from .progress import Progress

    rows = []
    with Progress("bitstream", len(boards) * len(entries)) as progress:
        for name in boards:
            for entry in entries:
                progress.start(f"{name} {entry.name}")
                began = time.monotonic()
                try:
                    row = build_bitstream(entry, name, args.out, design=args.design)
                except BaseException:
                    progress.finish(f"{name} {entry.name}", "failed", time.monotonic() - began)
                    raise
                progress.finish(f"{name} {entry.name}", "done", time.monotonic() - began)
                rows.append(row)
                print(f"{name} {entry.name} {args.design}: {row['bitstream']} (logic cells "
                      f"{row['lc']['used']}/{row['lc']['available']}, Fmax "
                      f"{row['fmax_mhz']:.1f} MHz for a {row['target_mhz']:g} MHz clock)")
    return rows


BITSTREAM = Verb(
    "bitstream", help="self-test bitstream of a block for a board (yosys, nextpnr, "
                      "icepack/ecppack)",
    description="Build the on-chip self-test of each selected block for each board into "
                "<out>/<board>/<name>-<digest>/ (bitstream, nextpnr report, logs, params).",
    add_arguments=_bitstream_arguments, run=_bitstream)


def _baseline_arguments(parser):
    _add_boards(parser)
    add_selection(parser)
    parser.add_argument("--update", action="store_true",
                        help="store the fresh figures as the baselines (after a deliberate change)")
    parser.add_argument("--out", metavar="DIR", type=Path, default=BUILD_ROOT / "boards",
                        help=f"build folder (default: {BUILD_ROOT / 'boards'})")


def _baseline(args):
    from .regression import check_baselines

    boards, entries = _boards(args), selected_entries(args)
    failed = check_baselines(boards, entries, args.out, update=args.update)
    if failed:
        raise CheckFailed(f"{failed} of {len(boards) * len(entries)} board builds are outside "
                          f"their baselines")


BASELINE = Verb(
    "baseline", help="board builds against their stored resource and Fmax baselines",
    description="Build the self-test of each selected block for each board and compare its "
                "figures with fpga/baselines/ (exit 1 outside the tolerances); --update stores "
                "them.",
    add_arguments=_baseline_arguments, run=_baseline)


def _bridge_arguments(parser):
    from .host_bridge import add_arguments

    add_arguments(parser)


def _bridge(args):
    from .host_bridge import run

    return run(args)


BRIDGE = Verb(
    "bridge", help="push frames through a block on a board (bitstream --design bridge) and "
                   "check the model",
    description="Host side of the UART bridge: send frames to the board, read the outputs and "
                "compare them bit for bit with the golden model (exit 1 on a difference).",
    add_arguments=_bridge_arguments, run=_bridge)
