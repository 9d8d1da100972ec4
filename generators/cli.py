"""Command line: ``python -m generators VERB ...``, one CLI for every layer.

Each verb lives with the layer that does its work. The core's own verbs are the rows of
:data:`CORE_VERBS`; the layers above (boards and synthesis in ``fpga/``, figures and reports in
``scripts/``) register theirs as package entry points in the group ``mlhw_generators.verbs``
(see pyproject.toml), so the core never imports them. A layer may also add options to a verb of
a layer below it, in the group ``mlhw_generators.verb_options``: the option's ``after`` gets the
verb's result (``bitstream --report`` is the figures layer's option on the boards layer's verb).

Every user mistake and every failure of the environment (a folder that is a file, a permission)
ends as one ``error: ...`` line on stderr and exit status 2; a check that finds a difference
(``build --check`` finding stale output, ``baseline``, ``bridge``) exits 1; Ctrl-C ends as
``error: interrupted`` and exit status 130. Nothing is written until every requested block has
been generated, and what is written is whole (see ``emit.py``).
"""

import argparse
import dataclasses
import importlib.metadata
import os
import sys
import typing
from pathlib import Path

from . import __version__
from .catalog import DEFAULT_CATALOG, FAMILIES, load_config, select
from .params import ParamError, did_you_mean, show

__all__ = ["main", "Verb", "VerbOption", "CheckFailed", "CORE_VERBS", "BUILD_ROOT", "add_selection",
           "selected_entries", "registered_verbs", "check_out_folder", "describe_os_error"]

EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130        # the shell's status for a process ended by SIGINT

#: Every verb's work folders go under this one root (``build/synth``, ``build/boards``, ...).
BUILD_ROOT = Path("build")

VERB_GROUP = "mlhw_generators.verbs"
OPTION_GROUP = "mlhw_generators.verb_options"


@dataclasses.dataclass(frozen=True)
class Verb:
    """One verb of the CLI: ``run(args)`` does the work and returns its result (rows, paths or
    None), which the options other layers add to the verb receive."""

    name: str
    help: str                                   # one line in the list of verbs
    description: str                            # the verb's --help
    add_arguments: typing.Callable              # (parser) -> None
    run: typing.Callable                        # (args) -> result


@dataclasses.dataclass(frozen=True)
class VerbOption:
    """Options a layer adds to a verb of a layer below it: ``after(args, result)`` runs once the
    verb has succeeded."""

    verb: str
    add_arguments: typing.Callable              # (parser) -> None
    after: typing.Callable                      # (args, result) -> None


class CheckFailed(Exception):
    """A check found a difference (exit status 1): stale output, figures outside their baseline,
    a board's output different from the model. Its message is the one ``error:`` line."""


#: Said when only the core's verbs are found: the others are entry points, which exist only in
#: an installed package's metadata (a checkout that was never installed, or installed before).
UNINSTALLED_HINT = ("the verbs of fpga/ and scripts/ (synth, bitstream, report, ...) register "
                    "when the package is installed: pip install -e '.[dev]'")


class _Parser(argparse.ArgumentParser):
    hint = None

    def error(self, message):
        # argparse's default prints the whole usage; one line is enough to act on.
        if self.hint and "invalid choice" in message:
            message = f"{message}; {self.hint}"
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def add_selection(parser):
    """``--config`` and ``--only``: which blocks a verb works on (see :func:`selected_entries`)."""
    parser.add_argument("--config", metavar="FILE.toml", type=Path,
                        help="build the blocks of this TOML file instead of the default catalog")
    parser.add_argument("--only", metavar="NAME", action="append", default=[],
                        help="only this block (repeatable)")
    parser.add_argument("--force", action="store_true",
                        help="build blocks the resource guards refuse (estimated Verilog, "
                             "memory or elaboration time above the limits)")


def selected_entries(args):
    """The entries that ``--config`` and ``--only`` select, each within the resource guards'
    limits unless ``--force`` (:mod:`generators.guards`: refused before any elaboration)."""
    from .guards import check_entries

    entries = load_config(args.config) if args.config else DEFAULT_CATALOG
    entries = select(entries, args.only)
    return entries if getattr(args, "force", False) else check_entries(entries)


# --- the core's verbs -------------------------------------------------------------------------

def _build_arguments(parser):
    add_selection(parser)
    parser.add_argument("--out", metavar="DIR", type=Path, default=Path("hdl"),
                        help="output folder (default: hdl)")
    # --list writes nothing already: with --check it would silently check nothing.
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--list", action="store_true",
                      help="list the blocks and their parameters, write nothing")
    what.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 if the output folder differs from what the "
                           "generators produce now")


def check_out_folder(path, option="--out"):
    """Refuse ``path`` as an output folder when it, or the nearest folder above it that exists,
    is a file or cannot be written, before any work starts."""
    path = Path(path)
    for folder in (path, *path.parents):
        if folder.exists():
            if not folder.is_dir():
                where = "the file" if folder == path else "below the file"
                raise ParamError(f"{option} must be a folder, not {where} {str(folder)!r}")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise ParamError(f"{option} {str(path)!r} cannot be written: {str(folder)!r} is "
                                 f"read-only for this user")
            return


def _count(number, noun):
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _build(args):
    from .emit import build_folder, leftover_files, render, stale_files, write_files

    entries = selected_entries(args)
    if args.list:
        for entry in entries:
            settings = ", ".join(f"{k}={v}" for k, v in entry.params.to_dict().items())
            print(f"{entry.name:24} {entry.params.family:6} {settings}")
        return None
    check_out_folder(args.out)
    files = {}
    for entry in entries:
        files.update(render(entry))
    # Left-over outputs of removed entries are known only when the whole catalog was rendered.
    complete = not (args.only or args.config)
    if args.check:
        if args.out.is_dir():
            with build_folder(args.out, shared=True):
                stale = stale_files(files, args.out, complete)
        else:
            stale = sorted(files)
        if stale:
            raise CheckFailed(f"{args.out} is stale ({', '.join(stale)}); run: python -m "
                              f"generators build")
        print(f"{args.out}: {len(files)} files up to date")
        return None
    args.out.mkdir(parents=True, exist_ok=True)
    with build_folder(args.out):
        leftovers = leftover_files(files, args.out) if complete else []
        written = write_files(files, args.out, remove=leftovers)
    removed = f", removed {_count(len(leftovers), 'left-over file')}" if leftovers else ""
    print(f"{args.out}: wrote {_count(len(written), 'file')}, {len(files) - len(written)} "
          f"unchanged{removed} ({_count(len(entries), 'block')})")
    return None


BUILD = Verb("build", help="emit Verilog + manifests (default: whole catalog)",
             description="Emit Verilog and one manifest JSON per block.",
             add_arguments=_build_arguments, run=_build)


def _params_arguments(parser):
    parser.add_argument("family", metavar="FAMILY", help=f"one of {', '.join(FAMILIES)}")
    parser.add_argument("--markdown", action="store_true",
                        help="a markdown table, as the docs pages embed it")


def _params(args):
    from .params import parameter_table_markdown, parameter_table_text

    if args.family not in FAMILIES:
        raise ParamError(f"family must be one of {', '.join(map(repr, FAMILIES))}, not "
                         f"{show(args.family)}{did_you_mean(args.family, FAMILIES)}")
    table = parameter_table_markdown if args.markdown else parameter_table_text
    print(table(FAMILIES[args.family].params_class), end="")
    return 0


PARAMS = Verb("params", help="the parameter table of a family",
              description="Print a family's parameters: kind, default, allowed values, where "
                          "each applies and what it does.",
              add_arguments=_params_arguments, run=_params)

#: The core layer's verbs, one row each, in the order ``--help`` lists them.
CORE_VERBS = (
    BUILD,
    PARAMS,
)


# --- discovery and dispatch -------------------------------------------------------------------

def _entry_point_objects(group, kind):
    found = []
    for point in sorted(importlib.metadata.entry_points(group=group), key=lambda p: p.name):
        thing = point.load()
        if not isinstance(thing, kind):
            raise TypeError(f"entry point {point.name} = {point.value!r} in {group} must be a "
                            f"{kind.__name__}, not {type(thing).__name__}")
        if kind is Verb and thing.name != point.name:
            raise ValueError(f"entry point {point.name} = {point.value!r} names the verb "
                             f"{thing.name!r}: register a verb under its own name")
        found.append(thing)
    return found


def registered_verbs():
    """``({name: Verb}, [VerbOption])``: the core's verbs first, then the installed layers'."""
    verbs = {verb.name: verb for verb in CORE_VERBS}
    for verb in _entry_point_objects(VERB_GROUP, Verb):
        if verb.name in verbs:
            raise ValueError(f"the verb {verb.name!r} is registered twice")
        verbs[verb.name] = verb
    options = _entry_point_objects(OPTION_GROUP, VerbOption)
    for option in options:
        if option.verb not in verbs:
            raise ValueError(f"an option is registered for the verb {option.verb!r}, which no "
                             f"layer provides")
    return verbs, options


def _parser(verbs, options):
    parser = _Parser(prog="python -m generators",
                     description="Generate, check and measure verified ML-accelerator blocks.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    if len(verbs) == len(CORE_VERBS):
        parser.epilog = parser.hint = UNINSTALLED_HINT
    subparsers = parser.add_subparsers(dest="verb", required=True,
                                       metavar="{" + ",".join(verbs) + "}", parser_class=_Parser)
    for verb in verbs.values():
        sub = subparsers.add_parser(verb.name, help=verb.help, description=verb.description)
        verb.add_arguments(sub)
        for option in options:
            if option.verb == verb.name:
                option.add_arguments(sub)
    return parser


def describe_os_error(error):
    """One line for an :class:`OSError`: what failed, on which path, and why."""
    reason = error.strerror or str(error)
    if error.filename is None:
        return reason
    if error.filename2 is not None:
        return f"cannot move {str(error.filename)!r} to {str(error.filename2)!r}: {reason}"
    return f"cannot use {str(error.filename)!r}: {reason}"


def main(argv=None):
    try:
        return _dispatch(argv)
    except KeyboardInterrupt:       # Ctrl-C: whatever was written is whole (see emit.py)
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _dispatch(argv):
    verbs, options = registered_verbs()
    try:
        args = _parser(verbs, options).parse_args(argv)
    except SystemExit as done:      # --help, --version, usage errors: report the status
        return done.code
    verb = verbs[args.verb]
    try:
        result = verb.run(args)
        for option in options:
            if option.verb == verb.name:
                option.after(args, result)
    except CheckFailed as failed:
        print(f"error: {failed}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    except ParamError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as error:   # a tool (yosys, nextpnr) failed: its message says which
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:        # the environment: a folder that is a file, no permission
        print(f"error: {describe_os_error(error)}", file=sys.stderr)
        return EXIT_USAGE
    return 0
