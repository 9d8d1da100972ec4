"""Dense weight matrix -> the chain's compressed weight stream, and its outputs back to rows.

Prune a matrix to N:M by magnitude (:func:`prune_nm`), or refuse one that is not N:M
(:func:`check_nm`); :func:`compress` packs rows into tiles of ``lanes / N`` rows, N per tile;
:func:`rows_of` turns the block's output beats back into ``W @ x``.
"""

import numpy as np

from .model import OutBeat, WeightBeats
from .params import SparseDspParams

__all__ = ["prune_nm", "check_nm", "compress", "rows_of"]


def prune_nm(w, n, m):
    """Keep the ``n`` largest-magnitude weights of every M-wide block of each row (ties: the
    lower column wins); the rest become 0."""
    w = np.asarray(w, dtype=np.int64)
    rows, k = w.shape
    if k % m:
        raise ValueError(f"the matrix has {k} columns, not a multiple of m ({m})")
    blocks = w.reshape(rows, k // m, m)
    # Stable sort of -|w|: equal magnitudes keep column order.
    order = np.argsort(-np.abs(blocks), axis=2, kind="stable")
    keep = np.zeros_like(blocks, dtype=bool)
    np.put_along_axis(keep, order[:, :, :n], True, axis=2)
    return np.where(keep, blocks, 0).reshape(rows, k)


def check_nm(w, n, m):
    """Raise ValueError naming the first M-wide block with more than ``n`` non-zeros."""
    w = np.asarray(w)
    rows, k = w.shape
    counts = np.count_nonzero(w.reshape(rows, k // m, m), axis=2)
    bad = np.argwhere(counts > n)
    if len(bad):
        r, b = (int(v) for v in bad[0])
        raise ValueError(f"row {r}, columns {b * m}..{b * m + m - 1} hold {int(counts[r, b])} "
                         f"non-zeros: not {n}:{m} (prune it with prune_nm)")


def compress(params: SparseDspParams, w, n, prune=False):
    """The weight beats of matrix ``w`` (rows x K) and the tile N of each of its tiles.

    ``n``: one N for every tile, or a sequence with one N per tile (mixed N in one matrix).
    Rows are taken in order, ``lanes / N`` per tile; the last tile is padded with zero rows.
    ``prune``: prune each tile's rows to its N:M instead of refusing a non-N:M matrix.
    Returns ``(beats, tile_ns)``.
    """
    p = params
    w = np.asarray(w, dtype=np.int64)
    if w.ndim != 2 or w.shape[0] == 0:
        raise ValueError(f"w must be a non-empty 2-D matrix, not shape {w.shape}")
    rows, k = w.shape
    if k % p.m or k > p.max_k:
        raise ValueError(f"K must be a positive multiple of m ({p.m}) up to max_k "
                         f"({p.max_k}), not {k}")
    low, high = -(1 << (p.weight_bits - 1)), (1 << (p.weight_bits - 1)) - 1
    if w.min() < low or w.max() > high:
        raise ValueError(f"weights must be in [{low}, {high}] ({p.weight_bits} bits)")
    slices = k // p.m
    parts, tile_ns, row, t = [], [], 0, 0
    while row < rows:
        tile_n = n if isinstance(n, (int, np.integer)) else n[t] if t < len(n) else None
        if tile_n is None:
            raise ValueError(f"n gives {len(n)} tiles but the matrix needs more")
        if tile_n not in p.supported_n:
            raise ValueError(f"N {tile_n} is not in supported_n {p.supported_n}")
        groups = p.lanes // tile_n
        tile = np.zeros((groups, k), dtype=np.int64)
        tile[:min(groups, rows - row)] = w[row:row + groups]
        if prune:
            tile = prune_nm(tile, tile_n, p.m)
        else:
            try:
                check_nm(tile, tile_n, p.m)
            except ValueError as error:
                raise ValueError(f"tile {t} (rows from {row}): {error}") from None
        values = np.zeros((slices, p.lanes), dtype=np.int64)
        index = np.zeros((slices, p.lanes), dtype=np.int64)
        blocks = tile.reshape(groups, slices, p.m)
        for g in range(groups):
            for s in range(slices):
                lanes = slice(g * tile_n, (g + 1) * tile_n)
                if tile_n == p.m:
                    cols = np.arange(p.m)              # dense: every position, in order
                else:
                    cols = np.flatnonzero(blocks[g, s])
                    cols = np.concatenate([cols, np.zeros(tile_n - len(cols), dtype=np.int64)])
                values[s, lanes] = np.where(np.arange(tile_n) < np.count_nonzero(blocks[g, s])
                                            if tile_n != p.m else True, blocks[g, s, cols], 0)
                index[s, lanes] = cols
        parts.append(WeightBeats(values, index, np.full(slices, tile_n.bit_length() - 1),
                                 np.zeros(slices, dtype=bool)))
        tile_ns.append(int(tile_n))
        row += groups
        t += 1
    beats = WeightBeats.concat(parts)
    beats.last[-1] = True
    return beats, tile_ns


def rows_of(params: SparseDspParams, out, rows):
    """``W @ x`` (``rows`` values; packed: shape (2, rows), low vector first) from output beats:
    each beat's rows are the slots its ``valid`` bits mark, in slot order."""
    vectors = 2 if params.packed else 1
    got = [[] for _ in range(vectors)]
    for beat in out:
        slots = [j for j in range(params.max_groups) if beat.valid >> j & 1]
        for v in range(vectors):
            got[v] += [beat.data[v * params.max_groups + j] for j in slots]
    result = np.array([g[:rows] for g in got], dtype=np.int64)
    return result if params.packed else result[0]


_ = OutBeat  # re-exported type of ``out`` items
