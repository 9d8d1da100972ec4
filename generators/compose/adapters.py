"""Models of the format adapters that join two blocks whose streams disagree (pure NumPy).

Each function here is the golden model of one RTL adapter in :mod:`generators.compose.rtl`:

* :func:`requantize`: an integer ``acc`` scaled by ``mult * 2**-shift``, rounded half up and
  saturated to ``out_bits`` (the ViT demo's integer model uses the same definition);
* :func:`narrow` and :func:`widen`: the same elements in beats of fewer or more lanes;
* :func:`tiles_to_rows`: a GEMM block's output order (column tile, row, lanes) as whole rows.
"""

import numpy as np

__all__ = ["requantize", "requant_range", "narrow", "widen", "tiles_to_rows", "MULT_BITS",
           "MAX_SHIFT"]

#: ``mult`` is an unsigned integer of at most this many bits.
MULT_BITS = 16
#: ``shift`` is 0..MAX_SHIFT.
MAX_SHIFT = 48


def requant_range(out_bits, signed=True):
    """``(low, high)`` of an ``out_bits`` integer."""
    if not isinstance(out_bits, (int, np.integer)) or not 1 <= out_bits <= 62:
        raise ValueError(f"out_bits must be an integer in 1..62, not {out_bits!r}")
    if signed:
        return -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    return 0, (1 << out_bits) - 1


def requantize(acc, mult, shift, out_bits, signed=True):
    """``y = (acc * mult + (2**(shift - 1) if shift > 0 else 0)) >> shift`` (an arithmetic
    shift, so floor), saturated to the signed (or unsigned) ``out_bits`` range.

    ``acc``: integers (any shape); ``mult``: unsigned, at most :data:`MULT_BITS` bits; ``shift``:
    0..:data:`MAX_SHIFT`. Products beyond 62 bits are finished in Python integers."""
    if not (isinstance(mult, (int, np.integer)) and 0 <= mult < 1 << MULT_BITS):
        raise ValueError(f"mult must be an integer between 0 and {(1 << MULT_BITS) - 1}, "
                         f"not {mult!r}")
    if not (isinstance(shift, (int, np.integer)) and 0 <= shift <= MAX_SHIFT):
        raise ValueError(f"shift must be an integer between 0 and {MAX_SHIFT}, not {shift!r}")
    acc = np.asarray(acc)
    wide = acc.dtype == object or (acc.size and int(np.abs(acc).max()).bit_length()
                                   + MULT_BITS > 62)
    values = acc.astype(object) if wide else acc.astype(np.int64)
    y = (values * int(mult) + ((1 << (shift - 1)) if shift > 0 else 0)) >> shift
    low, high = requant_range(out_bits, signed)
    return np.clip(y, low, high).astype(np.int64)


def narrow(beats, lanes):
    """Beats ``[count x L]`` as beats of ``lanes`` (dividing L), lane 0 of a beat first."""
    beats = np.asarray(beats)
    if beats.shape[-1] % lanes:
        raise ValueError(f"lanes must divide the beat's {beats.shape[-1]} lanes, not {lanes}")
    return beats.reshape(-1, lanes)


def widen(beats, lanes):
    """Beats ``[count x L]`` gathered into beats of ``lanes`` (a multiple of L)."""
    beats = np.asarray(beats)
    if lanes % beats.shape[-1] or beats.size % lanes:
        raise ValueError(f"lanes must be a multiple of {beats.shape[-1]} that divides "
                         f"{beats.size} elements, not {lanes}")
    return beats.reshape(-1, lanes)


def tiles_to_rows(tiles):
    """``[tiles x rows x n]`` (a GEMM block's output: column tile, then row) as ``[rows x
    tiles * n]``."""
    tiles = np.asarray(tiles)
    return tiles.transpose(1, 0, 2).reshape(tiles.shape[1], -1)
