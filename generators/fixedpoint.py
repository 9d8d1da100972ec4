"""Fixed-point formats and the integer rounding/saturation rules shared by models and RTL.

Models work on raw integer codes (NumPy ``int64`` or Python ``int`` object arrays when a value can
exceed 62 bits); the RTL uses the same :class:`Fixed` to size its ports. Nothing here imports
Amaranth, so every golden model stays importable on its own.
"""

from dataclasses import dataclass
from enum import Enum

import numpy as np

__all__ = ["Fixed", "Rounding", "shift_round", "saturate", "requantize"]


class Rounding(str, Enum):
    """How a right shift drops bits."""

    #: Toward minus infinity (Vivado ``AP_TRN``): an arithmetic right shift.
    FLOOR = "floor"
    #: To nearest, ties toward plus infinity (``AP_RND``): add half an LSB, then floor.
    HALF_UP = "half_up"


@dataclass(frozen=True)
class Fixed:
    """A two's-complement (or unsigned) fixed-point format.

    Parameters
    ----------
    width : int
        Total bits, sign included.
    frac : int
        Fractional bits; the value of a code ``c`` is ``c * 2**-frac``.
    signed : bool
        Two's complement when true.
    """

    width: int
    frac: int
    signed: bool = True

    @property
    def int_bits(self):
        """Integer bits, the sign bit included (the ``I`` of ``ap_fixed<W, I>``)."""
        return self.width - self.frac

    @property
    def min_code(self):
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_code(self):
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def lsb(self):
        return 2.0 ** -self.frac

    @property
    def name(self):
        """Short name such as ``s16.12`` (signed, 16 bits, 12 fractional)."""
        return f"{'s' if self.signed else 'u'}{self.width}.{self.frac}"

    def codes(self):
        """Every code of the format, ascending (only sensible up to ~24 bits)."""
        return np.arange(self.min_code, self.max_code + 1, dtype=np.int64)

    def to_float(self, codes):
        return np.asarray(codes, dtype=np.float64) * self.lsb

    def to_json(self):
        return {"signed": self.signed, "width": self.width, "int_bits": self.int_bits,
                "frac_bits": self.frac}


def shift_round(values, shift, rounding):
    """Scale integer ``values`` by ``2**-shift`` (``shift`` may be negative: a left shift)."""
    if shift <= 0:
        return values << -shift
    if Rounding(rounding) is Rounding.HALF_UP:
        values = values + (1 << (shift - 1))
    return values >> shift


def saturate(values, fmt):
    """Clamp codes into ``fmt``'s range."""
    return np.clip(values, fmt.min_code, fmt.max_code)


def requantize(values, frac, fmt, rounding):
    """Move codes with ``frac`` fractional bits into ``fmt``: round, then saturate."""
    return saturate(shift_round(values, frac - fmt.frac, rounding), fmt)
