"""The adapters between blocks of the ViT demo: requantisation and saturating addition.

The composition's RTL adapters implement exactly these definitions (issue 18):

    requantize(acc, mult, shift, out_bits) = saturate((acc * mult + round) >> shift)

with ``round = 1 << (shift - 1)`` for ``shift > 0`` (else 0), ``>>`` an arithmetic shift
(floor), ``mult`` an unsigned integer of at most 16 bits and ``shift`` in 0..48.
"""

import math

import numpy as np

__all__ = ["requantize", "add_saturate", "saturate", "mult_shift", "MULT_BITS", "MAX_SHIFT"]

MULT_BITS = 16
MAX_SHIFT = 48


def _limits(out_bits, signed):
    if not isinstance(out_bits, int) or not 1 <= out_bits <= 32:
        raise ValueError(f"out_bits must be an integer in 1..32, not {out_bits!r}")
    if signed:
        return -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    return 0, (1 << out_bits) - 1


def saturate(x, out_bits, signed=True):
    """``x`` clamped to the ``out_bits`` range (two's complement when ``signed``)."""
    low, high = _limits(out_bits, signed)
    return np.clip(np.asarray(x, dtype=np.int64), low, high)


def requantize(acc, mult, shift, out_bits, signed=True):
    """``saturate((acc * mult + 2**(shift - 1)) >> shift)``: round half up, then clamp."""
    if not isinstance(mult, (int, np.integer)) or not 0 <= mult < 1 << MULT_BITS:
        raise ValueError(f"mult must be an unsigned integer below 2**{MULT_BITS}, not {mult!r}")
    if not isinstance(shift, (int, np.integer)) or not 0 <= shift <= MAX_SHIFT:
        raise ValueError(f"shift must be an integer in 0..{MAX_SHIFT}, not {shift!r}")
    low, high = _limits(out_bits, signed)
    acc = np.asarray(acc, dtype=np.int64)
    # acc * mult needs |acc| < 2**47 to stay inside int64; wider values go through Python ints.
    if acc.size and int(np.abs(acc).max()) >= 1 << (62 - MULT_BITS):
        acc = acc.astype(object)
    y = acc * int(mult) + ((1 << (int(shift) - 1)) if shift > 0 else 0)
    y = y >> int(shift)
    return np.asarray(np.clip(y, low, high), dtype=np.int64)


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
