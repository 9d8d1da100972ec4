"""Parameters of the GELU approximator (one frozen, validated object for RTL, model and tests)."""

import dataclasses
import math
from fractions import Fraction

from ..fixedpoint import Fixed, Rounding
from ..params import (INT, STR, BlockParams, Derived, Kind, ParamTypeError, ParamValueError,
                      check_int, param, show, when)

__all__ = ["GeluParams", "METHODS", "TABLE_METHODS", "DIRECT_MAX_BITS", "AUTO_DIRECT_BITS",
           "EDGE_MOE_STEP_LOG2", "EDGE_MOE_ENTRIES", "DEFAULT_SEGMENTS"]

#: ``edge_moe``: Edge-MoE's table (seeds.md §3.2); ``fitted_pwl``: ours, non-uniform segments with
#: minimax-fitted node values; ``i_gelu``: I-BERT's integer polynomial (seeds.md §3.6a);
#: ``direct_table``: the correctly rounded output of every input code (MASE's design).
METHODS = ("direct_table", "edge_moe", "fitted_pwl", "i_gelu")
#: The interpolating methods (a correction table, two nodes, one multiplier).
TABLE_METHODS = ("edge_moe", "fitted_pwl")

#: A direct table has 2**in_width entries: up to 16 bits (64 Ki words a lane pair).
DIRECT_MAX_BITS = 16
#: The default method is ``direct_table`` up to this input width, ``fitted_pwl`` above: measured
#: on ECP5 85F and iCE40 UP5K (docs/families/gelu.md), the direct table is exact and takes less
#: fabric and no DSP up to here.
AUTO_DIRECT_BITS = 10

EDGE_MOE_STEP_LOG2 = 5        # step 1/32
EDGE_MOE_ENTRIES = 177        # u_k = k/32, k = 0..176: cut-off 5.5

#: (end, step_log2) per region, starting at 0. Curvature of delta(u) = u*Phi(-u) is largest near
#: 0 (|delta''(0)| = 0.80) and falls fast, so the step doubles where it has dropped ~4x; the
#: entry count (177) equals Edge-MoE's.
DEFAULT_SEGMENTS = ((1, 6), (2, 5), (4, 5), (6, 3))

MAX_TABLE_ENTRIES = 4096


def _number(value):
    """A Fraction as the plainest int or float, for messages and resolved defaults."""
    value = Fraction(value)
    return int(value) if value.denominator == 1 else float(value)


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _plain_all(value):
    """Nested tuples as nested lists, for the table text."""
    return [_plain_all(v) for v in value] if isinstance(value, tuple) else value


class _Segments(Kind):
    """A non-empty list of [end, step_log2] pairs of numbers, the ends finite."""

    def check(self, name, value):
        if not isinstance(value, tuple) or not value:
            raise ParamTypeError(f"{name} must be a non-empty list of [end, step_log2] pairs, "
                                 f"not {show(value)}")
        for k, pair in enumerate(value):
            if (not isinstance(pair, tuple) or len(pair) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                               for v in pair)):
                raise ParamTypeError(f"{name}[{k}] must be an [end, step_log2] pair of numbers, "
                                     f"not {show(_plain(pair))}")
            if not math.isfinite(pair[0]):
                raise ParamValueError(f"{name}[{k}] end must be a finite number, not {pair[0]!r}")


SEGMENTS = _Segments("list of [end, step_log2]", "a list of [end, step_log2] pairs", None)


def _default_segments(p):
    """:data:`DEFAULT_SEGMENTS` clipped to the input range, steps to the input's resolution."""
    clipped, start = [], Fraction(0)
    for end, step_log2 in DEFAULT_SEGMENTS:
        end = min(Fraction(end), p.max_magnitude)
        if end > start:
            clipped.append((_number(end), min(step_log2, p.in_frac)))
        start = end
    return tuple(clipped)


def _reach(p):
    """Table entries from 0 to the largest input magnitude at the table step, both included."""
    return int(p.max_magnitude * 2**p.table_step_log2) + 1


_REACH = "2**(in_width - in_frac - 1 + table_step_log2) + 1"
TABLES = when("method", *TABLE_METHODS)
EDGE_MOE = when("method", "edge_moe")


@dataclasses.dataclass(frozen=True)
class GeluParams(BlockParams):
    """Element-wise GELU, fully pipelined, ``lanes`` elements per beat; out-of-range results
    saturate. ``python -m generators params gelu`` lists the parameters."""

    family = "gelu"

    lanes: int = param(1, kind=INT, low=1, high=16, doc="Elements per beat.")
    in_width: int = param(16, kind=INT, low=8, high=32, doc="Width of the signed input.")
    in_frac: int = param(12, kind=INT, low=0, high=Derived("in_width - 2",
                                                             lambda p: p.in_width - 2),
                         doc="Fractional bits of the input.")
    out_width: int = param(16, kind=INT, low=8, high=32, doc="Width of the signed output.")
    out_frac: int = param(12, kind=INT, low=0, high=Derived("out_width - 2",
                                                              lambda p: p.out_width - 2),
                          doc="Fractional bits of the output.")
    rounding: str = param("half_up", kind=STR, choices=tuple(r.value for r in Rounding),
                          doc="How the output drops bits.")
    method: str = param(
        Derived(f"direct_table if in_width <= {AUTO_DIRECT_BITS}, else fitted_pwl",
                lambda p: "direct_table" if p.in_width <= AUTO_DIRECT_BITS else "fitted_pwl"),
        kind=STR, choices=METHODS,
        doc="direct_table: the correctly rounded output of every input code, in block RAM; "
            "edge_moe: Edge-MoE's uniform table; fitted_pwl: non-uniform segments with "
            "minimax-fitted nodes; i_gelu: I-BERT's integer polynomial.")
    # Four guard bits below the output LSB keep table rounding out of the output.
    table_frac: int | None = param(
        Derived("min(out_frac + 4, 30)", lambda p: min(p.out_frac + 4, 30)), kind=INT,
        low=2, high=30, applies=TABLES, doc="Fractional bits of the correction table.")
    table_step_log2: int | None = param(
        Derived(f"min({EDGE_MOE_STEP_LOG2}, in_frac)",
                lambda p: min(EDGE_MOE_STEP_LOG2, p.in_frac)),
        kind=INT, low=0, high="in_frac", applies=EDGE_MOE,
        doc="The table step is 2**-table_step_log2.")
    table_entries: int | None = param(
        Derived(f"min({EDGE_MOE_ENTRIES}, {_REACH})", lambda p: min(EDGE_MOE_ENTRIES, _reach(p))),
        kind=INT, low=2, high=Derived(f"min({MAX_TABLE_ENTRIES}, {_REACH})",
                                      lambda p: min(MAX_TABLE_ENTRIES, _reach(p))),
        applies=EDGE_MOE, doc="Table entries from 0 at the table step.")
    segments: tuple | None = param(
        Derived(f"{_plain_all(DEFAULT_SEGMENTS)} clipped to the input range",
                _default_segments),
        kind=SEGMENTS, applies=when("method", "fitted_pwl"),
        allowed=f"ends ascending to at most 2**(in_width - in_frac - 1), whole steps; step_log2 "
                f"0..in_frac; at most {MAX_TABLE_ENTRIES} entries",
        doc="Regions [previous end, end) of |x|, each with its own step 2**-step_log2.")

    def _check(self):
        if self.method == "direct_table" and self.in_width > DIRECT_MAX_BITS:
            raise ParamValueError(
                f"in_width must be at most {DIRECT_MAX_BITS} for method 'direct_table' (a table "
                f"of 2**in_width entries), not {self.in_width}")
        if self.method == "fitted_pwl":
            self._check_segments()

    @property
    def max_magnitude(self):
        """Largest ``|x|`` of the input format (that of its most negative code)."""
        return Fraction(2) ** (self.in_width - self.in_frac - 1)

    def _check_segments(self):
        start = Fraction(0)
        for k, pair in enumerate(self.segments):
            end, step_log2 = Fraction(pair[0]), pair[1]
            check_int(f"segments[{k}] step_log2", step_log2, 0, self.in_frac)
            if not start < end <= self.max_magnitude:
                raise ParamValueError(
                    f"segments[{k}] end must be above {_number(start)} and at most the largest "
                    f"input magnitude {_number(self.max_magnitude)}, not {show(pair[0])}")
            if ((end - start) * 2**step_log2).denominator != 1:
                raise ParamValueError(
                    f"segments[{k}] [{_number(start)}, {show(pair[0])}) is not a whole number "
                    f"of steps 2**-{step_log2}")
            start = end
        if self.table_entries_total > MAX_TABLE_ENTRIES:
            raise ParamValueError(f"segments need {self.table_entries_total} table entries, "
                                  f"more than the {MAX_TABLE_ENTRIES} allowed")

    @property
    def in_format(self):
        return Fixed(self.in_width, self.in_frac)

    @property
    def out_format(self):
        return Fixed(self.out_width, self.out_frac)

    @property
    def table_regions(self):
        """``(start, end, step_log2)`` of each table region, in real units (Fractions)."""
        if self.method == "edge_moe":
            end = Fraction(self.table_entries - 1, 2**self.table_step_log2)
            return ((Fraction(0), end, self.table_step_log2),)
        regions, start = [], Fraction(0)
        for end, step_log2 in self.segments:
            regions.append((start, Fraction(end), step_log2))
            start = Fraction(end)
        return tuple(regions)

    @property
    def table_entries_total(self):
        """Table entries, the final node at the cut-off included."""
        return 1 + sum(int((end - start) * 2**s) for start, end, s in self.table_regions)
