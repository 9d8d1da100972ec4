"""Bit-exact golden models of the LUT tensor core and the multiplier-array baseline (NumPy and
Python integers only), driven by the same stream beats as the hardware.

:func:`lut_tc_tile` follows the RTL step by step: per K-group the table of each row (half table
of 2**(g-1) entries when symmetrised, else the full 2**g), per step a lookup for every column
(index inversion when not pre-flipped, negation by the sign bit), the table shifted by the
bit-plane (ternary's two thermometer planes are not shifted), accumulation; at the tile end
the zero-point correction ``(acc + c * rowsum) / 2`` (int2, int4) with ``c = 2**B - 1 - 2z``
taken from the odd multiples ``(2j+1) * rowsum`` of the row sum, or ``acc / 2`` (ternary). With
``ternary_pairs`` each pair of weights is one lookup (or none) in its pair's 4-entry table; with
``pair_tables`` each plane is looked up per pair of weights in the pair's 2-entry half table.
:func:`reference` is the plain integer product ``A @ (q - z)`` both must equal.
"""

import itertools

import numpy as np

from .prepare import pack_epilogue, pack_mult_tile, pack_tile, real_weights

__all__ = ["table", "pair_tables", "lut_tc_tile", "mult_tile", "lut_tc", "mult_array", "reference",
           "correction_select", "epilogue", "requantize"]


def table(activations, entries):
    """``T[idx] = sum_k (2 bit_k(idx) - 1) a_k`` for idx < ``entries`` (half or full table)."""
    return [sum(a if idx >> k & 1 else -a for k, a in enumerate(activations))
            for idx in range(entries)]


def pair_tables(activations):
    """``ternary_pairs``: per pair (a0, a1) of a group the table ``[a0, a1, a0 + a1, a0 - a1]``,
    concatenated."""
    out = []
    for a0, a1 in zip(activations[0::2], activations[1::2]):
        out += [a0, a1, a0 + a1, a0 - a1]
    return out


def _pair_lookups(params, tab, pattern):
    """Sum of one column's pair lookups: ``0`` (zero flag) or ``+-tab[4i + j]``."""
    total = 0
    for i in range(params.g // 2):
        field = pattern >> (4 * i) & 15
        if not field >> 3 & 1:
            value = tab[4 * i + (field & 3)]
            total += -value if field >> 2 & 1 else value
    return total


def _adder_terms(params, activations, word):
    """``adder_tree``: one column's sum of the g selected, signed multiples of one group."""
    bits, total = params.bits, 0
    for k, a in enumerate(activations):
        field = word >> (k * bits) & ((1 << bits) - 1)
        if params.weight_format == "binary":
            negate, value = field, a
        elif params.weight_format == "ternary":
            negate, value = field & 1, 0 if field >> 1 & 1 else a
        else:
            negate = field >> (bits - 1) & 1
            value = (2 * (field & ((1 << (bits - 1)) - 1)) + 1) * a
        total += -value if negate else value
    return total


def correction_select(z, bits):
    """``(negate, j)`` with ``2**B - 1 - 2z = (-1)**negate * (2j + 1)``: the sign is the code's
    top bit, j the other bits, inverted when the sign is clear (the pre-flip trick again)."""
    negate = z >> (bits - 1) & 1
    low = z & ((1 << (bits - 1)) - 1)
    return negate, low if negate else low ^ ((1 << (bits - 1)) - 1)


def _correction(params, rowsum, z):
    """``c * rowsum`` with ``c = 2**B - 1 - 2z``, as the hardware forms it."""
    negate, j = correction_select(z, params.bits)
    multiple = (2 * j + 1) * rowsum
    return -multiple if negate else multiple


def _correct(params, acc, rowsum, z):
    """Output of one lane from its accumulator A @ q' (exact integer halving); with
    ``zp_group`` the corrections are already in ``acc``."""
    if params.weight_format == "binary" or params.ternary_pairs or (
            params.adder_tree and params.weight_format == "ternary"):
        return acc
    if params.weight_format == "ternary":
        return acc >> 1     # thermometer planes: acc = A @ (s0 + s1) = 2 A @ w
    if params.zp_group:
        return acc >> 1
    return (acc + _correction(params, rowsum, z)) >> 1


def _saturate(value, width):
    low, high = -(1 << (width - 1)), (1 << (width - 1)) - 1
    return min(max(value, low), high)


def requantize(params, x, scale, bias):
    """``clamp(((x * scale + 2**(shift-1)) >> shift) + bias, -128, 127)`` (half up)."""
    y = x * scale
    if params.shift:
        y = (y + (1 << (params.shift - 1))) >> params.shift
    return _saturate(y + bias, 8)


def _unpack_s(params, element):
    scale = element & ((1 << params.scale_bits) - 1)
    bias = element >> params.scale_bits & ((1 << params.bias_bits) - 1)
    scale -= (scale >> (params.scale_bits - 1)) << params.scale_bits
    bias -= (bias >> (params.bias_bits - 1)) << params.bias_bits
    return scale, bias


def epilogue(params, rows, c_beats=None, s_beat=None):
    """The tile's result rows after the optional accumulator input (added, saturating to
    ``out_width``) and requantisation stage, as the drain applies them."""
    out = []
    for r, row in enumerate(rows):
        done = []
        for n, x in enumerate(row):
            if params.acc_in:
                x = _saturate(x + c_beats[r][n], params.out_width)
            if params.requant:
                x = requantize(params, x, *_unpack_s(params, s_beat[n]))
            done.append(x)
        out.append(done)
    return out


def _rows(params, a_beats):
    g = params.g
    return [[beat[r * g:(r + 1) * g] for beat in a_beats] for r in range(params.m)]


def lut_tc_tile(params, a_beats, w_beats, z_beats=None, c_beats=None, s_beat=None):
    """Output rows (``m`` lists of ``n`` ints) of one tile, computed as the RTL does: with
    ``zp_group``, each zero-point group's correction ``c * rowsum`` joins the accumulators as
    the group ends."""
    rows = _rows(params, a_beats)
    groups = len(a_beats)
    if len(w_beats) != groups * params.steps_per_group:
        raise ValueError(f"{groups} groups need {groups * params.steps_per_group} w beats, "
                         f"not {len(w_beats)}")
    acc = [[0] * params.n for _ in range(params.m)]
    rowsum = [0] * params.m
    zp_rowsum = [0] * params.m      # the current zero-point group's row sums
    for G in range(groups):
        if params.ternary_pairs:
            for r in range(params.m):
                tab = pair_tables(rows[r][G])
                for col in range(params.n):
                    acc[r][col] += _pair_lookups(params, tab, w_beats[G][col])
            continue
        if params.adder_tree:
            for r in range(params.m):
                rowsum[r] += sum(rows[r][G])
                zp_rowsum[r] += sum(rows[r][G])
                for col in range(params.n):
                    acc[r][col] += _adder_terms(params, rows[r][G], w_beats[G][col])
        else:
            _lookup_group(params, rows, G, w_beats, acc, rowsum, zp_rowsum)
        if params.zp_group and (G % params.groups_per_zp == params.groups_per_zp - 1
                                or G == groups - 1):
            z = z_beats[G // params.groups_per_zp]
            for r in range(params.m):
                for col in range(params.n):
                    acc[r][col] += _correction(params, zp_rowsum[r], z[col])
            zp_rowsum = [0] * params.m
    z_beat = z_beats[0] if z_beats else [0] * params.n
    rows_out = [[_correct(params, acc[r][col], rowsum[r], z_beat[col])
                 for col in range(params.n)] for r in range(params.m)]
    return epilogue(params, rows_out, c_beats, s_beat)


def _lookup_group(params, rows, G, w_beats, acc, rowsum, zp_rowsum):
    """One K-group of the table designs: tables, then every step's lookups, into ``acc``."""
    bits, half = params.bits, params.symmetrize
    # Pair tables: each pair of activations (and its 2-bit sub-pattern) is a table of g = 2.
    g = 2 if params.pair_tables else params.g
    low_mask = (1 << (g - 1)) - 1
    tables = [[table(rows[r][G][i:i + g], 1 << (g - 1) if half else 1 << g)
               for i in range(0, params.g, g)] for r in range(params.m)]
    for r in range(params.m):
        rowsum[r] += sum(rows[r][G])
        zp_rowsum[r] += sum(rows[r][G])
    for step in range(params.steps_per_group):
        beat = w_beats[G * params.steps_per_group + step]
        planes = [step] if params.bit_serial else range(bits)
        for r in range(params.m):
            for col in range(params.n):
                for b, t in itertools.product(planes, range(len(tables[r]))):
                    shift = (0 if params.bit_serial else b * params.g) + t * g
                    pattern = beat[col] >> shift & ((1 << g) - 1)
                    if half:
                        sign = pattern >> (g - 1) & 1
                        j = pattern & low_mask
                        if not params.preflip and sign:
                            j ^= low_mask
                        value = tables[r][t][j] << params.plane_shifts[b]
                        acc[r][col] += -value if sign else value
                    else:
                        acc[r][col] += tables[r][t][pattern] << params.plane_shifts[b]


def mult_tile(params, a_beats, w_beats, z_beats=None, c_beats=None, s_beat=None):
    """Output rows of one tile of the multiplier array: dequantise, multiply, accumulate."""
    g, bits = params.g, params.bits
    rows = _rows(params, a_beats)
    out = [[0] * params.n for _ in range(params.m)]
    for G, beat in enumerate(w_beats):
        z_beat = z_beats[G // params.groups_per_zp] if z_beats else [0] * params.n
        for col in range(params.n):
            codes = [beat[col] >> (k * bits) & ((1 << bits) - 1) for k in range(g)]
            if params.weight_format == "binary":
                w = [2 * q - 1 for q in codes]
            elif params.weight_format == "ternary":
                w = [q - 1 for q in codes]
            else:
                w = [q - z_beat[col] for q in codes]
            for r in range(params.m):
                out[r][col] += sum(a * wk for a, wk in zip(rows[r][G], w))
    return epilogue(params, out, c_beats, s_beat)


def lut_tc(params, a, q, zero_point=None, acc_in=None, scale=None, bias=None):
    """``A @ (q - z)`` (+ C, requantised, as the params choose) through the LUT tensor core
    model (packs the tile first)."""
    beats = pack_tile(params, a, q, zero_point) + pack_epilogue(params, acc_in, scale, bias)
    return np.array(lut_tc_tile(params, *beats), dtype=np.int64)


def mult_array(params, a, q, zero_point=None, acc_in=None, scale=None, bias=None):
    """``A @ (q - z)`` (+ C, requantised) through the multiplier-array model."""
    beats = pack_mult_tile(params, a, q, zero_point) + pack_epilogue(params, acc_in, scale, bias)
    return np.array(mult_tile(params, *beats), dtype=np.int64)


def reference(weight_format, a, q, zero_point=None, acc_in=None, params=None, scale=None,
              bias=None):
    """The plain integer product the hardware must equal: ``A @ (q - z)`` (z per group of
    ``params.zp_group`` rows when 2-D), plus ``acc_in`` (saturated to ``params.out_width``) and
    requantised by ``scale``, ``bias`` when given."""
    zp_group = params.zp_group if params is not None else None
    out = np.asarray(a, dtype=np.int64) @ real_weights(weight_format, q, zero_point, zp_group)
    if acc_in is not None:
        limit = 1 << (params.out_width - 1)
        out = np.clip(out + np.asarray(acc_in, dtype=np.int64), -limit, limit - 1)
    if scale is not None:
        y = out * np.asarray(scale, dtype=np.int64)[None, :]
        if params.shift:
            y = (y + (1 << (params.shift - 1))) >> params.shift
        out = np.clip(y + np.asarray(bias, dtype=np.int64)[None, :], -128, 127)
    return out
