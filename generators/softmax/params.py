"""Parameters of the streaming softmax (one frozen, validated object for RTL, model and tests).

``exp_*``, ``sum_frac`` and ``recip_*`` shape the single-pass forms; I-BERT's form has its own
fixed internal widths (16-bit exponents, a 2**32 / sum factor).
"""

import dataclasses

from ..fixedpoint import Fixed
from ..params import BlockParams, ParamValueError, check_choice, check_int

__all__ = ["SoftmaxParams", "METHODS", "RECIP_METHODS"]

#: ``base2``: softmax over 2**x, Softermax's base change (a network fine-tuned for it);
#: ``natural``: e**x as 2**(x*log2 e), the same datapath after one constant multiply;
#: ``ibert``: I-BERT's integer i-exp and i-softmax (baseline).
METHODS = ("base2", "natural", "ibert")

#: ``pwl``: the reciprocal straight from the piecewise-linear table; ``newton``: that value
#: refined by one Newton-Raphson step r' = r * (2 - m * r) (two multipliers, two cycles more).
RECIP_METHODS = ("pwl", "newton")

#: I-BERT's i-exp table over the remainder of the ln2-step division has -floor(-ln2 * 2**in_frac)
#: entries: 2839 at 12 fraction bits, the most a LUT ROM per lane should hold.
IBERT_MAX_IN_FRAC = 12


@dataclasses.dataclass(frozen=True)
class SoftmaxParams(BlockParams):
    """Softmax over vectors of ``1..max_len`` signed logits, ``lanes`` per beat.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    lanes, max_len : int
        Elements per beat; the longest vector (a multiple of ``lanes``).
    in_width, in_frac : int
        Signed logits.
    out_width, out_frac : int
        Unsigned probabilities.
    exp_frac, exp_segments_log2 : int
        The 2**f unit for f in [0, 1): fractional bits, and 2**k linear segments.
    sum_frac : int
        Fractional bits of the running sum.
    recip_method : str
        One of :data:`RECIP_METHODS`.
    recip_frac, recip_segments_log2 : int
        The reciprocal unit on a mantissa in [1, 2): fractional bits and 2**k linear segments.
    """

    family = "softmax"

    method: str = "base2"
    lanes: int = 1
    max_len: int = 256
    in_width: int = 8
    in_frac: int = 4
    out_width: int = 8
    out_frac: int = 8
    exp_frac: int = 16
    exp_segments_log2: int = 3
    sum_frac: int = 16
    recip_method: str = "pwl"
    recip_frac: int = 12
    recip_segments_log2: int = 3

    def __post_init__(self):
        check_choice("method", self.method, METHODS)
        check_int("lanes", self.lanes, 1, 16)
        check_int("max_len", self.max_len, 1, 1 << 16)
        if self.max_len % self.lanes:
            raise ParamValueError(f"max_len must be a multiple of lanes ({self.lanes}), "
                                  f"not {self.max_len!r}")
        check_int("in_width", self.in_width, 4, 32)
        check_int("in_frac", self.in_frac, 0, self.in_width - 2)
        check_int("out_width", self.out_width, 2, 32)
        check_int("out_frac", self.out_frac, 1, self.out_width)
        check_int("exp_frac", self.exp_frac, 2, 24)
        check_int("exp_segments_log2", self.exp_segments_log2, 0, 8)
        check_int("sum_frac", self.sum_frac, 0, self.exp_frac)
        check_choice("recip_method", self.recip_method, RECIP_METHODS)
        check_int("recip_frac", self.recip_frac, 2, 24)
        check_int("recip_segments_log2", self.recip_segments_log2, 0, 8)
        if self.method == "ibert" and self.in_frac > IBERT_MAX_IN_FRAC:
            raise ParamValueError(
                f"in_frac must be at most {IBERT_MAX_IN_FRAC} with method 'ibert' (its i-exp "
                f"table has 0.69 * 2**in_frac entries), not {self.in_frac!r}")
        if self.exp_frac + self.recip_frac < self.sum_frac + self.out_frac:
            # The output is exp * recip scaled down: it cannot hold more bits than they carry.
            raise ParamValueError(
                f"out_frac must be at most exp_frac + recip_frac - sum_frac "
                f"({self.exp_frac + self.recip_frac - self.sum_frac}), not {self.out_frac!r}")

    @property
    def in_format(self):
        return Fixed(self.in_width, self.in_frac)

    @property
    def out_format(self):
        return Fixed(self.out_width, self.out_frac, signed=False)
