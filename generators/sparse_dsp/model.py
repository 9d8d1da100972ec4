"""Bit-exact golden model of the sparse DSP chain: the same beats, tiles and sums as the RTL.

Ref: FlightLLM (Zeng et al., FPGA'24, arXiv 2401.03868), CSD-Chain; seeds.md §1.3 and §1.7.

The block holds one activation vector x (K values, K a multiple of M, at most ``max_k``) and
streams weight beats past it. A beat carries ``lanes`` non-zero weights with their positions
(``index``, 0..M-1) inside an M-wide block of K, and the tile's N (as log2 N). A *tile* is
``lanes / N`` rows: beat s of a tile holds, for each row, the N non-zeros of the row's block s
(lanes ``g*N .. g*N+N-1`` for the tile's row g). A tile ends after K/M beats, or earlier at the
matrix's last beat (``last``); its N is read from its first beat. The chain multiplies every
lane, sums each group of N lanes (the reduction node of that group) and accumulates the group
sums of a tile's beats: one output beat per tile, ``lanes / min(supported_n)`` result slots.
Row g of the tile sits in slot ``g * N / min(supported_n)`` (the slot of its first lane), its bit
set in ``valid``; the other slots are 0. Spreading the rows this way keeps every slot fed by one
fixed node of the adder tree whatever N is, so the hardware needs no per-slot level select.

Packed mode: x is two vectors, low (b) and high (a); every lane multiplies w * ((a << 18) + b)
and the sums are split into the two 18-bit-separated lanes either at the output (``oau`` off: the
low lane must never overflow, which the parameters guarantee) or, with the overflow adjust unit,
at the reduction taps and adder-tree level ``oau_level`` (two exact sums from there on).
"""

import dataclasses

import numpy as np

from .params import LOW_LANE_BITS, PACK_SHIFT, SparseDspParams

__all__ = ["WeightBeats", "OutBeat", "matvec", "split_lanes", "pack_operand", "tile_sums",
           "row_slots"]


@dataclasses.dataclass
class WeightBeats:
    """A weight stream: per beat ``values`` and ``index`` (lanes each), ``n_code`` and ``last``."""

    values: np.ndarray          # (beats, lanes) signed weight codes
    index: np.ndarray           # (beats, lanes) positions 0..m-1 (ignored when dense-only)
    n_code: np.ndarray          # (beats,) log2 N, read on a tile's first beat
    last: np.ndarray            # (beats,) bool, the matrix's last beat

    def __len__(self):
        return len(self.n_code)

    @classmethod
    def concat(cls, parts):
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts])
                     for f in dataclasses.fields(cls)))


@dataclasses.dataclass(frozen=True)
class OutBeat:
    data: tuple                 # max_groups results (packed: low vector's, then high vector's)
    valid: int                  # bit j: slot j holds a row of the tile (see :func:`row_slots`)
    last: bool


def split_lanes(value):
    """Packed sum -> (high, low): low is the sign-extended low 18 bits, high the rest.

    Exact when the true low sum lies in [-2**17, 2**17); otherwise the low lane has wrapped and
    both parts are wrong (the lane-overflow condition of seeds.md §1.3).
    """
    value = np.asarray(value, dtype=np.int64)
    low = value & ((1 << LOW_LANE_BITS) - 1)
    low = np.where(low >= 1 << (LOW_LANE_BITS - 1), low - (1 << LOW_LANE_BITS), low)
    return (value - low) >> PACK_SHIFT, low


def pack_operand(high, low):
    """The multiplier operand (a << 18) + b of packed mode."""
    return (np.asarray(high, dtype=np.int64) << PACK_SHIFT) + np.asarray(low, dtype=np.int64)


def _check_x(params, x):
    x = np.asarray(x, dtype=np.int64)
    shape = (2,) if params.packed else ()
    if x.ndim != len(shape) + 1 or x.shape[:-1] != shape:
        raise ValueError(f"x must have shape {(*shape, 'K')}, not {x.shape}")
    k = x.shape[-1]
    if k == 0 or k % params.m or k > params.max_k:
        raise ValueError(f"K must be a positive multiple of m ({params.m}) up to max_k "
                         f"({params.max_k}), not {k}")
    low, high = -(1 << (params.act_bits - 1)), (1 << (params.act_bits - 1)) - 1
    if x.min() < low or x.max() > high:
        raise ValueError(f"activations must be in [{low}, {high}]")
    return x


def row_slots(params: SparseDspParams, level):
    """Output slots holding a tile's rows at N = 2**level: row g in slot g * N / min(N)."""
    stride = (1 << level) // params.supported_n[0]
    return np.arange(params.lanes >> level) * stride


def tile_sums(params: SparseDspParams, products, level):
    """Reduction-node outputs of one beat: sums of groups of 2**level lanes, in their slots.

    ``products``: (lanes,) unpacked or packed products. Unpacked: (max_groups,) sums. Packed:
    (high, low) arrays of (max_groups,), split where the hardware splits them.
    """
    p = params
    groups = p.lanes >> level
    if not p.packed or not p.oau:
        sums = products.reshape(groups, 1 << level).sum(axis=1)
        out = np.zeros(p.max_groups, dtype=np.int64)
        out[row_slots(p, level)] = sums
        return out
    # OAU: packed sums up to 2**min(level, oau_level) products, split there, exact sums above.
    split = min(level, p.oau_level)
    high, low = split_lanes(products.reshape(-1, 1 << split).sum(axis=1))
    high = high.reshape(groups, -1).sum(axis=1)
    low = low.reshape(groups, -1).sum(axis=1)
    out_h, out_l = np.zeros(p.max_groups, dtype=np.int64), np.zeros(p.max_groups, dtype=np.int64)
    slots = row_slots(p, level)
    out_h[slots], out_l[slots] = high, low
    return out_h, out_l


def matvec(params: SparseDspParams, x, beats: WeightBeats):
    """Output beats of one matrix (``beats``, ending with ``last``) against activations ``x``."""
    p = params
    x = _check_x(p, x)
    slices = x.shape[-1] // p.m
    values = np.asarray(beats.values, dtype=np.int64)
    w_low, w_high = -(1 << (p.weight_bits - 1)), (1 << (p.weight_bits - 1)) - 1
    if len(beats) == 0 or not bool(beats.last[-1]) or bool(np.any(beats.last[:-1])):
        raise ValueError("a matrix is a non-empty run of beats with last on its final beat only")
    if values.min() < w_low or values.max() > w_high:
        raise ValueError(f"weights must be in [{w_low}, {w_high}]")
    supported = {n.bit_length() - 1: n for n in p.supported_n}
    lane = np.arange(p.lanes)
    out, s, level = [], 0, None
    acc = None
    for b in range(len(beats)):
        if s == 0:
            code = int(beats.n_code[b])
            if code not in supported:
                raise ValueError(f"beat {b}: N code {code} (N = {1 << code}) is not supported "
                                 f"(supported_n {p.supported_n})")
            level = code
        base = s * p.m
        pos = lane % p.m if p.dense_only else np.asarray(beats.index[b], dtype=np.int64)
        if pos.min() < 0 or pos.max() >= p.m:
            raise ValueError(f"beat {b}: indices must be in [0, {p.m - 1}]")
        act = pack_operand(x[1, base + pos], x[0, base + pos]) if p.packed else x[base + pos]
        sums = tile_sums(p, values[b] * act, level)
        acc = sums if s == 0 else (tuple(a + t for a, t in zip(acc, sums))
                                   if isinstance(sums, tuple) else acc + sums)
        s += 1
        if s == slices or beats.last[b]:
            valid = sum(1 << int(j) for j in row_slots(p, level))
            if p.packed:
                high, low = acc if p.oau else split_lanes(acc)
                data = tuple(int(v) for v in np.concatenate([low, high]))
            else:
                data = tuple(int(v) for v in acc)
            out.append(OutBeat(data, valid, bool(beats.last[b])))
            s = 0
    return out
