"""Composed-layer models: the requantise adapter's definition on directed and random values, the
lane and order adapters, and the FFN model against its parts' models chained by hand."""

import numpy as np
import pytest

from generators.compose import FfnParams, Requant
from generators.compose.adapters import narrow, requantize, tiles_to_rows, widen
from generators.compose.model import ffn, ffn_input_beats, ffn_output_beats, ffn_stages
from generators.gelu.model import gelu
from generators.lut_tc.model import reference
from generators.lut_tc.prepare import real_weights


@pytest.mark.parametrize("acc, mult, shift, bits, signed, want", [
    (5, 1, 1, 8, True, 3),          # 2.5 rounds half up
    (-5, 1, 1, 8, True, -2),        # -2.5 rounds half up too (floor of -2.0)
    (-6, 1, 2, 8, True, -1),        # -1.5 -> -1
    (-7, 1, 2, 8, True, -2),        # -1.75 -> -2
    (7, 3, 0, 8, True, 21),         # shift 0: no rounding term
    (1000, 1, 0, 8, True, 127),     # saturates high
    (-1000, 1, 0, 8, True, -128),   # saturates low
    (-3, 1, 0, 8, False, 0),        # unsigned: negatives saturate to 0
    (300, 1, 0, 8, False, 255),
    (1 << 40, 65535, 48, 32, True, 256),        # 255.996 rounds to 256
    ((1 << 50) + 3, 65535, 48, 32, True, ((((1 << 50) + 3) * 65535 + (1 << 47)) >> 48)),
    (-(1 << 60), 65535, 0, 32, True, -(1 << 31)),       # past 62 bits: Python integers
])
def test_requantize_directed(acc, mult, shift, bits, signed, want):
    assert requantize(np.array([acc]), mult, shift, bits, signed)[0] == want


def test_requantize_random_against_python_integers():
    rng = np.random.default_rng(11)
    acc = rng.integers(-(1 << 30), 1 << 30, 2000)
    for mult, shift, bits in ((1, 4, 8), (37, 9, 8), (65535, 31, 16), (3, 48, 4)):
        want = [min(max((int(a) * mult + ((1 << (shift - 1)) if shift else 0)) >> shift,
                        -(1 << (bits - 1))), (1 << (bits - 1)) - 1) for a in acc]
        assert requantize(acc, mult, shift, bits).tolist() == want


@pytest.mark.parametrize("mult, shift, message", [
    (-1, 0, "mult must be an integer between 0 and 65535, not -1"),
    (1 << 16, 0, "mult must be an integer between 0 and 65535, not 65536"),
    (1, 49, "shift must be an integer between 0 and 48, not 49"),
])
def test_requantize_refuses(mult, shift, message):
    with pytest.raises(ValueError) as caught:
        requantize([1], mult, shift, 8)
    assert str(caught.value) == message


def test_lane_and_order_adapters():
    beats = np.arange(16).reshape(2, 8)
    assert narrow(beats, 2).tolist() == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11],
                                         [12, 13], [14, 15]]
    assert (widen(narrow(beats, 2), 8) == beats).all()
    tiles = np.arange(12).reshape(2, 3, 2)      # 2 tiles x 3 rows x 2 columns
    assert tiles_to_rows(tiles).tolist() == [[0, 1, 6, 7], [2, 3, 8, 9], [4, 5, 10, 11]]
    with pytest.raises(ValueError, match="lanes must divide the beat's 8 lanes, not 3"):
        narrow(beats, 3)


def _by_hand(p, x):
    """The parts' models and the adapter chained by hand: plain integer products (the LUT
    tensor core's reference), requantise, the GELU block's model, requantise."""
    def rq(r, acc):
        return requantize(acc, r.mult, r.shift, r.out_bits, r.signed)

    def plus(acc, bias, linear):
        if bias is None:
            return acc
        limit = 1 << (linear.out_width - 1)
        return np.clip(acc + bias[None, :], -limit, limit - 1)

    w1 = real_weights(p.weight_format, *p.codes(1))
    w2 = real_weights(p.weight_format, *p.codes(2))
    b1, b2 = p.biases
    acc1 = plus(x @ w1, b1, p.linear1)
    hidden = rq(p.requant2_, gelu(p.gelu_params, rq(p.requant1_, acc1)))
    return acc1, hidden, rq(p.requant3_, plus(hidden @ w2, b2, p.linear2))


@pytest.mark.parametrize("values", [
    dict(),
    dict(weight_format="int2", weights_seed=3, requant1=Requant(mult=5, shift=8)),
    dict(rows=3, d_in=16, hidden=32, d_out=16, weights_seed=8,
         gelu=(("lanes", 2), ("in_width", 10), ("in_frac", 7), ("out_width", 8),
               ("out_frac", 5), ("method", "fitted_pwl")),
         lut_tc=(("n", 8), ("g", 2), ("bit_serial", True))),
    dict(weight_format="int2", weights_seed=6, b1=list(range(-640, 640, 10)),
         b2=list(range(-3200, 3200, 200))),
])
def test_ffn_model_is_the_parts_chained(values):
    p = FfnParams(**values)
    rng = np.random.default_rng(21)
    jobs = [rng.integers(-128, 128, (p.rows, p.d_in)) for _ in range(3)]
    jobs += [np.full((p.rows, p.d_in), 127), np.full((p.rows, p.d_in), -128)]
    for x in jobs:
        stages = ffn_stages(p, x)
        acc1, hidden, y = _by_hand(p, x)
        assert (stages["acc1"] == acc1).all()
        bias = 0 if p.biases[0] is None else p.biases[0]
        assert (stages["acc1"] == reference(p.weight_format, x, *p.codes(1)) + bias).all()
        assert (stages["hidden"] == hidden).all()
        assert (stages["y"] == y).all() and (ffn(p, x) == y).all()
        assert y.min() >= -128 and y.max() <= 127


def test_ffn_corners_saturate():
    """With every weight of linear1 +1, inputs at the INT8 limits drive its accumulators past
    GELU's input range: the first requantiser saturates at both ends, the model stays exact."""
    p = FfnParams(weights_seed=None, w1=np.ones((32, 128), dtype=int).tolist(),
                  w2=(np.indices((128, 32)).sum(axis=0) % 3 - 1).tolist())
    for value, limit in ((127, 127), (-128, -128)):
        x = np.full((p.rows, p.d_in), value)
        stages = ffn_stages(p, x)
        assert (stages["gelu_in"] == limit).all()
        assert (stages["y"] == _by_hand(p, x)[2]).all()


def test_stream_beats_order():
    p = FfnParams(out_lanes=2)
    x = np.arange(p.rows * p.d_in).reshape(p.rows, p.d_in) % 256 - 128
    beats = ffn_input_beats(p, x)
    assert beats.shape == (p.in_beats, p.in_lanes_) and (beats[1] == x[0, 4:8]).all()
    y = np.arange(p.rows * p.d_out).reshape(p.rows, p.d_out)
    out = ffn_output_beats(p, y)
    # Column tile 0, row 0, columns 0..7 in pairs; then row 1; then column tile 1.
    assert out[:4].reshape(-1).tolist() == y[0, :8].tolist()
    assert out[4:8].reshape(-1).tolist() == y[1, :8].tolist()
    assert out[8].tolist() == y[0, 8:10].tolist()


def test_ffn_model_refuses_bad_input():
    p = FfnParams()
    with pytest.raises(ValueError, match="x must be 2 x 32, not 2 x 31"):
        ffn(p, np.zeros((2, 31), dtype=int))
    with pytest.raises(ValueError, match="x must hold INT8 codes"):
        ffn(p, np.full((2, 32), 128))
