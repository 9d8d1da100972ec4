"""Golden models of the deformable 3x3 convolution engine (pure NumPy, no Amaranth).

* :func:`deform_conv2d_reference`: float64 reference with exactly torchvision's
  ``ops.deform_conv2d`` semantics (NCHW; offset channels dy then dx per tap, offset groups, DCNv2
  mask, bilinear sampling with per-corner zero padding and the out-of-range rule).
* :func:`accumulate` / :func:`deform_layer`: the bit-exact integer model of the hardware
  (depthwise or full 3x3, padding 1, offsets clamped as :class:`DeformParams` documents, INT8 in
  and out).
* :func:`torchvision_offsets`: the hardware's offsets (after clamping) as torchvision tensors, to
  check the integer model against the reference.

Ref: torchvision ``csrc/ops/cpu/deform_conv2d_kernel.cpp`` (semantics restated in
shared/design/seeds.md §4.1); CoDeNet §3 (square shape, rounded offsets) and its ``conv.h``
quantisation unit.
"""

import numpy as np

from .formats import LayerConfig
from .params import DeformParams

__all__ = ["deform_conv2d_reference", "bilinear_sample", "clamp_offsets", "tap_samples",
           "accumulate", "requantize", "deform_layer", "torchvision_offsets", "TEMPLATE"]

#: (dy, dx) direction of tap k = 3i + j in CoDeNet's square shape.
TEMPLATE = np.array([(i - 1, j - 1) for i in range(3) for j in range(3)], dtype=np.int64)


def bilinear_sample(img, y, x):
    """torchvision's bilinear sample of ``img`` [H, W] at float arrays ``y``, ``x``."""
    h, w = img.shape
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    inside = ~((y <= -1) | (y >= h) | (x <= -1) | (x >= w))
    y0 = np.floor(y).astype(np.int64)
    x0 = np.floor(x).astype(np.int64)
    y1, x1 = y0 + 1, x0 + 1
    ly, lx = y - y0, x - x0
    hy, hx = 1 - ly, 1 - lx

    def v(yy, xx):
        ok = inside & (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        return np.where(ok, img[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)], 0.0)

    val = (hy * hx) * v(y0, x0) + (hy * lx) * v(y0, x1) + (ly * hx) * v(y1, x0) \
        + (ly * lx) * v(y1, x1)
    return np.where(inside, val, 0.0)


def deform_conv2d_reference(input, offset, weight, bias=None, stride=(1, 1), padding=(0, 0),
                            dilation=(1, 1), mask=None):
    """``torchvision.ops.deform_conv2d`` in float64 NumPy (same arguments and shapes)."""
    input = np.asarray(input, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    b, c_in, h, w = input.shape
    c_out, c_per, kh, kw = weight.shape
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    dh, dw = (dilation, dilation) if np.isscalar(dilation) else dilation
    h_out = (h + 2 * ph - (dh * (kh - 1) + 1)) // sh + 1
    w_out = (w + 2 * pw - (dw * (kw - 1) + 1)) // sw + 1
    g_off = offset.shape[1] // (2 * kh * kw)
    g_w = c_in // c_per
    if mask is None:
        mask = np.ones((b, g_off * kh * kw, h_out, w_out))
    mask = np.asarray(mask, dtype=np.float64)
    oy = np.arange(h_out)[:, None]
    ox = np.arange(w_out)[None, :]
    col = np.zeros((b, c_in, kh * kw, h_out, w_out))
    for n in range(b):
        for c in range(c_in):
            g = c // (c_in // g_off)
            for i in range(kh):
                for j in range(kw):
                    k = i * kw + j
                    dy = offset[n, g * 2 * kh * kw + 2 * k]
                    dx = offset[n, g * 2 * kh * kw + 2 * k + 1]
                    y = (oy * sh - ph + i * dh) + dy
                    x = (ox * sw - pw + j * dw) + dx
                    col[n, c, k] = mask[n, g * kh * kw + k] * bilinear_sample(input[n, c], y, x)
    out = np.zeros((b, c_out, h_out, w_out))
    per_out = c_out // g_w
    for g in range(g_w):
        cols = col[:, g * c_per:(g + 1) * c_per].reshape(b, c_per * kh * kw, h_out, w_out)
        wg = weight[g * per_out:(g + 1) * per_out].reshape(per_out, c_per * kh * kw)
        out[:, g * per_out:(g + 1) * per_out] = np.einsum("ok,bkyx->boyx", wg, cols)
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return out


def clamp_offsets(params: DeformParams, offsets):
    """The offsets as the engine uses them: dilations to ``0..d_max``, (dy, dx) codes to
    ``±(d_max - 1)`` (times ``2**offset_frac`` for bilinear); the plain 3x3 takes none."""
    if not params.offsets:
        if offsets is not None:
            raise ValueError("offsets must be None without offsets (offset_mode 'none'), "
                             f"not an array of shape {np.shape(offsets)}")
        return None
    offsets = np.asarray(offsets, dtype=np.int64)
    if params.offset_mode == "square":
        return np.clip(offsets, 0, params.offset_limit)
    return np.clip(offsets, -params.offset_limit, params.offset_limit)


def tap_samples(params: DeformParams, cfg: LayerConfig, offsets, mask=None):
    """Yield ``(k, y, x, coef)`` per tap and bilinear corner: integer sample positions
    [Ho, Wo] and the coefficient the sample is multiplied by (1 for integer modes)."""
    off = clamp_offsets(params, offsets)
    oy = np.arange(cfg.out_height)[:, None] * cfg.stride
    ox = np.arange(cfg.out_width)[None, :] * cfg.stride
    shape = (cfg.out_height, cfg.out_width)
    for k, (ty, tx) in enumerate(TEMPLATE):
        if params.offset_mode == "none":
            yield k, oy + ty, ox + tx, np.ones(shape, dtype=np.int64)
        elif params.offset_mode == "square":
            yield k, oy + ty * off, ox + tx * off, np.ones(shape, dtype=np.int64)
        elif params.offset_mode == "rounded":
            yield k, oy + ty + off[..., k, 0], ox + tx + off[..., k, 1], \
                np.ones(shape, dtype=np.int64)
        else:
            f = params.offset_frac
            one = 1 << f
            yf = ((oy + ty) << f) + off[..., k, 0]       # position in units of 2**-f
            xf = ((ox + tx) << f) + off[..., k, 1]
            ly, lx = yf & (one - 1), xf & (one - 1)
            m = (np.asarray(mask, dtype=np.int64)[..., k] if params.mask
                 else np.ones(shape, dtype=np.int64))
            # Corner order as the hardware's passes: (y0,x0), (y0,x1), (y1,x0), (y1,x1).
            for cy in (0, 1):
                for cx in (0, 1):
                    wy = ly if cy else one - ly
                    wx = lx if cx else one - lx
                    yield k, (yf >> f) + cy, (xf >> f) + cx, wy * wx * m


def accumulate(params: DeformParams, cfg: LayerConfig, x, offsets, weights, mask=None):
    """Accumulators [Ho, Wo, C_out] (int64) of the deformable 3x3 convolution of the INT8
    feature map ``x`` [H, W, C] with ``weights`` [C, 3, 3] (depthwise) or [C_out, C, 3, 3]
    (full); out-of-image samples are 0. ``offsets`` is None for the plain 3x3."""
    cfg.check(params)
    x = np.asarray(x, dtype=np.int64)
    full = params.mode == "full"
    c_out = cfg.output_channels(params)
    wk = np.asarray(weights, dtype=np.int64).reshape((c_out, cfg.channels, 9) if full
                                                     else (cfg.channels, 9))
    h, w = cfg.height, cfg.width
    acc = np.zeros((cfg.out_height, cfg.out_width, c_out), dtype=np.int64)
    for k, y, xx, coef in tap_samples(params, cfg, offsets, mask):
        y, xx = np.broadcast_arrays(y, xx)
        ok = (y >= 0) & (y < h) & (xx >= 0) & (xx < w)
        v = np.where(ok[..., None], x[np.clip(y, 0, h - 1), np.clip(xx, 0, w - 1)], 0)
        v = v * coef[..., None]
        if full:
            acc += v @ wk[:, :, k].T
        else:
            acc += v * wk[None, None, :, k]
    return acc


def requantize(params: DeformParams, acc, scale, bias, relu):
    """CoDeNet's quantisation unit: ``(acc * scale + 2**(shift-1)) >> shift`` (half up),
    plus ``bias``, optional ReLU, saturation to INT8; ``scale``/``bias`` per channel."""
    acc = np.asarray(acc, dtype=np.int64)
    q = acc * np.asarray(scale, dtype=np.int64)
    if params.shift:
        q = (q + (1 << (params.shift - 1))) >> params.shift
    q = q + np.asarray(bias, dtype=np.int64)
    if relu:
        q = np.maximum(q, 0)
    return np.clip(q, -128, 127)


def deform_layer(params, cfg, x, offsets, weights, scale, bias, mask=None):
    """Output codes [Ho, Wo, C] of one feature map through the engine."""
    acc = accumulate(params, cfg, x, offsets, weights, mask)
    return requantize(params, acc, scale, bias, cfg.relu)


def torchvision_offsets(params: DeformParams, cfg: LayerConfig, offsets, mask=None):
    """The engine's (clamped) offsets and mask as torchvision ``offset`` [1, 18, Ho, Wo] and
    ``mask`` [1, 9, Ho, Wo] floats (mask ``None`` without one), for dilation 1 and padding 1;
    zeros for the plain 3x3."""
    off = clamp_offsets(params, offsets)
    if off is None:
        dyx = np.zeros((cfg.out_height, cfg.out_width, 9, 2))
    elif params.offset_mode == "square":
        dyx = TEMPLATE[None, None] * (off[..., None, None] - 1)      # d = 1 + s
    else:
        dyx = off / float(1 << (params.offset_frac or 0))
    tv = np.asarray(dyx, dtype=np.float64).reshape(cfg.out_height, cfg.out_width, 18)
    tv = tv.transpose(2, 0, 1)[None]
    tv_mask = None
    if params.mask:
        tv_mask = (np.asarray(mask, dtype=np.float64) / (1 << (params.mask_bits - 1)))
        tv_mask = tv_mask.transpose(2, 0, 1)[None]
    return tv, tv_mask
