"""Host-side preparation: weight codes, bit-planes, {0,1} -> {-1,+1} reinterpretation, pre-flip
and packing of one tile into the ``a``, ``w`` and ``z`` stream beats (pure NumPy).

Math (seeds.md section 2.2): a code q = sum_b 2**b q_b with q_b in {0, 1}; reinterpreted
q' = 2q - (2**B - 1) = sum_b 2**b s_b with s_b = 2 q_b - 1 in {-1, +1}. Then

    A @ (q - z) = (A @ q' + c * rowsum(A)) / 2,    c = 2**B - 1 - 2z   (exactly even)

and A @ q' is what the lookup array accumulates: per K-group of g activations and bit-plane b,
the g bits q_b of a column index a table T[idx] = sum_k (2 bit_k(idx) - 1) a_k.

Ternary (q = w + 1 in {0, 1, 2}) uses thermometer planes q_b = (q > b) instead: q = q_0 + q_1,
so 2w = s_0 + s_1 and A @ w = (A @ s_0 + A @ s_1) / 2, with both planes unshifted and no
row-sum correction (w = -1, 0, +1 are the plane pairs 00, 10, 11).

Stream formats (one tile, lane 0 in the low bits of tdata):

* ``a``: one beat per K-group: element ``r * g + k`` is ``A[r, G*g + k]``; K is padded up to a
  multiple of g with zero activations; ``last`` on the tile's last group.
* ``w``: one beat per tile step: element ``n`` is column n's index pattern, bit k = plane bit of
  weight ``G*g + k``. Bit-serial: steps G-major, plane 0 (LSB) first, g bits per column;
  bit-parallel: one step per group, plane b in bits ``[b*g, (b+1)*g)``. With pre-flip, a pattern
  whose sign bit (bit g-1) is set has its other g-1 bits inverted (``pair_tables``: each 2-bit
  field, weights 2i and 2i+1, is flipped by its own top bit). ``last`` on the last step.
* ``w`` with ``ternary_pairs``: one beat per group, element n holds g / 2 fields of 4 bits
  (:func:`pair_fields`), pair i (weights G*g + 2i, G*g + 2i + 1) at bit 4i.
* ``z`` (int2, int4 only): one beat per tile (with ``zp_group``: per zero-point group of K
  rows, in K order), element n = the zero-point code of column n.
* ``c`` (``acc_in`` only): one beat per output row r, element n = the accumulator input
  ``C[r, n]`` (signed ``out_width``).
* ``s`` (``requant`` only): one beat per tile, element n = column n's scale (signed, bits
  ``[0, scale_bits)``) and bias (signed, the next ``bias_bits`` bits).
* ``w`` with ``adder_tree``: one beat per group, element n holds g fields of B bits
  (:func:`adder_fields`), weight G*g + k at bit k*B.
* multiplier-array baseline ``w``: one beat per group, element n holds the g codes of column n,
  code k in bits ``[k*B, (k+1)*B)``.
"""

import numpy as np

from .params import WEIGHT_BITS

__all__ = ["quantize", "codes_from_int", "bitplanes", "reinterpret", "preflip_pattern",
           "index_patterns", "pack_tile", "pack_mult_tile", "pack_epilogue", "real_weights",
           "expand_zero_point", "pair_fields", "adder_fields"]


def quantize(weights, weight_format, scale, zero_point=None):
    """Codes q = clip(round(w / scale) + z, 0, 2**B - 1) of a float matrix [K x N].

    ``scale`` and ``zero_point`` are per column (length N) or scalars; binary rounds to the sign
    (q = 1 for w >= 0), ternary has zero point 1.
    """
    w = np.asarray(weights, dtype=np.float64)
    bits = WEIGHT_BITS[weight_format]
    ratio = w / np.asarray(scale, dtype=np.float64)
    if weight_format == "binary":
        return (ratio >= 0).astype(np.int64)
    z = 1 if weight_format == "ternary" else np.asarray(zero_point, dtype=np.int64)
    top = 2 if weight_format == "ternary" else (1 << bits) - 1
    return np.clip(np.floor(ratio + 0.5).astype(np.int64) + z, 0, top)


def expand_zero_point(zero_point, k, zp_group=None):
    """Zero points [K x N] of per-column ``zero_point`` [N], or of per-group ``zero_point``
    [ceil(K / zp_group) x N] (row k uses group k // zp_group)."""
    z = np.asarray(zero_point, dtype=np.int64)
    if z.ndim == 1:
        return np.broadcast_to(z[None, :], (k, z.shape[0]))
    return z[np.arange(k) // zp_group]


def real_weights(weight_format, q, zero_point=None, zp_group=None):
    """Integer weights the codes stand for: 2q - 1 (binary), q - 1 (ternary), q - z (z per
    column, or per group of ``zp_group`` rows when ``zero_point`` is 2-D)."""
    q = np.asarray(q, dtype=np.int64)
    if weight_format == "binary":
        return 2 * q - 1
    if weight_format == "ternary":
        return q - 1
    return q - expand_zero_point(zero_point, q.shape[0], zp_group)


def codes_from_int(weight_format, w, zero_point=None):
    """Codes of an integer weight matrix (the inverse of :func:`real_weights`)."""
    w = np.asarray(w, dtype=np.int64)
    if weight_format == "binary":
        if not np.isin(w, (-1, 1)).all():
            raise ValueError("binary weights must be -1 or +1")
        return (w + 1) // 2
    if weight_format == "ternary":
        if not np.isin(w, (-1, 0, 1)).all():
            raise ValueError("ternary weights must be -1, 0 or +1")
        return w + 1
    q = w + np.asarray(zero_point, dtype=np.int64)[None, :]
    top = (1 << WEIGHT_BITS[weight_format]) - 1
    if q.min(initial=0) < 0 or q.max(initial=0) > top:
        raise ValueError(f"weights minus zero point do not fit {weight_format} codes 0..{top}")
    return q


def bitplanes(q, bits, thermometer=False):
    """``[B, K, N]`` planes q_b in {0, 1}, plane 0 the least significant; ``thermometer``
    (ternary): q_b = (q > b), so q = sum_b q_b with every plane of weight one."""
    q = np.asarray(q, dtype=np.int64)
    if thermometer:
        return np.stack([(q > b).astype(np.int64) for b in range(bits)])
    return np.stack([(q >> b) & 1 for b in range(bits)])


def reinterpret(q, bits):
    """``[B, K, N]`` planes s_b = 2 q_b - 1 in {-1, +1}; sum_b 2**b s_b = 2q - (2**B - 1)."""
    return 2 * bitplanes(q, bits) - 1


def preflip_pattern(pattern, g, table_g=None):
    """A pattern with its sign bit (bit g-1) set gets its other bits inverted, so the hardware
    reads the stored half table at the pattern's low bits and only negates. ``table_g`` (2 for
    pair tables): each field of ``table_g`` bits is a pattern of its own, flipped by its top
    bit."""
    pattern = np.asarray(pattern, dtype=np.int64)
    table_g = table_g or g
    low = (1 << (table_g - 1)) - 1
    out = np.zeros_like(pattern)
    for shift in range(0, g, table_g):
        field = pattern >> shift & ((1 << table_g) - 1)
        out |= np.where(field >> (table_g - 1) & 1, field ^ low, field) << shift
    return out


def index_patterns(q, bits, g, preflip, thermometer=False, table_g=None):
    """``[groups, B, N]`` table indices: bit k of [G, b, n] is plane bit b of q[G*g + k, n]
    (thermometer planes for ternary, see :func:`bitplanes`); pre-flipped per field of
    ``table_g`` bits (default: g)."""
    q = np.asarray(q, dtype=np.int64)
    k, n = q.shape
    groups = -(-k // g)
    padded = np.zeros((groups * g, n), dtype=np.int64)
    padded[:k] = q
    planes = bitplanes(padded, bits, thermometer).reshape(bits, groups, g, n)
    weights = (1 << np.arange(g, dtype=np.int64))[None, None, :, None]
    patterns = (planes * weights).sum(axis=2).transpose(1, 0, 2)
    return preflip_pattern(patterns, g, table_g) if preflip else patterns


def _activation_beats(params, a):
    a = np.asarray(a, dtype=np.int64)
    rows, k = a.shape
    if rows != params.m:
        raise ValueError(f"activations must have {params.m} rows, not {rows}")
    if not 1 <= k <= params.max_k:
        raise ValueError(f"K must be between 1 and {params.max_k}, not {k}")
    low, high = -(1 << (params.act_width - 1)), (1 << (params.act_width - 1)) - 1
    if a.min() < low or a.max() > high:
        raise ValueError(f"activations must be between {low} and {high}")
    groups = -(-k // params.g)
    padded = np.zeros((rows, groups * params.g), dtype=np.int64)
    padded[:, :k] = a
    beats = padded.reshape(rows, groups, params.g).transpose(1, 0, 2).reshape(groups, -1)
    return [[int(v) for v in beat] for beat in beats], groups


def _check_codes(params, q, k):
    q = np.asarray(q, dtype=np.int64)
    if q.shape != (k, params.n):
        raise ValueError(f"codes must be {k} x {params.n}, not {q.shape[0]} x {q.shape[1]}")
    top = 2 if params.weight_format == "ternary" else (1 << params.bits) - 1
    if q.min() < 0 or q.max() > top:
        raise ValueError(f"{params.weight_format} codes must be between 0 and {top}")
    return q


def _zero_beats(params, zero_point, k):
    """The ``z`` beats: one (per-column zero points [N]) or one per zero-point group
    ([ceil(K / zp_group) x N])."""
    if not params.has_zero_point:
        return None
    z = np.asarray(zero_point, dtype=np.int64)
    top = (1 << params.bits) - 1
    shape = params.zero_point_shape(k)
    what = (f"{shape[0]} x {params.n} codes (one row per {params.zp_group} rows of K)"
            if params.zp_group else f"{params.n} codes")
    if z.shape != shape or z.min() < 0 or z.max() > top:
        raise ValueError(f"zero_point must be {what} between 0 and {top}")
    return [[int(v) for v in row] for row in z.reshape(-1, params.n)]


def pack_tile(params, a, q, zero_point=None):
    """``(a_beats, w_beats, z_beats)`` of one tile for :class:`LutTcParams` ``params``.

    Each beat is a list of element values (``z_beats`` is None without zero points).
    """
    a_beats, groups = _activation_beats(params, a)
    q = _check_codes(params, q, np.asarray(a).shape[1])
    if params.ternary_pairs:
        w_beats = [[int(v) for v in row] for row in pair_fields(q, params.g)]
        return a_beats, w_beats, None
    if params.adder_tree:
        w_beats = [[int(v) for v in row] for row in adder_fields(q, params)]
        return a_beats, w_beats, _zero_beats(params, zero_point, q.shape[0])
    patterns = index_patterns(q, params.bits, params.g, params.preflip,
                              params.weight_format == "ternary",
                              2 if params.pair_tables else None)   # [G, B, N]
    if params.bit_serial:
        w_beats = [[int(v) for v in patterns[G, b]] for G in range(groups)
                   for b in range(params.bits)]
    else:
        shifts = (params.g * np.arange(params.bits, dtype=np.int64))[None, :, None]
        merged = (patterns << shifts).sum(axis=1)
        w_beats = [[int(v) for v in merged[G]] for G in range(groups)]
    return a_beats, w_beats, _zero_beats(params, zero_point, q.shape[0])


def pair_fields(q, g):
    """``[groups, N]`` patterns of ternary codes q (w = q - 1) for ``ternary_pairs``: per pair i
    of a K-group (weights 2i, 2i+1) a 4-bit field at bit 4i: index j (bits 0-1) into the pair's
    table ``[a0, a1, a0 + a1, a0 - a1]``, sign (bit 2: negate) and zero (bit 3: add nothing).
    K is padded with zero weights."""
    q = np.asarray(q, dtype=np.int64)
    k, n = q.shape
    groups = -(-k // g)
    w = np.zeros((groups * g, n), dtype=np.int64)
    w[:k] = q - 1
    w0, w1 = w.reshape(groups, g // 2, 2, n).transpose(2, 0, 1, 3)
    # (w0, w1) = s * table[j]'s weights: (1, 0), (0, 1), (1, 1), (1, -1), s the sign of the
    # first nonzero weight.
    j = np.where(w0 == 0, 1, np.where(w1 == 0, 0, np.where(w0 == w1, 2, 3)))
    sign = np.where(w0 != 0, w0 < 0, w1 < 0).astype(np.int64)
    zero = ((w0 == 0) & (w1 == 0)).astype(np.int64)
    j = np.where(zero, 0, j)
    fields = j | sign << 2 | zero << 3
    shifts = (4 * np.arange(g // 2, dtype=np.int64))[None, :, None]
    return (fields << shifts).sum(axis=1)


def adder_fields(q, params):
    """``[groups, N]`` weight words of codes q for the ``adder_tree`` baseline: per weight a
    field of B bits, weight k of the group at bit k*B (K padded with the code of w = 0 for
    ternary, any code elsewhere: padded activations are 0).

    * binary (w = 2q - 1): bit 0 negates (q = 0).
    * ternary (w = q - 1): bit 0 negates (q = 0), bit 1 zeroes (q = 1).
    * int2, int4: the reinterpreted q' = 2q - (2**B - 1) = (-1)**negate (2j + 1): negate
      (bit B-1) = not q[B-1], j (bits 0..B-2) = q's low bits, inverted when negating (the
      pre-flip again), so the lanes accumulate A @ q' as the LUT tensor core does.
    """
    bits, g = params.bits, params.g
    q = np.asarray(q, dtype=np.int64)
    k, n = q.shape
    groups = -(-k // g)
    pad = 1 if params.weight_format == "ternary" else 0
    padded = np.full((groups * g, n), pad, dtype=np.int64)
    padded[:k] = q
    if params.weight_format == "binary":
        fields = 1 - padded
    elif params.weight_format == "ternary":
        fields = (padded == 0) | (padded == 1) << 1
    else:
        top = padded >> (bits - 1) & 1
        low = (1 << (bits - 1)) - 1
        fields = np.where(top, padded & low, ~padded & low) | (1 - top) << (bits - 1)
    shifts = (bits * np.arange(g, dtype=np.int64))[None, :, None]
    return (fields.reshape(groups, g, n) << shifts).sum(axis=1)


def pack_mult_tile(params, a, q, zero_point=None):
    """``(a_beats, w_beats, z_beats)`` of one tile for the multiplier-array baseline."""
    a_beats, groups = _activation_beats(params, a)
    q = _check_codes(params, q, np.asarray(a).shape[1])
    padded = np.zeros((groups * params.g, params.n), dtype=np.int64)
    padded[:q.shape[0]] = q
    shifts = (params.bits * np.arange(params.g, dtype=np.int64))[None, :, None]
    merged = (padded.reshape(groups, params.g, params.n) << shifts).sum(axis=1)
    w_beats = [[int(v) for v in merged[G]] for G in range(groups)]
    return a_beats, w_beats, _zero_beats(params, zero_point, q.shape[0])


def _signed_range(name, values, width, shape):
    values = np.asarray(values, dtype=np.int64)
    low, high = -(1 << (width - 1)), (1 << (width - 1)) - 1
    if values.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, not {values.shape}")
    if values.min(initial=0) < low or values.max(initial=0) > high:
        raise ValueError(f"{name} must be between {low} and {high} (signed {width} bits)")
    return values


def pack_epilogue(params, acc_in=None, scale=None, bias=None):
    """``(c_beats, s_beat)`` of one tile: the accumulator input ``acc_in`` [m x n] as m beats
    (``acc_in`` params only, else None) and the per-column ``scale`` and ``bias`` [n] as one
    beat of packed elements (``requant`` only, else None)."""
    c_beats = s_beat = None
    if params.acc_in:
        if acc_in is None:
            raise ValueError("acc_in params need an accumulator input C [m x n]")
        c = _signed_range("acc_in", acc_in, params.out_width, (params.m, params.n))
        c_beats = [[int(v) for v in row] for row in c]
    elif acc_in is not None:
        raise ValueError("an accumulator input needs params with acc_in = true")
    if params.requant:
        if scale is None or bias is None:
            raise ValueError("requant params need a scale and a bias per column")
        sc = _signed_range("scale", scale, params.scale_bits, (params.n,))
        bs = _signed_range("bias", bias, params.bias_bits, (params.n,))
        mask = (1 << params.scale_bits) - 1
        s_beat = [int(a) & mask | (int(b) & ((1 << params.bias_bits) - 1)) << params.scale_bits
                  for a, b in zip(sc, bs)]
    elif scale is not None or bias is not None:
        raise ValueError("a scale and bias need params with requant = true")
    return c_beats, s_beat
