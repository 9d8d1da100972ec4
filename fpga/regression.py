"""Resource and Fmax baselines of the board bitstreams, and the check against them.

One file per board, tool versions and block: ``fpga/baselines/<board>/<toolchain>/<name>.json``
with ``<toolchain>`` like ``yosys-0.70_nextpnr-0.11.1`` (other tool versions place and route
differently, so they get their own baselines). A fresh build must lie within the tolerances
below of its baseline in both directions: a regression fails loudly, and so does an improvement,
so that the stored figures stay the ones the README quotes. Checked by the ``baseline`` verb
(:mod:`fpga.cli`); after a deliberate change::

    python -m generators baseline --update --board icebreaker --only gelu_int8
"""

from __future__ import annotations

import json
from pathlib import Path

from generators.emit import write_atomic

from .bitstream import toolchain_tag

__all__ = ["BASELINES", "FMAX_TOLERANCE", "AREA_TOLERANCE", "METRICS", "baseline_path",
           "baseline_of", "compare", "check_baselines"]

BASELINES = Path(__file__).resolve().parent / "baselines"
#: Relative tolerances. The flow is seeded, so an unchanged design reproduces its figures
#: exactly; these bound what a change may move them. Fmax is chaotic under placement: one-register
#: changes of the self-test moved the iCEBreaker build between 34.9 and 41.2 MHz and the
#: OrangeCrab one by 2-3 %, so 2 % would flag noise; 10 % still catches real regressions.
FMAX_TOLERANCE = 0.10
AREA_TOLERANCE = 0.10
#: metric -> tolerance; site counts are the "used" figure of the build row.
METRICS = {"fmax_mhz": FMAX_TOLERANCE, "lc": AREA_TOLERANCE, "ff": AREA_TOLERANCE,
           "bram": AREA_TOLERANCE, "dsp": AREA_TOLERANCE}


def baseline_of(row):
    """The stored figures of a build row: Fmax and the used count of each site."""
    return {key: (row[key] if key == "fmax_mhz" else row[key]["used"])
            for key in METRICS if key in row}


def baseline_path(board_family, board_name, name):
    return BASELINES / board_name / toolchain_tag(board_family) / f"{name}.json"


def compare(fresh, stored):
    """Messages for each metric of ``fresh`` (a :func:`baseline_of` dict) outside its tolerance
    of ``stored``; empty when everything is within."""
    problems = []
    for key, tolerance in METRICS.items():
        if key not in stored:
            continue
        if key not in fresh:
            problems.append(f"{key} missing from the fresh report (baseline {stored[key]})")
            continue
        base, now = stored[key], fresh[key]
        # Counts of 0 (no BRAM, say) get an absolute allowance of 1 instead of 10 % of nothing.
        allowed = max(abs(base) * tolerance, 0 if key == "fmax_mhz" else 1)
        if abs(now - base) > allowed:
            change = (now - base) / base * 100 if base else float("inf")
            problems.append(f"{key} {now} vs baseline {base} ({change:+.1f} %, tolerance "
                            f"{tolerance * 100:g} %)")
    return problems


def check_baselines(board_names, entries, out_dir, *, update=False):
    """Build each entry for each board and compare it with its baseline (or, with ``update``,
    store the fresh figures); print one line per build and return the number out of tolerance
    or without a baseline."""
    from .bitstream import build_bitstream
    from .boards import board

    failed = 0
    for name in board_names:
        b = board(name)
        for entry in entries:
            fresh = baseline_of(build_bitstream(entry, b.name, out_dir))
            path = baseline_path(b.family, b.name, entry.name)
            if update:
                write_atomic(path, (json.dumps(fresh, indent=2, sort_keys=True) + "\n").encode())
                print(f"wrote {path}")
                continue
            problems = compare(fresh, json.loads(path.read_text())) if path.is_file() else \
                [f"no baseline {path}"]
            failed += bool(problems)
            print(f"{b.name} {entry.name}: " + ("; ".join(problems) or "within tolerance"))
    return failed
