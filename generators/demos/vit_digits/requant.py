"""The adapters between blocks of the ViT demo: requantisation and saturating addition.

``requantize`` is the composition's (:mod:`generators.compose.adapters`), whose RTL adapter
implements it:

    requantize(acc, mult, shift, out_bits) = saturate((acc * mult + round) >> shift)

with ``round = 1 << (shift - 1)`` for ``shift > 0`` (else 0), ``>>`` an arithmetic shift
(floor), ``mult`` an unsigned integer of at most 16 bits and ``shift`` in 0..48.
"""

import math

import numpy as np

# The one requantiser definition, shared with the composed layers' RTL adapters.
from generators.compose.adapters import MAX_SHIFT, MULT_BITS, requant_range, requantize

__all__ = ["requantize", "add_saturate", "saturate", "mult_shift", "MULT_BITS", "MAX_SHIFT"]


def saturate(x, out_bits, signed=True):
    """``x`` clamped to the ``out_bits`` range (two's complement when ``signed``)."""
    low, high = requant_range(out_bits, signed)
    return np.clip(np.asarray(x, dtype=np.int64), low, high)


def add_saturate(a, b, out_bits=8):
    """``saturate(a + b)``: the residual and positional additions."""
    return saturate(np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64), out_bits)


def mult_shift(ratio, mult_bits=MULT_BITS, max_shift=MAX_SHIFT):
    """``(mult, shift)`` with ``mult / 2**shift`` closest to ``ratio > 0``: the largest shift
    whose rounded multiplier still fits ``mult_bits`` unsigned bits."""
    if not ratio > 0 or not math.isfinite(ratio):
        raise ValueError(f"ratio must be a positive finite number, not {ratio!r}")
    top = (1 << mult_bits) - 1
    shift = max_shift
    while shift > 0 and math.floor(ratio * 2**shift + 0.5) > top:
        shift -= 1
    mult = math.floor(ratio * 2**shift + 0.5)
    if mult > top:
        raise ValueError(f"ratio {ratio!r} needs a multiplier above {top} even with shift 0")
    if mult == 0:
        raise ValueError(f"ratio {ratio!r} is below 2**-{max_shift}: it rounds to mult 0")
    return int(mult), int(shift)
