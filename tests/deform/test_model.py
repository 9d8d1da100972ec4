"""The golden models: the float reference follows torchvision's rules, and the integer model
equals it exactly on integer data (integer offsets) or within the stated bound (fractional)."""

import dataclasses

import numpy as np
import pytest

from generators.deform.formats import LayerConfig
from generators.deform.model import (accumulate, bilinear_sample, clamp_offsets,
                                     deform_conv2d_reference, deform_layer, requantize,
                                     torchvision_offsets)
from generators.deform.params import DeformParams
from generators.deform.sim import random_offsets


def reference_acc(params, cfg, x, off, w, mask=None):
    tv_off, tv_mask = torchvision_offsets(params, cfg, off, mask)
    # Depthwise weights [C, 3, 3] are torchvision's [C, 1, 3, 3] with groups = C.
    weight = w if params.mode == "full" else w[:, None]
    out = deform_conv2d_reference(x.transpose(2, 0, 1)[None], tv_off, weight,
                                  stride=cfg.stride, padding=1, mask=tv_mask)
    return out[0].transpose(1, 2, 0)


def sample(params, cfg, rng):
    x = rng.integers(-128, 128, (cfg.height, cfg.width, cfg.channels))
    w = rng.integers(-(1 << (params.weight_bits - 1)), 1 << (params.weight_bits - 1),
                     (cfg.channels, 3, 3))
    off, mask = random_offsets(params, cfg, rng)
    return x, w, off, mask


@pytest.mark.parametrize("mode", ["square", "rounded"])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [(1, 1), (5, 7), (8, 6)])
def test_integer_offsets_equal_the_reference_exactly(mode, stride, size):
    params = DeformParams(offset_mode=mode, pe=2, c_max=4, h_max=8, w_max=8, d_max=3,
                          weight_bits=4)
    cfg = LayerConfig(*size, channels=4, stride=stride)
    rng = np.random.default_rng(hash((mode, stride, size)) % 2**32)
    x, w, off, _ = sample(params, cfg, rng)
    np.testing.assert_array_equal(accumulate(params, cfg, x, off, w),
                                  reference_acc(params, cfg, x, off, w))


@pytest.mark.parametrize("mode", ["square", "rounded", "bilinear"])
@pytest.mark.parametrize("stride", [1, 2])
def test_full_mode_equals_the_reference(mode, stride):
    """Full 3x3 mode: every output channel sums over all input channels (torchvision groups=1);
    exact for integer offsets and, bilinear, on the offset grid."""
    extra = dict(offset_frac=3, mask=True) if mode == "bilinear" else {}
    params = DeformParams(mode="full", offset_mode=mode, pe=2, c_max=6, po=2, co_max=4,
                          h_max=7, w_max=7, d_max=2, weight_bits=4, **extra)
    cfg = LayerConfig(7, 6, 6, stride=stride, out_channels=4)
    rng = np.random.default_rng(10 + stride)
    x = rng.integers(-128, 128, (7, 6, 6))
    w = rng.integers(-8, 8, (4, 6, 3, 3))
    off, mask = random_offsets(params, cfg, rng)
    acc = accumulate(params, cfg, x, off, w, mask)
    np.testing.assert_array_equal(acc / 2.0 ** params.coef_frac,
                                  reference_acc(params, cfg, x, off, w, mask))


@pytest.mark.parametrize("stride", [1, 2])
def test_bilinear_on_the_offset_grid_is_exact(stride):
    """The hardware's corner weights are the exact products of fixed-point fractions."""
    params = DeformParams(offset_mode="bilinear", pe=1, c_max=3, h_max=9, w_max=9, d_max=3,
                          offset_frac=4, mask=True)
    cfg = LayerConfig(9, 7, 3, stride=stride)
    x, w, off, mask = sample(params, cfg, np.random.default_rng(stride))
    acc = accumulate(params, cfg, x, off, w, mask)
    np.testing.assert_array_equal(acc / 2.0 ** params.coef_frac,
                                  reference_acc(params, cfg, x, off, w, mask))


def test_bilinear_error_bound_for_float_offsets():
    """Rounding float offsets to f fraction bits moves each coordinate by <= 2**-(f+1); bilinear
    sampling of INT8 data is 255-Lipschitz per coordinate, so per tap |error| <= 255 * 2**-f
    and per output <= 255 * 2**-f * sum |w|."""
    params = DeformParams(offset_mode="bilinear", pe=1, c_max=2, h_max=8, w_max=8, d_max=3,
                          offset_frac=3)
    cfg = LayerConfig(8, 8, 2)
    rng = np.random.default_rng(9)
    x, w, _, _ = sample(params, cfg, rng)
    f = params.offset_frac
    float_off = rng.uniform(-2.0, 2.0, (8, 8, 9, 2))
    codes = np.floor(float_off * (1 << f) + 0.5).astype(np.int64)
    acc = accumulate(params, cfg, x, codes, w) / 2.0 ** params.coef_frac
    ref = deform_conv2d_reference(x.transpose(2, 0, 1)[None],
                                  float_off.reshape(8, 8, 18).transpose(2, 0, 1)[None],
                                  w[:, None], padding=1)[0].transpose(1, 2, 0)
    bound = 255 * 2.0 ** -f * np.abs(w).reshape(2, 9).sum(axis=1)
    error = np.abs(acc - ref)
    assert (error <= bound[None, None, :]).all()
    assert error.max() > 0          # the offsets were really off the grid


def test_reference_bilinear_rules():
    img = np.arange(1.0, 7.0).reshape(2, 3)     # [[1, 2, 3], [4, 5, 6]]
    # Halfway between four pixels; per-corner zero padding at the top-left border.
    assert bilinear_sample(img, 0.5, 0.5) == pytest.approx((1 + 2 + 4 + 5) / 4)
    assert bilinear_sample(img, -0.5, -0.5) == pytest.approx(1 / 4)
    # The out-of-range rule: y <= -1 or y >= H gives 0.
    assert bilinear_sample(img, -1.0, 1.0) == 0.0 and bilinear_sample(img, 2.0, 1.0) == 0.0
    assert bilinear_sample(img, 1.5, 2.5) == pytest.approx(6 / 4)


def test_reference_offset_groups_and_layout():
    """Two offset groups with the same offsets equal one group; dy is channel 2k, dx 2k+1."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 4, 5, 5))
    w = rng.normal(size=(2, 4, 3, 3))
    off = rng.normal(scale=1.5, size=(1, 18, 5, 5))
    one = deform_conv2d_reference(x, off, w, padding=1)
    two = deform_conv2d_reference(x, np.concatenate([off, off], axis=1), w, padding=1)
    np.testing.assert_allclose(one, two)
    # A pure dx = +1 shift on every tap equals sampling the input one column to the right.
    shift = np.zeros((1, 18, 5, 5))
    shift[:, 1::2] = 1.0
    base = deform_conv2d_reference(x[:, :, :, 1:], np.zeros((1, 18, 5, 4)), w, padding=1)
    moved = deform_conv2d_reference(x, shift, w, padding=1)
    # (column 0 differs: there the shifted map pads what the original holds)
    np.testing.assert_allclose(moved[..., 1:4], base[..., 1:4], atol=1e-12)


def test_clamping():
    square = DeformParams(offset_mode="square", d_max=4)
    np.testing.assert_array_equal(clamp_offsets(square, [0, 4, 5, 255]), [0, 4, 4, 4])
    rounded = DeformParams(offset_mode="rounded", d_max=4)
    np.testing.assert_array_equal(clamp_offsets(rounded, [-128, -3, 3, 4, 127]),
                                  [-3, -3, 3, 3, 3])
    bilinear = DeformParams(offset_mode="bilinear", d_max=2, offset_frac=4)
    np.testing.assert_array_equal(clamp_offsets(bilinear, [-100, 15, 16, 17]), [-16, 15, 16, 16])


def test_requantize():
    p = DeformParams(shift=4)
    # (acc * scale + 8) >> 4, + bias: 24/16 = 1.5 rounds up to 2, -24/16 = -1.5 up to -1.
    np.testing.assert_array_equal(requantize(p, [24, -24, 10000, -10000], 1, 0, False),
                                  [2, -1, 127, -128])
    np.testing.assert_array_equal(requantize(p, [-24, 24], 1, 3, True), [2, 5])


def _calibrated_saturation(params, seed):
    """Fraction of outputs at -128 or 127 when each channel's scale is chosen as a quantiser
    would: 127 / (the layer's largest |accumulator| on that channel), rounded to the scale
    format, at least 1. Full-range INT8 activations, random INT4 weights, offsets and mask."""
    from generators.deform.formats import LayerConfig
    from generators.deform.model import accumulate, requantize
    from generators.deform.sim import random_offsets

    rng = np.random.default_rng(seed)
    cfg = LayerConfig(12, 12, params.pe)
    x = rng.integers(-128, 128, (12, 12, params.pe))
    wmax = 1 << (params.weight_bits - 1)
    w = rng.integers(-wmax, wmax, (params.pe, 3, 3))
    off, mask = random_offsets(params, cfg, rng)
    acc = accumulate(params, cfg, x, off, w, mask)
    peak = np.maximum(np.abs(acc).reshape(-1, params.pe).max(axis=0), 1)
    ideal = np.floor(127 * 2.0**params.shift / peak)
    scale = np.clip(ideal, 1, (1 << (params.scale_bits - 1)) - 1).astype(np.int64)
    out = requantize(params, acc, scale, np.zeros(params.pe, dtype=np.int64), relu=False)
    return float(np.mean((out == 127) | (out == -128)))


@pytest.mark.parametrize("mask", [True, False])
def test_bilinear_calibrated_layers_rarely_saturate(mask):
    """Bilinear layers calibrated from their accumulator range saturate under 1 % with the
    default shift (16 + coef_frac); with the old fixed shift 16 most outputs saturated."""
    extra = dict(mask=True) if mask else {}
    params = DeformParams(offset_mode="bilinear", pe=4, c_max=32, h_max=32, w_max=32, d_max=4,
                          weight_bits=4, offset_frac=4, **extra)
    assert params.shift == 16 + params.coef_frac
    for seed in (5, 6, 7):
        assert _calibrated_saturation(params, seed) < 0.01
    if mask:        # 15 fraction bits: the old fixed shift 16 left a least gain of 1/2
        assert _calibrated_saturation(dataclasses.replace(params, shift=16), 5) > 0.2


@pytest.mark.parametrize("mode", ["depthwise", "full"])
@pytest.mark.parametrize("stride", [1, 2])
def test_plain_equals_the_deformable_model_with_zero_offsets(mode, stride):
    """offset_mode 'none' is the deformable model with regular offsets: square dilation 1,
    rounded and bilinear (dy, dx) = 0 (bilinear scaled by its corner weights and unit mask);
    and the torchvision reference with zero offsets."""
    full = mode == "full"
    sizes = dict(mode=mode, pe=2, c_max=4, h_max=9, w_max=8, weight_bits=4,
                 **(dict(po=2, co_max=4) if full else {}))
    plain = DeformParams(offset_mode="none", **sizes)
    rng = np.random.default_rng(20 + stride + 2 * full)
    for height, width in ((9, 8), (1, 1), (2, 5), (6, 1)):
        cfg = LayerConfig(height, width, 4, stride=stride, out_channels=4 if full else None)
        x = rng.integers(-128, 128, (height, width, 4))
        w = rng.integers(-8, 8, (4, 4, 3, 3) if full else (4, 3, 3))
        acc = accumulate(plain, cfg, x, None, w)
        shape = (cfg.out_height, cfg.out_width)
        square = DeformParams(offset_mode="square", d_max=2, **sizes)
        np.testing.assert_array_equal(acc, accumulate(square, cfg, x, np.ones(shape, int), w))
        zero = np.zeros(shape + (9, 2), dtype=np.int64)
        rounded = DeformParams(offset_mode="rounded", d_max=2, **sizes)
        np.testing.assert_array_equal(acc, accumulate(rounded, cfg, x, zero, w))
        bilinear = DeformParams(offset_mode="bilinear", d_max=2, offset_frac=3, mask=True,
                                **sizes)
        unit = np.full(shape + (9,), 1 << (bilinear.mask_bits - 1))
        np.testing.assert_array_equal(acc << bilinear.coef_frac,
                                      accumulate(bilinear, cfg, x, zero, w, unit))
        np.testing.assert_array_equal(acc, reference_acc(plain, cfg, x, None, w))
        # and so are the requantised outputs
        scale, bias = rng.integers(1, 400, 4), rng.integers(-20, 20, 4)
        np.testing.assert_array_equal(
            deform_layer(plain, cfg, x, None, w, scale, bias),
            deform_layer(square, cfg, x, np.ones(shape, int), w, scale, bias))


def test_plain_refuses_offsets():
    plain = DeformParams(offset_mode="none")
    with pytest.raises(ValueError, match=r"^offsets must be None without offsets "
                       r"\(offset_mode 'none'\), not an array of shape \(2, 2\)$"):
        clamp_offsets(plain, np.ones((2, 2)))
