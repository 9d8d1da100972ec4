"""Sparse DSP chain model and packer: compressed streams through the model give ``W @ x`` for
every N (mixed per tile, packed or not), pruning keeps the largest weights, errors are named."""

import numpy as np
import pytest

from generators.sparse_dsp.compress import check_nm, compress, prune_nm, rows_of
from generators.sparse_dsp.model import WeightBeats, matvec, row_slots
from generators.sparse_dsp.params import SparseDspParams

CONFIGS = {
    "l8_m4": SparseDspParams(lanes=8, m=4, supported_n=(1, 2, 4), max_k=64),
    "l16_m16": SparseDspParams(lanes=16, m=16, supported_n=(2, 4, 8, 16), max_k=128),
    "dense": SparseDspParams(lanes=8, m=4, supported_n=(4,), max_k=64),
    "int4_fabric": SparseDspParams(lanes=4, m=4, supported_n=(2, 4), weight_bits=4, max_k=32,
                                   sparse_mux="fabric"),
    "packed_oau": SparseDspParams(lanes=8, m=4, supported_n=(1, 2, 4), max_k=64, packed=True,
                                  oau=True),
    "packed": SparseDspParams(lanes=4, m=4, supported_n=(4,), max_k=4, packed=True),
}


def random_matrix(p, rng, rows, k, extremes=False):
    low, high = -(1 << (p.weight_bits - 1)), (1 << (p.weight_bits - 1)) - 1
    if extremes:
        return np.full((rows, k), low), np.full((2, k) if p.packed else k, -128)
    return rng.integers(low, high + 1, (rows, k)), \
        rng.integers(-128, 128, (2, k) if p.packed else k)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_model_of_the_compressed_stream_is_the_matrix_product(name):
    p = CONFIGS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    for trial in range(6):
        k = p.m * int(rng.integers(1, p.max_k // p.m + 1))
        rows = int(rng.integers(1, 3 * p.lanes))
        w, x = random_matrix(p, rng, rows, k, extremes=trial == 0)
        ns = [int(rng.choice(p.supported_n)) for _ in range(rows)]     # one N per tile, mixed
        beats, tile_ns = compress(p, w, ns, prune=True)
        pruned = np.concatenate([prune_nm(w[r:r + 1], n, p.m)
                                 for r, n in enumerate(_row_ns(p, tile_ns, rows))])
        got = rows_of(p, matvec(p, x, beats), rows)
        want = x @ pruned.T if p.packed else pruned @ x
        assert np.array_equal(got, want), (name, trial)


def _row_ns(p, tile_ns, rows):
    """The N each row was pruned to: rows go ``lanes / N`` to a tile, in order."""
    ns = [n for n in tile_ns for _ in range(p.lanes // n)]
    return ns[:rows]


def test_tiles_end_after_k_over_m_beats_and_mark_their_rows():
    p = SparseDspParams(lanes=8, m=4, supported_n=(1, 2, 4), max_k=16)
    w = np.arange(1, 12 * 16 + 1).reshape(12, 16) % 7 - 3
    beats, tile_ns = compress(p, w, [2, 4, 1], prune=True)
    assert tile_ns == [2, 4, 1] and len(beats) == 3 * 16 // 4
    assert list(beats.last) == [False] * 11 + [True]
    out = matvec(p, np.ones(16, dtype=np.int64), beats)
    assert [beat.last for beat in out] == [False, False, True]
    # Row g of a tile with N lanes a row sits in slot g * N / min(supported_n).
    assert [beat.valid for beat in out] == [0b01010101, 0b00010001, 0b11111111]
    assert list(row_slots(p, 1)) == [0, 2, 4, 6]


def test_prune_keeps_the_largest_magnitudes_lower_column_on_ties():
    w = np.array([[1, -5, 3, 0, 2, 2, -2, 1]])
    assert prune_nm(w, 2, 4).tolist() == [[0, -5, 3, 0, 2, 2, 0, 0]]
    assert prune_nm(w, 1, 4).tolist() == [[0, -5, 0, 0, 2, 0, 0, 0]]
    with pytest.raises(ValueError, match=r"^the matrix has 8 columns, not a multiple of m \(3\)$"):
        prune_nm(w, 1, 3)


def test_non_nm_matrix_is_refused_unless_pruned():
    p = SparseDspParams(lanes=8, m=4, supported_n=(1, 2, 4), max_k=16)
    w = np.zeros((2, 8), dtype=np.int64)
    w[1, 4:7] = 1
    with pytest.raises(ValueError, match=r"^row 1, columns 4\.\.7 hold 3 non-zeros: not 2:4 "
                                         r"\(prune it with prune_nm\)$"):
        check_nm(w, 2, 4)
    with pytest.raises(ValueError, match=r"^tile 0 \(rows from 0\): row 1, columns 4\.\.7"):
        compress(p, w, 2)
    compress(p, w, 2, prune=True)


@pytest.mark.parametrize("kwargs, message", [
    (dict(w=np.zeros((0, 4))), r"w must be a non-empty 2-D matrix, not shape \(0, 4\)"),
    (dict(w=np.zeros((1, 6))), r"K must be a positive multiple of m \(4\) up to max_k \(16\), "
                               r"not 6"),
    (dict(w=np.full((1, 4), 128)), r"weights must be in \[-128, 127\] \(8 bits\)"),
    (dict(n=3), r"N 3 is not in supported_n \(1, 2, 4\)"),
    (dict(w=np.zeros((9, 4)), n=[4]), r"n gives 1 tiles but the matrix needs more"),
])
def test_compress_errors(kwargs, message):
    p = SparseDspParams(lanes=8, m=4, supported_n=(1, 2, 4), max_k=16)
    args = {"w": np.zeros((1, 4), dtype=np.int64), "n": 4, **kwargs}
    with pytest.raises(ValueError, match=f"^{message}$"):
        compress(p, args["w"], args["n"])


def test_model_refuses_malformed_streams():
    p = SparseDspParams(lanes=8, m=4, supported_n=(2, 4), max_k=16)
    beats, _ = compress(p, np.ones((4, 8), dtype=np.int64), 4)
    x = np.ones(8, dtype=np.int64)
    early = WeightBeats(beats.values, beats.index, beats.n_code, np.ones(len(beats), bool))
    with pytest.raises(ValueError, match=r"^a matrix is a non-empty run of beats with last on "
                                         r"its final beat only$"):
        matvec(p, x, early)
    one = WeightBeats(beats.values, beats.index, np.zeros(len(beats), np.int64), beats.last)
    with pytest.raises(ValueError, match=r"^beat 0: N code 0 \(N = 1\) is not supported "
                                         r"\(supported_n \(2, 4\)\)$"):
        matvec(p, x, one)
    big = WeightBeats(beats.values * 200, beats.index, beats.n_code, beats.last)
    with pytest.raises(ValueError, match=r"^weights must be in \[-128, 127\]$"):
        matvec(p, x, big)
