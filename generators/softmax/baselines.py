"""Comparison models of softmax: hls4ml's table-based ``softmax_stable`` and I-BERT's i-softmax.

Both work on raw integer codes over the last axis of an array of shape ``(..., n)``, with an
optional boolean ``mask`` of the same shape (True = excluded: the element's output is exactly 0
and it counts in neither the maximum nor the sum; a fully masked row gives zeros). Neither source
has masks; excluding an element is the same as deleting it from the row.

Ref: hls4ml ``nnet_activation.h`` / ``core_templates.py`` (seeds.md §3.6c);
I-BERT (Kim et al., ICML'21), ``quant_modules.py`` ``IntSoftmax`` (seeds.md §3.6a).
Pure NumPy integer arithmetic; Python integers where a value can exceed 62 bits.
"""

import functools
import math

import numpy as np

from ..fixedpoint import Fixed, Rounding, saturate, shift_round

__all__ = ["ap_cast", "hls4ml_softmax_stable", "hls4ml_tables", "ibert_constants", "ibert_exp",
           "ibert_e16", "ibert_e16_tables", "ibert_softmax", "softmax_reference"]


def softmax_reference(x_float, mask=None):
    """Ideal float64 softmax over the last axis, with the masking rules above."""
    x = np.asarray(x_float, dtype=np.float64)
    mask = _mask(x, mask)
    top = np.where(mask, -np.inf, x).max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)              # fully masked row: anything finite
    weights = np.where(mask, 0.0, np.exp(np.where(mask, 0.0, x - top)))
    total = weights.sum(axis=-1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)


def _mask(x, mask):
    if mask is None:
        return np.zeros(np.shape(x), dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != np.shape(x):
        raise ValueError(f"mask shape {mask.shape} differs from the input's {np.shape(x)}")
    return mask


def _codes(x, fmt, mask):
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError("inputs are integer codes")
    x = x.astype(np.int64)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError("softmax needs at least one element on the last axis")
    if x.size and (x.min() < fmt.min_code or x.max() > fmt.max_code):
        raise ValueError(f"codes must lie in [{fmt.min_code}, {fmt.max_code}] for {fmt.name}")
    return x, _mask(x, mask)


# --- Vivado ap_fixed assignment ------------------------------------------------------------------

_QUANTIZATION = {"AP_TRN": Rounding.FLOOR, "AP_RND": Rounding.HALF_UP}
_OVERFLOW = ("AP_WRAP", "AP_SAT")


def ap_cast(values, fmt: Fixed, frac=None, quantization="AP_TRN", overflow="AP_WRAP"):
    """Codes of ``fmt`` that a Vivado ``ap_[u]fixed`` assignment of ``values`` would hold.

    ``values`` are integer codes with ``frac`` fraction bits, or real numbers when ``frac`` is None
    (float32 widens to float64 exactly). Both paths are exact: the float path only scales by a
    power of two and compares the dropped fraction with one half, so no intermediate rounding.
    ``AP_TRN`` floors, ``AP_RND`` rounds ties toward +inf (-1.5 -> -1); ``AP_SAT`` clamps,
    ``AP_WRAP`` keeps the low ``fmt.width`` bits (two's complement for signed formats).
    Infinities saturate under ``AP_SAT`` (as C++ ``1/0.0f`` does in an ``AP_SAT`` table).
    """
    if quantization not in _QUANTIZATION or overflow not in _OVERFLOW:
        raise ValueError(f"unknown mode {quantization!r}/{overflow!r}")
    if frac is None:
        scaled = np.asarray(values, dtype=np.float64) * 2.0**fmt.frac
        if np.isnan(scaled).any():
            raise ValueError("NaN has no fixed-point value")
        if overflow == "AP_SAT":        # also keeps the conversion to int64 in range
            scaled = np.clip(scaled, fmt.min_code - 1, fmt.max_code + 1)
        elif not (np.abs(scaled) < 2.0**62).all():
            raise ValueError("value too large (or infinite) to wrap")
        whole = np.floor(scaled)
        if quantization == "AP_RND":
            whole = whole + (scaled - whole >= 0.5)     # scaled - floor(scaled) is exact
        codes = whole.astype(np.int64)
    else:
        codes = shift_round(np.asarray(values), frac - fmt.frac, _QUANTIZATION[quantization])
    if overflow == "AP_SAT":
        return saturate(codes, fmt)
    modulus = 1 << fmt.width
    codes = codes % modulus                             # floor mod: non-negative
    return codes - modulus * (codes > fmt.max_code) if fmt.signed else codes


# --- hls4ml softmax_stable -----------------------------------------------------------------------

def _top_bits(codes, fmt, bits):
    """The table index: the top ``bits`` bits of ``fmt``'s bit pattern (sign bit included)."""
    return (codes % (1 << fmt.width)) >> (fmt.width - bits)


def _lower_edges(fmt, bits):
    """Value of each index's bucket: top bits = index, lower bits 0 (hls4ml's table argument)."""
    pattern = np.arange(1 << bits, dtype=np.int64) << (fmt.width - bits)
    if fmt.signed:
        pattern = np.where(pattern > fmt.max_code, pattern - (1 << fmt.width), pattern)
    return pattern * 2.0**-fmt.frac                      # few significant bits: exact in float32


@functools.lru_cache(maxsize=32)
def hls4ml_tables(norm_fmt: Fixed, exp_bits, inv_fmt: Fixed, inv_bits, table_fmt: Fixed,
                  exp_scale=1.0):
    """``(exp_table, invert_table)`` as codes of ``table_fmt`` (read-only int64 arrays).

    The C++ computes the entries in float: ``std::exp(float)`` (here float64 exp rounded to
    float32, i.e. a correctly rounded ``expf``) and ``1 / x`` in float32, then assigns them to
    the AP_RND/AP_SAT table type. ``1/0`` (entry 0 of the inverse table) is +inf -> the maximum.
    """
    v = np.float32(_lower_edges(norm_fmt, exp_bits))
    exp_vals = np.float32(np.exp(-np.float64(v * np.float32(exp_scale))))
    with np.errstate(divide="ignore"):
        inv_vals = np.float32(1.0) / np.float32(_lower_edges(inv_fmt, inv_bits))
    tables = (ap_cast(exp_vals, table_fmt, None, "AP_RND", "AP_SAT"),
              ap_cast(inv_vals, table_fmt, None, "AP_RND", "AP_SAT"))
    for t in tables:
        t.flags.writeable = False
    return tables


def hls4ml_softmax_stable(x, in_fmt: Fixed, out_fmt: Fixed, table_size=1024, table_t=(18, 8),
                          mask=None, *, exp_scale=1.0, out_quantization="AP_TRN",
                          out_overflow="AP_WRAP"):
    """Emulation of hls4ml's ``softmax_stable`` with its default types; codes of ``out_fmt``.

    ``table_t = (W, I)`` is ``ap_fixed<W, I, AP_RND, AP_SAT>``, used (as by default) for
    exp_table_t, inv_table_t, inv_inp_t and accum_t. Datapath (seeds.md §3.6c):

    1. ``xmax`` over the unmasked elements; ``d_i = xmax - x_i`` assigned to
       ``inp_norm_t = ap_ufixed<W_in - s, I_in - s>`` (s = 1 for a signed input): the same
       fraction bits, so exact, but with the default AP_WRAP a difference of ``2**(I_in - s)``
       or more wraps around, as in the generated HLS.
    2. ``e_i = exp_table[top N_exp bits of d_i]``, entries ``exp(-v * exp_scale)`` at the
       bucket's lower edge. ``N_exp = min(log2(table_size), width of inp_norm_t)``: the
       auto-reduction; I take the address word's width (W_in - 1 for a signed input, what
       ``core_templates.py`` emits) rather than W_in, since top-bit slicing cannot address more.
    3. ``sum e_i`` in accum_t, then cast to inv_inp_t (both AP_RND/AP_SAT). The entries are
       non-negative and carry accum_t's fraction bits, so saturating each node of hls4ml's adder
       tree equals saturating the exact total, which is what is computed.
    4. ``inv = invert_table[top N_inv bits of the sum's pattern]``, entries ``1/v``; the table
       keeps ``table_size`` entries (hls4ml only shrinks the exp table; ``N_inv`` is capped at
       inv_inp_t's width as a guard). With the defaults it is indexed in steps of 0.25 of the sum.
    5. ``res_i = e_i * inv``: the exact product, assigned to ``out_fmt`` with
       ``out_quantization``/``out_overflow``, by default ap_fixed's own AP_TRN/AP_WRAP (hls4ml
       gives the result type no modes unless configured). Beware: with AP_WRAP a result of 1.0
       or more in a format that stops below 1 (e.g. u8.8) wraps to a small value.
    """
    x, mask = _codes(x, in_fmt, mask)
    table_fmt = Fixed(table_t[0], table_t[0] - table_t[1])
    norm_fmt = Fixed(in_fmt.width - in_fmt.signed, in_fmt.frac, signed=False)
    table_bits = int(math.log2(table_size))
    if 1 << table_bits != table_size:
        raise ValueError(f"table_size must be a power of two, not {table_size!r}")
    exp_bits = min(table_bits, norm_fmt.width)
    inv_bits = min(table_bits, table_fmt.width)
    exp_table, inv_table = hls4ml_tables(norm_fmt, exp_bits, table_fmt, inv_bits, table_fmt,
                                         float(exp_scale))

    xmax = np.where(mask, in_fmt.min_code, x).max(axis=-1, keepdims=True)
    d = ap_cast(xmax - x, norm_fmt, in_fmt.frac)                # AP_TRN/AP_WRAP: exact or wraps
    e = np.where(mask, 0, exp_table[_top_bits(d, norm_fmt, exp_bits)])
    total = saturate(e.sum(axis=-1, keepdims=True), table_fmt)  # accum_t
    total = ap_cast(total, table_fmt, table_fmt.frac, "AP_RND", "AP_SAT")   # -> inv_inp_t
    inv = inv_table[_top_bits(total, table_fmt, inv_bits)]
    res = ap_cast(e * inv, out_fmt, 2 * table_fmt.frac, out_quantization, out_overflow)
    return np.where(mask, 0, res)


# --- I-BERT i-exp and i-softmax ------------------------------------------------------------------

#: I-BERT's exp polynomial a*(p**2 + b*p + c) on (-ln2, 0]: coef [0.35815147, 0.96963238, 1.0]
#: divided through by a, i.e. b = 2.7073, c = 2.7921 (paper form 0.3585*(p + 1.353)**2 + 0.344).
IBERT_A = 0.35815147
IBERT_B = 0.96963238 / IBERT_A
IBERT_C = 1.0 / IBERT_A
IBERT_LN2 = 0.6931
IBERT_CONST = 30          # clamp at 30 ln2-steps; the exp is scaled by 2**30
IBERT_MAX_BIT = 32        # factor = floor(2**32 / sum)


@functools.lru_cache(maxsize=64)
def ibert_constants(in_frac):
    """``(x0_int, b_int, c_int)`` for S = 2**-in_frac (floors of exactly scaled float64)."""
    return (math.floor(-IBERT_LN2 * 2.0**in_frac), math.floor(IBERT_B * 2.0**in_frac),
            math.floor(IBERT_C * 2.0**(2 * in_frac)))


def ibert_exp(q, in_frac):
    """I-BERT's i-exp of codes ``q <= 0`` (scale S = 2**-in_frac): ``(z, steps)``.

    The integer exp is ``z << (30 - steps)`` with scale ``a*S**2 / 2**30``, so
    ``exp(q*S) ~ z * a*S**2 * 2**-steps``. Returned unshifted to keep int64 (the shift is exact).
    """
    x0_int, b_int, c_int = ibert_constants(in_frac)
    q = np.maximum(np.asarray(q, dtype=np.int64), IBERT_CONST * x0_int)
    steps = q // x0_int                     # floor(q / x0_int) in 0..30
    r = q - steps * x0_int                  # in (x0_int, 0]
    z = np.maximum((r + b_int) * r + c_int, 0)     # always positive; I-BERT clamps anyway
    return z, steps


@functools.lru_cache(maxsize=64)
def ibert_e16_tables(in_frac, act_bits=16):
    """I-BERT's i-exp followed by its 16-bit requantisation, as two tables over the remainder.

    ``q = -(steps * d + rem)`` with ``d = -x0_int`` and ``0 <= rem < d``: the polynomial ``z``
    depends on ``rem`` only, so with ``u = z * top`` the requantised exponent
    ``round(u / (c_int * 2**steps))`` is ``round_table[rem]`` for ``steps = 0`` and
    ``(floor_table[rem] + 2**(steps - 1)) >> steps`` otherwise (nested floors of positive
    integers). Hardware computes it so: a constant division, a table, a rounded shift.
    Returns ``(d, round_table, floor_table)``.
    """
    x0_int, b_int, c_int = ibert_constants(in_frac)
    top = (1 << (act_bits - 1)) - 1
    d = -x0_int
    rounded, floored = [], []
    for rem in range(d):
        r = -rem
        z = max((r + b_int) * r + c_int, 0)
        rounded.append(min((2 * z * top + c_int) // (2 * c_int), top))
        floored.append(min(z * top // c_int, top))
    return d, tuple(rounded), tuple(floored)


def ibert_e16(q, in_frac, act_bits=16):
    """The requantised i-exp of codes ``q <= 0`` through :func:`ibert_e16_tables` (the RTL's
    arithmetic; equal to :func:`ibert_softmax`'s ``e16`` for every ``q``)."""
    d, rounded, floored = ibert_e16_tables(in_frac, act_bits)
    neg = np.minimum(-np.asarray(q, dtype=np.int64), IBERT_CONST * d)
    steps, rem = neg // d, neg % d
    at_zero = np.asarray(rounded, dtype=np.int64)[rem]
    shifted = (np.asarray(floored, dtype=np.int64)[rem] + (1 << np.maximum(steps - 1, 0))) >> steps
    return np.where(steps == 0, at_zero, shifted)


def ibert_softmax(x, in_fmt: Fixed, out_fmt: Fixed, mask=None, *, act_bits=16):
    """I-BERT's integer softmax (``IntSoftmax``, seeds.md §3.6a); codes of ``out_fmt``.

    1. ``q = x - max(x)`` over the unmasked elements (codes, S = 2**-in_fmt.frac).
    2. i-exp (:func:`ibert_exp`): ``e = z * 2**(30 - steps)``.
    3. QuantAct(16) as IntSoftmax uses it: it is fed the integer ``e`` and, in inference, uses its
       calibrated running maximum. Every row contains its maximum, where i-exp is largest, so that
       maximum is ``E = c_int * 2**30`` exactly; the symmetric scale is ``E / (2**15 - 1)`` and
       ``e16 = round(e * (2**15 - 1) / E)``, clamped to 16 bits. I round half up exactly in
       integers; PyTorch's FixedPointMul goes through float and a 31-bit frexp mantissa and
       rounds half to even, so it can differ by one 16-bit LSB near ties (choice, documented).
    4. ``factor = floor(2**32 / sum e16)``; ``out = floor(e16 * factor / 2**(32 - out_fmt.frac))``
       with scale ``2**-out_fmt.frac``, saturated to ``out_fmt``.
    """
    x, mask = _codes(x, in_fmt, mask)
    xmax = np.where(mask, in_fmt.min_code, x).max(axis=-1, keepdims=True)
    q = np.where(mask, 0, x - xmax)         # masked: any value in range, zeroed below
    z, steps = ibert_exp(q, in_fmt.frac)
    c_int = ibert_constants(in_fmt.frac)[2]
    top = (1 << (act_bits - 1)) - 1
    # e * top / E = z * top / (c_int << steps); Python ints if the denominator nears 2**62.
    if c_int.bit_length() + IBERT_CONST + 2 > 62:
        z, steps = z.astype(object), steps.astype(object)
    den = c_int << steps
    e16 = np.clip((2 * z * top + den) // (2 * den), -top - 1, top).astype(np.int64)
    e16 = np.where(mask, 0, e16)
    total = e16.sum(axis=-1, keepdims=True)
    # A row with an unmasked element has e16 = top at its maximum, so total > 0 there.
    factor = (1 << IBERT_MAX_BIT) // np.maximum(total, 1)
    out = shift_round(e16 * factor, IBERT_MAX_BIT - out_fmt.frac, Rounding.FLOOR)
    return np.where(mask, 0, saturate(out, out_fmt))
