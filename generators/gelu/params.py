"""Parameters of the GELU approximator (one frozen, validated object for RTL, model and tests)."""

import dataclasses
from fractions import Fraction

from ..fixedpoint import Fixed, Rounding
from ..params import (BlockParams, ParamTypeError, ParamValueError, check_choice, check_int)

__all__ = ["GeluParams", "METHODS", "EDGE_MOE_STEP_LOG2", "EDGE_MOE_ENTRIES",
           "DEFAULT_SEGMENTS"]

#: ``edge_moe``: Edge-MoE's table (seeds.md §3.2); ``fitted_pwl``: ours, non-uniform segments with
#: minimax-fitted node values; ``i_gelu``: I-BERT's integer polynomial (seeds.md §3.6a).
METHODS = ("edge_moe", "fitted_pwl", "i_gelu")
TABLE_METHODS = ("edge_moe", "fitted_pwl")

EDGE_MOE_STEP_LOG2 = 5        # step 1/32
EDGE_MOE_ENTRIES = 177        # u_k = k/32, k = 0..176: cut-off 5.5

#: (end, step_log2) per region, starting at 0. Curvature of delta(u) = u*Phi(-u) is largest near
#: 0 (|delta''(0)| = 0.80) and falls fast, so the step doubles where it has dropped ~4x; the
#: entry count (177) equals Edge-MoE's.
DEFAULT_SEGMENTS = ((1, 6), (2, 5), (4, 5), (6, 3))

MAX_TABLE_ENTRIES = 4096


@dataclasses.dataclass(frozen=True)
class GeluParams(BlockParams):
    """Element-wise GELU, fully pipelined, ``lanes`` elements per beat.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    lanes : int
        Elements per beat, 1 to 16.
    in_width, in_frac, out_width, out_frac : int
        Signed fixed-point input and output formats (8 to 32 bits).
    rounding : str
        How the output drops bits: ``"floor"`` or ``"half_up"``; out-of-range results saturate.
    table_frac : int
        Fractional bits of the correction table (table methods only).
    table_step_log2, table_entries : int
        ``edge_moe`` only: table step ``2**-table_step_log2`` and entry count.
    segments : tuple of (end, step_log2)
        ``fitted_pwl`` only: regions ``[previous end, end)`` of ``|x|``, each with its own step.
    """

    family = "gelu"

    method: str = "fitted_pwl"
    lanes: int = 1
    in_width: int = 16
    in_frac: int = 12
    out_width: int = 16
    out_frac: int = 12
    rounding: str = "half_up"
    table_frac: int | None = None
    table_step_log2: int | None = None
    table_entries: int | None = None
    segments: tuple | None = None

    def __post_init__(self):
        check_choice("method", self.method, METHODS)
        check_int("lanes", self.lanes, 1, 16)
        for prefix in ("in", "out"):
            width = getattr(self, f"{prefix}_width")
            check_int(f"{prefix}_width", width, 8, 32)
            check_int(f"{prefix}_frac", getattr(self, f"{prefix}_frac"), 0, width - 2)
        check_choice("rounding", self.rounding, [r.value for r in Rounding])
        self._check_method_fields()
        if self.method in TABLE_METHODS:
            if self.table_frac is None:
                # Four guard bits below the output LSB keep table rounding out of the output.
                self._resolve("table_frac", min(self.out_frac + 4, 30))
            check_int("table_frac", self.table_frac, 2, 30)
        if self.method == "edge_moe":
            self._resolve_edge_moe()
        elif self.method == "fitted_pwl":
            self._resolve_segments()

    def _check_method_fields(self):
        owners = {"table_frac": TABLE_METHODS, "table_step_log2": ("edge_moe",),
                  "table_entries": ("edge_moe",), "segments": ("fitted_pwl",)}
        for name, methods in owners.items():
            if getattr(self, name) is not None and self.method not in methods:
                allowed = " or ".join(repr(m) for m in methods)
                raise ParamValueError(
                    f"{name} applies only to method {allowed}, not {self.method!r}")

    @property
    def max_magnitude(self):
        """Largest ``|x|`` of the input format (that of its most negative code)."""
        return Fraction(2) ** (self.in_width - self.in_frac - 1)

    def _resolve_edge_moe(self):
        if self.table_step_log2 is None:
            self._resolve("table_step_log2", min(EDGE_MOE_STEP_LOG2, self.in_frac))
        check_int("table_step_log2", self.table_step_log2, 0, self.in_frac)
        reach_limit = int(self.max_magnitude * 2**self.table_step_log2) + 1
        if self.table_entries is None:
            self._resolve("table_entries", min(EDGE_MOE_ENTRIES, reach_limit))
        check_int("table_entries", self.table_entries, 2, min(MAX_TABLE_ENTRIES, reach_limit))

    def _resolve_segments(self):
        if self.segments is None:
            clipped, start = [], Fraction(0)
            for end, step_log2 in DEFAULT_SEGMENTS:
                end = min(Fraction(end), self.max_magnitude)
                if end > start:
                    clipped.append((end, min(step_log2, self.in_frac)))
                start = end
            self._resolve("segments", tuple((_number(e), s) for e, s in clipped))
        if not isinstance(self.segments, tuple) or not self.segments:
            raise ParamTypeError(f"segments must be a non-empty list of [end, step_log2] "
                                 f"pairs, not {self.segments!r}")
        start = Fraction(0)
        for k, pair in enumerate(self.segments):
            if (not isinstance(pair, tuple) or len(pair) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                               for v in pair)):
                raise ParamTypeError(f"segments[{k}] must be an [end, step_log2] pair of "
                                     f"numbers, not {_plain(pair)!r}")
            end, step_log2 = Fraction(pair[0]), pair[1]
            check_int(f"segments[{k}] step_log2", step_log2, 0, self.in_frac)
            if not start < end <= self.max_magnitude:
                raise ParamValueError(
                    f"segments[{k}] end must be above {_number(start)} and at most the largest "
                    f"input magnitude {_number(self.max_magnitude)}, not {pair[0]!r}")
            if ((end - start) * 2**step_log2).denominator != 1:
                raise ParamValueError(
                    f"segments[{k}] [{_number(start)}, {pair[0]!r}) is not a whole number of "
                    f"steps 2**-{step_log2}")
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


def _number(value):
    """A Fraction as the plainest int or float, for messages and resolved defaults."""
    value = Fraction(value)
    return int(value) if value.denominator == 1 else float(value)


def _plain(value):
    return list(value) if isinstance(value, tuple) else value
