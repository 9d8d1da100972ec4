"""Bit-exact golden models of the GELU approximator, and the ideal float64 GELU.

Ref: Edge-MoE (Sarkar et al., ICCAD'23, arXiv 2305.18691), ``src/gelu.cpp``: GELU(x) = ReLU(x) -
delta(|x|), delta(u) = u*Phi(-u), tabulated and linearly interpolated (seeds.md §3.2).
Ref: I-BERT (Kim et al., ICML'21): integer GELU via a clipped second-order erf polynomial
(seeds.md §3.6a).

Pure NumPy integer arithmetic on raw codes: every shift says how it rounds, every narrowing
saturates. :mod:`.rtl` builds the same arithmetic from the same derived constants
(:func:`table`, :func:`table_layout`, :func:`igelu_constants`).
"""

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..fixedpoint import Rounding, requantize, shift_round
from .params import GeluParams

__all__ = ["gelu", "gelu_reference", "delta_reference", "table", "table_layout", "TableLayout",
           "igelu_constants", "IGeluConstants", "direct_table"]

_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu_reference(x):
    """Exact GELU, erf form, in float64."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def delta_reference(u):
    """The even correction delta(u) = u*Phi(-u) = ReLU(u) - GELU(u), for u >= 0."""
    u = np.asarray(u, dtype=np.float64)
    return u * 0.5 * (1.0 + _erf(-u / math.sqrt(2.0)))


# --- table methods -------------------------------------------------------------------------------

#: Widest position inside a segment fed to the interpolation multiplier: 17 bits (Edge-MoE's own
#: width) keeps the multiply within one 18x18 DSP; coarser segments drop position LSBs instead.
POSITION_BITS = 17


@dataclass(frozen=True)
class TableLayout:
    """Where each ``|x|`` code finds its table segment.

    ``regions`` holds ``(start_code, end_code, shift, base)``: codes ``start <= u < end`` use entry
    ``base + ((u - start) >> shift)`` at position ``(u - start) mod 2**shift`` inside the segment;
    codes at or past ``cutoff_code`` have delta = 0. Positions are aligned to ``position_bits``
    bits (shifted left, or right beyond :data:`POSITION_BITS`) so one multiplier serves all regions.
    """

    regions: tuple
    cutoff_code: int
    position_bits: int

    @staticmethod
    def align(position, shift, position_bits):
        """``position`` (``shift`` bits) as a fraction of ``position_bits`` bits (floor)."""
        move = position_bits - shift
        return position << move if move >= 0 else position >> -move


def table_layout(params: GeluParams):
    regions, base = [], 0
    for start, end, step_log2 in params.table_regions:
        start_code = int(start * 2**params.in_frac)
        end_code = int(end * 2**params.in_frac)
        shift = params.in_frac - step_log2
        regions.append((start_code, end_code, shift, base))
        base += (end_code - start_code) >> shift
    position_bits = min(max(r[2] for r in regions), POSITION_BITS)
    return TableLayout(tuple(regions), regions[-1][1], position_bits)


@functools.lru_cache(maxsize=64)
def table(params: GeluParams):
    """Correction table: non-negative integers with ``table_frac`` fractional bits.

    ``edge_moe`` samples delta at the nodes, rounding half up (as the Edge-MoE ROM holds).
    ``fitted_pwl`` moves each node so the interpolant's error on its two segments is balanced
    (an iterative minimax fit on the segment's own input codes), then rounds.
    """
    nodes = _table_nodes(params)
    values = delta_reference(nodes)
    if params.method == "fitted_pwl":
        values = _fit_nodes(params, nodes, values)
    scaled = np.floor(values * 2.0**params.table_frac + 0.5)
    return tuple(int(v) for v in np.maximum(scaled, 0))


def _table_nodes(params):
    nodes = []
    for start, end, step_log2 in params.table_regions:
        count = int((end - start) * 2**step_log2)
        nodes += [float(start) + k * 2.0**-step_log2 for k in range(count)]
    nodes.append(float(params.table_regions[-1][1]))
    return np.array(nodes)


_FIT_SAMPLES = 32       # positions sampled per segment (all of them when a segment has fewer)
_FIT_ITERATIONS = 60
_FIT_DAMPING = 0.7


def _fit_nodes(params, nodes, values):
    shifts = []
    for start, end, step_log2 in params.table_regions:
        shifts += [params.in_frac - step_log2] * int((end - start) * 2**step_log2)
    # Segment k is sampled at fractions 0, 1/n, ..., 1 of its width, n = min(2**shift, 32):
    # exactly the positions the hardware can reach when the segment holds few input codes.
    curve, lerp = [], []
    for k, shift in enumerate(shifts):
        n = min(2**shift, _FIT_SAMPLES)
        frac = np.arange(n + 1) / n
        curve.append(delta_reference(nodes[k] + frac * (nodes[k + 1] - nodes[k])))
        lerp.append(frac)
    offset = np.zeros_like(values)
    for _ in range(_FIT_ITERATIONS):
        fitted = values + offset
        centre = np.array([
            (err.max() + err.min()) / 2 for err in (
                curve[k] - (fitted[k] + lerp[k] * (fitted[k + 1] - fitted[k]))
                for k in range(len(shifts)))])
        # A node is shared by two segments: move it by the mean of their error centres.
        push = np.zeros_like(values)
        count = np.zeros_like(values)
        push[:-1] += centre
        push[1:] += centre
        count[:-1] += 1
        count[1:] += 1
        offset += _FIT_DAMPING * push / count
        offset[-1] = 0.0    # the cut-off node stays on the curve: no step where delta drops to 0
    return values + offset


def _table_gelu(params, x):
    layout = table_layout(params)
    tab = np.array(table(params), dtype=np.int64)
    u = np.abs(x)
    index = np.zeros_like(u)
    position = np.zeros_like(u)
    for start, end, shift, base in layout.regions:
        inside = (u >= start) & (u < end)
        offset = u - start
        index = np.where(inside, base + (offset >> shift), index)
        position = np.where(inside, layout.align(offset & ((1 << shift) - 1), shift,
                                                 layout.position_bits), position)
    below_cutoff = u < layout.cutoff_code
    lower = tab[index]
    upper = tab[np.minimum(index + 1, len(tab) - 1)]
    # Linear interpolation, floored to table_frac bits (Edge-MoE's AP_TRN).
    delta = ((lower << layout.position_bits) + position * (upper - lower)) >> layout.position_bits
    delta = np.where(below_cutoff, delta, 0)
    wide_frac = max(params.in_frac, params.table_frac)
    relu = np.maximum(x, 0)
    wide = shift_round(relu, params.in_frac - wide_frac, Rounding.FLOOR) \
        - shift_round(delta, params.table_frac - wide_frac, Rounding.FLOOR)
    return requantize(wide, wide_frac, params.out_format, params.rounding)


# --- direct table -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=16)
def direct_table(params: GeluParams):
    """Output code of every input code, in address order (the code's two's-complement bits as an
    unsigned number: 0, 1, .., max_code, min_code, .., -1): exact GELU in float64, rounded as
    ``rounding`` says and saturated. Correctly rounded up to float64's error in erf (~1e-16
    relative), far below any output LSB; a tie (x = 0 alone) is exact."""
    fmt = params.in_format
    codes = np.arange(1 << fmt.width, dtype=np.int64)
    codes = np.where(codes > fmt.max_code, codes - (1 << fmt.width), codes)
    exact = gelu_reference(fmt.to_float(codes)) * 2.0**params.out_frac
    rounded = np.floor(exact + 0.5) if params.rounding == Rounding.HALF_UP.value \
        else np.floor(exact)
    out = params.out_format
    return tuple(int(v) for v in np.clip(rounded, out.min_code, out.max_code))


def _direct_gelu(params, x):
    tab = np.array(direct_table(params), dtype=np.int64)
    return tab[x & ((1 << params.in_width) - 1)]


# --- I-BERT integer GELU -----------------------------------------------------------------------

IBERT_A = -0.2888
IBERT_B = -1.769
IBERT_K = 1.4142            # the I-BERT code's sqrt(2)
IBERT_Y_BITS = 16           # bits kept of the erf polynomial (I-BERT's fixed >> 14, generalised)
REQUANT_BITS = 18           # significant bits of the output-scale multiplier (one DSP operand)


@dataclass(frozen=True)
class IGeluConstants:
    """Integer constants of I-BERT's i-GELU for one input/output format."""

    b_int: int           # floor(b / S'), negative; |q| is clipped at -b_int
    c_int: int           # floor((1/a) / S'^2), negative
    y_shift: int         # floor-shift of the polynomial, I-BERT's 14 made format-dependent
    one_int: int         # floor(1 / scale_y): "1" in the polynomial's scale
    scale_mult: int      # output scale S*scale_y/2 = scale_mult * 2**-scale_shift
    scale_shift: int


@functools.lru_cache(maxsize=64)
def igelu_constants(params: GeluParams):
    s_in = 2.0**-params.in_frac
    s_poly = s_in / IBERT_K
    b_int = math.floor(IBERT_B / s_poly)
    c_int = math.floor((1.0 / IBERT_A) / s_poly**2)
    y_shift = max(0, abs(c_int).bit_length() - IBERT_Y_BITS)
    scale_y = IBERT_A * s_poly**2 * 2**y_shift
    one_int = math.floor(1.0 / scale_y)
    out_scale = s_in * scale_y / 2
    scale_shift = REQUANT_BITS - 1 - math.floor(math.log2(abs(out_scale)))
    scale_mult = round(out_scale * 2.0**scale_shift)
    return IGeluConstants(b_int, c_int, y_shift, one_int, scale_mult, scale_shift)


def _igelu(params, x):
    k = igelu_constants(params)
    clipped = np.minimum(np.abs(x), -k.b_int)
    poly = np.sign(x) * ((clipped + k.b_int) ** 2 + k.c_int)
    poly = poly >> k.y_shift                        # floor, as I-BERT's floor(y / 2**14)
    # x * (1 + erf) can exceed 62 bits for 32-bit inputs: finish in Python integers.
    product = x.astype(object) * (poly + k.one_int).astype(object) * k.scale_mult
    return requantize(product, k.scale_shift, params.out_format, params.rounding).astype(np.int64)


def gelu(params: GeluParams, x):
    """Output codes of the hardware for input codes ``x`` (any shape), bit for bit."""
    x = np.asarray(x, dtype=np.int64)
    fmt = params.in_format
    if x.size and (x.min() < fmt.min_code or x.max() > fmt.max_code):
        raise ValueError(f"input codes must lie in [{fmt.min_code}, {fmt.max_code}] "
                         f"for {fmt.name}")
    if params.method == "i_gelu":
        return _igelu(params, x)
    if params.method == "direct_table":
        return _direct_gelu(params, x)
    return _table_gelu(params, x)
