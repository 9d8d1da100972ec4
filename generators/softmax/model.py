"""Bit-exact golden model of the single-pass (online) softmax, base-2 and natural forms.

Ref: Softermax (Stevens et al., DAC'21, arXiv 2103.09301): base-2 exponent, integer running
maximum so that rescaling the running sum is a shift, online normalisation (seeds.md §3.6b);
Edge-MoE's online softmax (seeds.md §3.3).

Per vector, in stream order (``lanes`` elements a beat, ``mask`` excluding elements):

1. ``natural`` first multiplies each logit by log2(e) (a constant with 16 fraction bits, the
   product kept with 8 more fraction bits than the input), so both forms continue in base 2.
2. Per beat: its integer maximum ``M`` (floor of its largest unmasked exponent) and the sum of
   its ``2**(x - M)`` (each floored to ``sum_frac`` bits). Running integer maximum ``m`` and sum
   ``d``: ``m' = max(m, M)``, ``d' = (d >> (m' - m)) + (beat sum >> (m' - M))`` (floor): the
   only loop-carried step is two shifts and an add, so a beat can enter every cycle.
3. ``2**v`` for ``v < 1``: ``2**frac(v)`` from a table of ``2**exp_segments_log2`` linear segments
   with ``exp_frac`` fraction bits, shifted right by ``-floor(v)`` (floor).
4. The reciprocal of the sum ``d = 1.mantissa * 2**p``: a table of ``2**recip_segments_log2``
   linear segments of ``1/mantissa`` with ``recip_frac`` bits (``recip_method="newton"``: then
   one Newton-Raphson step), and the shift by ``p``.
5. Output ``2**(x - m) * (1/d)`` recomputed from the stored logit with the final ``m``, rounded
   half up to ``out_frac`` bits and saturated; masked elements give 0, an all-masked vector zeros.

Pure NumPy integer arithmetic; Python integers where a value can exceed 62 bits.
"""

import functools
import math

import numpy as np

from ..fixedpoint import Rounding, saturate, shift_round
from .baselines import ibert_softmax
from .baselines import softmax_reference as softmax_float
from .params import SoftmaxParams

__all__ = ["softmax", "softmax_reference", "exponent_frac", "exp2_table", "recip_table",
           "newton_step",
           "LOG2E_FRAC", "MANTISSA_BITS"]

LOG2E_FRAC = 16           # fraction bits of the log2(e) constant of the natural form
NATURAL_EXTRA_FRAC = 8    # extra fraction bits kept of x*log2(e)
MANTISSA_BITS = 16        # bits of the sum's mantissa below its leading one, into the reciprocal
LOG2E_CODE = round(math.log2(math.e) * 2**LOG2E_FRAC)


def exponent_frac(params: SoftmaxParams):
    """Fraction bits of the base-2 exponent the datapath works on."""
    return params.in_frac + (NATURAL_EXTRA_FRAC if params.method == "natural" else 0)


@functools.lru_cache(maxsize=64)
def exp2_table(params: SoftmaxParams):
    """``2**(j / 2**k)``, j = 0..2**k, with ``exp_frac`` fraction bits (nodes of 2**f on [0, 1])."""
    k = params.exp_segments_log2
    return tuple(math.floor(2.0 ** (j / 2**k) * 2**params.exp_frac + 0.5) for j in range(2**k + 1))


@functools.lru_cache(maxsize=64)
def recip_table(params: SoftmaxParams):
    """``1 / (1 + j / 2**k)``, j = 0..2**k, with ``recip_frac`` fraction bits."""
    k = params.recip_segments_log2
    return tuple(math.floor(2**params.recip_frac / (1 + j / 2**k) + 0.5) for j in range(2**k + 1))


def _interpolate(nodes, position, position_bits, segments_log2):
    """Piecewise-linear lookup: ``position`` has ``position_bits`` bits spanning [0, 1)."""
    table = np.asarray(nodes, dtype=np.int64)
    fine = max(position_bits - segments_log2, 0)
    index = position >> fine if fine else position << (segments_log2 - position_bits)
    offset = position & ((1 << fine) - 1)
    lower, upper = table[index], table[index + 1]
    return lower + ((offset * (upper - lower)) >> fine)


def _exponents(params, x):
    """Logit codes as base-2 exponents with :func:`exponent_frac` fraction bits."""
    if params.method == "natural":
        shift = LOG2E_FRAC - NATURAL_EXTRA_FRAC
        return (x * LOG2E_CODE) >> shift          # floor
    return x


def _exp2(params, v, frac):
    """``2**v`` for exponent codes ``v < 2**frac`` (value below 1), ``exp_frac`` bits."""
    whole = v >> frac                               # floor(v) <= 0
    fraction = v & ((1 << frac) - 1)
    mantissa = _interpolate(exp2_table(params), fraction, frac, params.exp_segments_log2)
    drop = np.minimum(-whole, params.exp_frac + 2)   # beyond that the value is 0 anyway
    # Rounded, not floored: a vector sums up to max_len terms, and floor errors would add up.
    return (mantissa + ((1 << drop) >> 1)) >> drop


def _reciprocal(params, total):
    """``(r, p)`` with ``1/total ~ r * 2**-recip_frac * 2**-p``, for ``total >= 1`` (scalar)."""
    lead = total.bit_length() - 1
    p = lead - params.sum_frac
    if lead >= MANTISSA_BITS:
        mantissa = (total >> (lead - MANTISSA_BITS)) - (1 << MANTISSA_BITS)
    else:
        mantissa = (total << (MANTISSA_BITS - lead)) - (1 << MANTISSA_BITS)
    r = int(_interpolate(recip_table(params), np.int64(mantissa), MANTISSA_BITS,
                         params.recip_segments_log2))
    if params.recip_method == "newton":
        r = newton_step(r, mantissa, params.recip_frac)
    return r, p


def newton_step(r, mantissa, recip_frac):
    """One Newton-Raphson step for 1/m, m = 1 + mantissa * 2**-MANTISSA_BITS: r * (2 - m * r),
    floored to ``recip_frac`` bits."""
    scale = MANTISSA_BITS + recip_frac
    product = ((1 << MANTISSA_BITS) + mantissa) * r          # m * r, ``scale`` fraction bits
    return (r * ((2 << scale) - product)) >> scale


def _row(params, x, mask):
    frac = exponent_frac(params)
    e = _exponents(params, x)
    keep = ~mask
    if not keep.any():
        return np.zeros(len(x), dtype=np.int64)
    maximum = None
    total = 0
    for start in range(0, len(x), params.lanes):
        beat, beat_keep = e[start:start + params.lanes], keep[start:start + params.lanes]
        if not beat_keep.any():
            continue
        # The beat's terms are taken against its own maximum, so they need nothing from the
        # running state; only the two shifts and the add below form the loop.
        beat_max = int((beat[beat_keep] >> frac).max())
        terms = _exp2(params, beat[beat_keep] - (beat_max << frac), frac)
        beat_sum = int(shift_round(terms, params.exp_frac - params.sum_frac, Rounding.FLOOR).sum())
        if maximum is None:
            maximum = beat_max
        new_max = max(maximum, beat_max)
        total = (total >> (new_max - maximum)) + (beat_sum >> (new_max - beat_max))
        maximum = new_max
    r, p = _reciprocal(params, total)
    numerators = _exp2(params, e - (maximum << frac), frac).astype(object) * r
    shift = params.exp_frac + params.recip_frac + p - params.out_frac
    y = saturate(shift_round(numerators, shift, Rounding.HALF_UP), params.out_format)
    return np.where(keep, y, 0).astype(np.int64)


def softmax(params: SoftmaxParams, x, mask=None):
    """Output codes for one vector of logit codes ``x`` (length 1..max_len), bit for bit."""
    x = np.asarray(x, dtype=np.int64)
    mask = np.zeros(len(x), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    fmt = params.in_format
    if not 1 <= len(x) <= params.max_len:
        raise ValueError(f"vector length must be between 1 and {params.max_len}, not {len(x)}")
    if x.min() < fmt.min_code or x.max() > fmt.max_code:
        raise ValueError(f"logit codes must lie in [{fmt.min_code}, {fmt.max_code}] for {fmt.name}")
    if params.method == "ibert":
        return ibert_softmax(x, params.in_format, params.out_format, mask)
    return _row(params, x, mask)


def softmax_reference(params: SoftmaxParams, x, mask=None):
    """Ideal float64 softmax of the real logits (base 2 for ``base2``), same masking rules."""
    values = params.in_format.to_float(x)
    if params.method == "base2":
        values = values * math.log(2.0)
    return softmax_float(values, mask)
