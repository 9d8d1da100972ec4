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

from ..fixedpoint import saturate
from .baselines import ibert_softmax
from .baselines import softmax_reference as softmax_float
from .params import SoftmaxParams

__all__ = ["softmax", "softmax_reference", "exponent_frac", "exp2_table", "recip_table",
           "newton_step", "newton_residual_range", "sum_guard", "NEWTON_DROP",
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


def _exp2(params, v, frac, guard=0):
    """``2**v`` for exponent codes ``v < 2**frac`` (value below 1), ``exp_frac + guard``
    fraction bits: the table's ``2**frac(v)`` (``exp_frac`` bits) shifted right by ``-floor(v)``,
    rounded half up. ``guard`` keeps bits the shift would drop (the running sum's terms)."""
    whole = v >> frac                               # floor(v) <= 0
    fraction = v & ((1 << frac) - 1)
    mantissa = _interpolate(exp2_table(params), fraction, frac, params.exp_segments_log2)
    # Beyond that the value rounds to 0 anyway (mantissa < 2**(exp_frac + 1)).
    drop = np.minimum(-whole, params.exp_frac + guard + 2)
    # Rounded, not floored: a vector sums up to max_len terms, and floor errors would add up.
    return ((mantissa << guard) + ((1 << drop) >> 1)) >> drop


def sum_guard(params):
    """Bits the sum's terms keep below the 2**f unit's ``exp_frac`` (``sum_frac > exp_frac``):
    the terms of a long vector are small, and their rounding errors add up in the sum."""
    return max(params.sum_frac - params.exp_frac, 0)


def _sum_terms(params, v, frac):
    """The running sum's term ``2**v``, ``sum_frac`` fraction bits."""
    guard = sum_guard(params)
    terms = _exp2(params, v, frac, guard)
    return terms >> max(params.exp_frac - params.sum_frac, 0)     # floor


def _wide(params):
    """Whether a product of the datapath can exceed int64 (then Python integers are used)."""
    newton = MANTISSA_BITS + 2 * params.recip_frac + 4 if params.recip_method == "newton" else 0
    return max(newton, params.exp_frac + params.recip_frac + 3) > 62


def _reciprocal(params, total):
    """``(r, p)`` with ``1/total ~ r * 2**-recip_frac * 2**-p`` for sums ``total >= 1`` (an
    array, one per vector)."""
    # The sums have under 53 bits (sum_frac + bits of max_len + 2): the float's exponent is exact.
    lead = np.frexp(total.astype(np.float64))[1].astype(np.int64) - 1
    p = lead - params.sum_frac
    down = np.clip(lead - MANTISSA_BITS, 0, 62)
    up = np.clip(MANTISSA_BITS - lead, 0, 62)
    mantissa = ((total >> down) << up) - (1 << MANTISSA_BITS)
    r = _interpolate(recip_table(params), mantissa, MANTISSA_BITS, params.recip_segments_log2)
    if params.recip_method == "newton":
        if _wide(params):
            r, mantissa = r.astype(object), mantissa.astype(object)
        r = newton_step(r, mantissa, params.recip_frac)
    return r, p


#: The Newton step's residual 1 - m * r keeps its bits from 2**-(MANTISSA_BITS + recip_frac -
#: NEWTON_DROP) up: the correction r * residual then errs by under 1/4 of r's LSB, and the
#: residual (small: the table's error) takes a narrow multiplier.
NEWTON_DROP = MANTISSA_BITS - 3


def newton_step(r, mantissa, recip_frac):
    """One Newton-Raphson step for 1/m, m = 1 + mantissa * 2**-MANTISSA_BITS:
    r' = r + r * (1 - m * r), the residual floored to its kept bits, the correction rounded half
    up to ``recip_frac`` bits."""
    scale = MANTISSA_BITS + recip_frac
    product = ((1 << MANTISSA_BITS) + mantissa) * r          # m * r, ``scale`` fraction bits
    residual = ((1 << scale) - product) >> NEWTON_DROP       # floor
    shift = scale - NEWTON_DROP
    return r + ((r * residual + (1 << (shift - 1))) >> shift)


@functools.lru_cache(maxsize=64)
def newton_residual_range(params: SoftmaxParams):
    """``(lowest, highest)`` residual of :func:`newton_step` over every mantissa (the RTL sizes
    its narrow multiplier by it)."""
    mantissa = np.arange(1 << MANTISSA_BITS, dtype=np.int64)
    r = _interpolate(recip_table(params), mantissa, MANTISSA_BITS, params.recip_segments_log2)
    if _wide(params):
        r, mantissa = r.astype(object), mantissa.astype(object)
    product = ((1 << MANTISSA_BITS) + mantissa) * r
    residual = ((1 << (MANTISSA_BITS + params.recip_frac)) - product) >> NEWTON_DROP
    return int(residual.min()), int(residual.max())


def _rows(params, x, keep):
    """Output codes of vectors ``x`` (rows of one length), ``keep`` = not masked; vectorised
    over the rows, step for step the hardware's arithmetic."""
    frac = exponent_frac(params)
    rows, length = x.shape
    lanes = params.lanes
    beats = -(-length // lanes)
    e = _exponents(params, x)
    pad = ((0, 0), (0, beats * lanes - length))
    # Masked lanes count in nothing: any exponent will do for them (0, then zeroed).
    e_beats = np.pad(np.where(keep, e, 0), pad).reshape(rows, beats, lanes)
    keep_beats = np.pad(keep, pad).reshape(rows, beats, lanes)
    lowest = np.iinfo(np.int64).min >> 2
    # The beat's terms are taken against its own maximum, so they need nothing from the running
    # state; only the two shifts and the add of the recurrence form the loop.
    beat_max = np.where(keep_beats, e_beats >> frac, lowest).max(axis=-1)
    beat_any = keep_beats.any(axis=-1)
    beat_max = np.where(beat_any, beat_max, 0)
    v = np.where(keep_beats, e_beats - (beat_max[..., None] << frac), 0)
    beat_sum = np.where(keep_beats, _sum_terms(params, v, frac), 0).sum(axis=-1)
    maximum = np.zeros(rows, dtype=np.int64)
    total = np.zeros(rows, dtype=np.int64)
    started = np.zeros(rows, dtype=bool)
    for beat in range(beats):
        present, top, part = beat_any[:, beat], beat_max[:, beat], beat_sum[:, beat]
        old = np.where(started, maximum, top)
        new = np.maximum(old, top)
        # floor shifts; 62 bits or more leave 0 (the sums have fewer bits)
        step = (total >> np.minimum(new - old, 62)) + (part >> np.minimum(new - top, 62))
        total = np.where(present, step, total)
        maximum = np.where(present, new, maximum)
        started |= present
    total = np.where(started, total, 1 << params.sum_frac)      # all masked: any sum will do
    r, p = _reciprocal(params, total)
    v = np.where(keep, e - (maximum[:, None] << frac), 0)
    numerators = _exp2(params, v, frac)
    if _wide(params):
        numerators = numerators.astype(object)
    numerators = numerators * r[:, None]
    shift = (params.exp_frac + params.recip_frac - params.out_frac + p)[:, None]
    y = saturate((numerators + ((1 << shift) >> 1)) >> shift, params.out_format)
    return np.where(keep & started[:, None], y, 0).astype(np.int64)


def softmax(params: SoftmaxParams, x, mask=None, keep=None):
    """Output codes for a vector of logit codes ``x`` (length 1..max_len), bit for bit; or for
    a batch of equal-length vectors, ``x`` of shape ``(rows, length)`` (mask of the same shape).

    ``mask`` (tuser) true excludes an element; ``keep`` (tkeep) false says the position holds no
    element: either way it counts in neither maximum nor sum and its output is 0 (an element is
    ``keep & ~mask``). A shorter vector in a batch is the same as its elements followed by
    masked ones, or by positions with ``keep`` false.
    """
    x = np.asarray(x, dtype=np.int64)
    if x.ndim not in (1, 2):
        raise ValueError(f"x must be one vector or a 2-D batch of vectors, not {x.ndim}-D")
    mask = np.zeros(x.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != x.shape:
        raise ValueError(f"mask must have the shape of x {x.shape}, not {mask.shape}")
    if keep is not None:
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != x.shape:
            raise ValueError(f"keep must have the shape of x {x.shape}, not {keep.shape}")
        mask = mask | ~keep
        # A position without an element may carry any code: the range check is for elements.
        x = np.where(keep, x, 0)
    fmt = params.in_format
    length = x.shape[-1]
    if not 1 <= length <= params.max_len:
        raise ValueError(f"vector length must be between 1 and {params.max_len}, not {length}")
    if x.size and (x.min() < fmt.min_code or x.max() > fmt.max_code):
        raise ValueError(f"logit codes must lie in [{fmt.min_code}, {fmt.max_code}] for {fmt.name}")
    if params.method == "ibert":
        return ibert_softmax(x, params.in_format, params.out_format, mask)
    if x.ndim == 1:
        return _rows(params, x[None, :], ~mask[None, :])[0]
    return _rows(params, x, ~mask)


def softmax_reference(params: SoftmaxParams, x, mask=None):
    """Ideal float64 softmax of the real logits (base 2 for ``base2``), same masking rules."""
    values = params.in_format.to_float(x)
    if params.method == "base2":
        values = values * math.log(2.0)
    return softmax_float(values, mask)
