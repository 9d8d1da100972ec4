"""Parameters of the streaming softmax (one frozen, validated object for RTL, model and tests).

``exp_*``, ``sum_frac`` and ``recip_*`` shape the single-pass forms; I-BERT's form has its own
fixed internal widths (16-bit exponents, a 2**32 / sum factor).
"""

import dataclasses

from ..fixedpoint import Fixed
from ..params import INT, STR, BlockParams, Derived, ParamValueError, param

__all__ = ["SoftmaxParams", "METHODS", "RECIP_METHODS"]

#: ``base2``: softmax over 2**x, Softermax's base change (a network fine-tuned for it);
#: ``natural``: e**x as 2**(x*log2 e), the same datapath after one constant multiply;
#: ``ibert``: I-BERT's integer i-exp and i-softmax (baseline).
METHODS = ("base2", "natural", "ibert")

#: ``pwl``: the reciprocal straight from the piecewise-linear table; ``newton``: that value
#: refined by one Newton-Raphson step r' = r + r * (1 - m * r) (two multipliers, four cycles more).
RECIP_METHODS = ("pwl", "newton")

#: The most fraction bits the running sum may keep beyond the 2**f unit's ``exp_frac``.
SUM_GUARD_MAX = 8

#: I-BERT's i-exp table over the remainder of the ln2-step division has -floor(-ln2 * 2**in_frac)
#: entries: 2839 at 12 fraction bits, the most a LUT ROM per lane should hold.
IBERT_MAX_IN_FRAC = 12


_IBERT_IGNORES = ' (not used by method "ibert", which has fixed internal widths).'


@dataclasses.dataclass(frozen=True)
class SoftmaxParams(BlockParams):
    """Softmax over vectors of ``1..max_len`` signed logits, ``lanes`` per beat, to unsigned
    probabilities. ``python -m generators params softmax`` lists the parameters."""

    family = "softmax"

    method: str = param("base2", kind=STR, choices=METHODS,
                        doc="base2: softmax over 2**x (Softermax); natural: e**x as "
                            "2**(x * log2 e); ibert: I-BERT's integer softmax (baseline).")
    lanes: int = param(1, kind=INT, low=1, high=16, doc="Elements per beat.")
    max_len: int = param(256, kind=INT, low=1, high=1 << 16, multiple_of="lanes",
                         doc="The longest vector.")
    in_width: int = param(8, kind=INT, low=4, high=32, doc="Width of the signed logits.")
    in_frac: int = param(4, kind=INT, low=0, high=Derived("in_width - 2",
                                                            lambda p: p.in_width - 2),
                         allowed=f'0..in_width - 2, at most {IBERT_MAX_IN_FRAC} with '
                                 f'method = "ibert"',
                         doc="Fractional bits of the logits.")
    out_width: int = param(8, kind=INT, low=2, high=32,
                           doc="Width of the unsigned probabilities.")
    out_frac: int = param(8, kind=INT, low=1, high="out_width",
                          allowed="1..out_width, at most exp_frac + recip_frac",
                          doc="Fractional bits of the probabilities.")
    exp_frac: int = param(16, kind=INT, low=2, high=24,
                          doc="Fractional bits of the 2**f unit for f in [0, 1)" + _IBERT_IGNORES)
    exp_segments_log2: int = param(3, kind=INT, low=0, high=8,
                                   doc="The 2**f unit has 2**exp_segments_log2 linear segments"
                                       + _IBERT_IGNORES)
    sum_frac: int = param(Derived("exp_frac + 4", lambda p: p.exp_frac + 4), kind=INT, low=0,
                          high=Derived("exp_frac + 8", lambda p: p.exp_frac + SUM_GUARD_MAX),
                          doc="Fractional bits of the running sum (more than exp_frac: its "
                              "terms keep that many bits below the 2**f unit's)"
                              + _IBERT_IGNORES)
    recip_method: str = param("newton", kind=STR, choices=RECIP_METHODS,
                              doc="pwl: the reciprocal straight from its piecewise-linear table; "
                                  "newton: refined by one Newton-Raphson step" + _IBERT_IGNORES)
    recip_frac: int = param(12, kind=INT, low=2, high=24,
                            doc="Fractional bits of the reciprocal unit on a mantissa in [1, 2)"
                                + _IBERT_IGNORES)
    recip_segments_log2: int = param(3, kind=INT, low=0, high=8,
                                     doc="The reciprocal unit has 2**recip_segments_log2 linear "
                                         "segments" + _IBERT_IGNORES)

    def _check(self):
        if self.method == "ibert" and self.in_frac > IBERT_MAX_IN_FRAC:
            raise ParamValueError(
                f"in_frac must be at most {IBERT_MAX_IN_FRAC} with method 'ibert' (its i-exp "
                f"table has 0.69 * 2**in_frac entries), not {self.in_frac!r}")
        if self.exp_frac + self.recip_frac < self.out_frac:
            # The output is exp * recip scaled down: it cannot hold more bits than they carry.
            raise ParamValueError(
                f"out_frac must be at most exp_frac + recip_frac "
                f"({self.exp_frac + self.recip_frac}), not {self.out_frac!r}")

    @property
    def in_format(self):
        return Fixed(self.in_width, self.in_frac)

    @property
    def out_format(self):
        return Fixed(self.out_width, self.out_frac, signed=False)
