"""Float training, quantisation-aware fine-tuning and export of the ViT digits classifier.

Pure NumPy with a hand-written backward pass (no torch). Deterministic: a seeded generator for
the initialisation and the batch order, and one BLAS thread (set by the script before NumPy
loads). Three stages:

1. float: the network of :mod:`.spec` in float64, Adam, cross-entropy.
2. calibration on the training split: the activation scales (residual stream, Q, K, V).
3. quantisation-aware fine-tuning: the forward pass rounds and clamps every tensor as the
   integer model does (INT8 weights per tensor, ternary FFN weights with a per-column scale,
   2:4 pruned Q/K/V projections, s8.4 logits, u0.7 probabilities, s8.5 GELU in and out), with
   straight-through gradients.

:func:`export` turns the fine-tuned float parameters into the integer weights file that
:mod:`.model` runs.
"""

import math

import numpy as np

from . import spec
from .requant import mult_shift

__all__ = ["load_split", "init_params", "forward", "train", "calibrate", "export", "Config",
           "accuracy", "prune_mask", "run", "augment",
           "dumps", "quant_from_float_file", "tuned_params", "round_mantissa"]

SEED = 18
TEST_FRACTION = 0.2


class Config:
    """Training schedule (the defaults make the shipped weights)."""

    float_epochs = 150
    qat_epochs = 60
    batch = 64
    lr = 3e-3
    qat_lr = 2e-3
    weight_decay = 1e-4
    percentile = 99.9       # activation calibration: this percentile of |x| maps to code 127
    shift = 0               # augmentation: each training image moved by up to this many pixels


def load_split():
    """``(train_pixels, train_labels, test_pixels, test_labels)``: the digits of
    ``sklearn.datasets.load_digits`` (shipped in the wheel), a stratified 80/20 split seeded
    with :data:`SEED`; pixels are integer codes 0..16."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    pixels = digits.data.astype(np.int64)
    labels = digits.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(pixels, labels, test_size=TEST_FRACTION,
                                          random_state=SEED, stratify=labels)
    return xtr, ytr, xte, yte


# --- parameters ------------------------------------------------------------------------------

def shapes():
    """Parameter name -> shape."""
    return {
        "We": (spec.DIM, spec.PATCH_PIXELS),        # chain layout: rows = outputs, K = inputs
        "pos": (spec.PATCHES, spec.DIM),
        "cls": (spec.DIM,),
        "Wq": (spec.DIM, spec.DIM),
        "Wk": (spec.DIM, spec.DIM),
        "Wv": (spec.DIM, spec.DIM),
        "W1": (spec.DIM, spec.HIDDEN),              # LUT-TC layout: K x n
        "b1": (spec.HIDDEN,),
        "W2": (spec.HIDDEN, spec.DIM),
        "b2": (spec.DIM,),
        "Wc": (spec.CLASSES, spec.DIM),
    }


def augment(pixels, rng, reach):
    """Each image moved by a random whole-pixel offset in -reach..reach on both axes (zeros
    shifted in): the digits are few (1437 to train on) and the model overfits without it."""
    if reach == 0:
        return pixels
    images = np.asarray(pixels).reshape(-1, 8, 8)
    side = 8 + 2 * reach
    padded = np.zeros((len(images), side, side), dtype=images.dtype)
    padded[:, reach:reach + 8, reach:reach + 8] = images
    dy, dx = rng.integers(0, 2 * reach + 1, (2, len(images)))
    rows = dy[:, None] + np.arange(8)[None, :]
    cols = dx[:, None] + np.arange(8)[None, :]
    moved = padded[np.arange(len(images))[:, None, None], rows[:, :, None], cols[:, None, :]]
    return moved.reshape(len(images), 64)


def init_params(rng):
    p = {}
    for name, shape in shapes().items():
        if name.startswith("b"):
            p[name] = np.zeros(shape)
        elif name in ("pos", "cls"):
            p[name] = rng.normal(0.0, 0.1, shape)
        else:
            fan_in = shape[0] if name in ("W1", "W2") else shape[1]
            p[name] = rng.normal(0.0, 1.0 / math.sqrt(fan_in), shape)
    return p


# --- fake quantisation ------------------------------------------------------------------------

def _fq(x, scale, low=-128, high=127):
    """Round half up to ``scale`` steps and clamp to codes ``low..high``; the mask is the
    straight-through gradient (1 inside the range)."""
    codes = np.floor(x / scale + 0.5)
    mask = (codes >= low) & (codes <= high)
    return np.clip(codes, low, high) * scale, mask


def _int8_weight(w):
    """Per-tensor symmetric INT8: ``(fake-quantised w, scale)``."""
    scale = max(float(np.abs(w).max()), 1e-12) / 127
    return np.clip(np.floor(w / scale + 0.5), -127, 127) * scale, scale


def _ternary_weight(w):
    """Ternary with a per-column absmean scale (BitNet): ``(alpha * t, alpha, t)``."""
    alpha = np.maximum(np.abs(w).mean(axis=0), 1e-12)
    t = np.clip(np.floor(w / alpha + 0.5), -1, 1)
    return alpha * t, alpha, t


def prune_mask(w, n=spec.QKV_N, m=spec.CHAIN.m):
    """Keep the ``n`` largest |w| of every M-wide block of each row (ties: lower column)."""
    rows, k = w.shape
    blocks = np.abs(w).reshape(rows, k // m, m)
    order = np.argsort(-blocks, axis=2, kind="stable")
    keep = np.zeros_like(blocks, dtype=bool)
    np.put_along_axis(keep, order[:, :, :n], True, axis=2)
    return keep.reshape(rows, k)


def _erf(x):
    from scipy.special import erf

    return erf(x)


def _gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _gelu_grad(x):
    density = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return 0.5 * (1.0 + _erf(x / math.sqrt(2.0))) + x * density


def _softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# --- the network ------------------------------------------------------------------------------

def _effective_weights(p, quant):
    """The weights the forward pass uses: float, or fake-quantised (``quant`` given)."""
    w = {k: p[k] for k in p}
    if quant is None:
        return w
    for name in ("Wq", "Wk", "Wv"):
        w[name] = p[name] * quant["masks"][name]
    for name in ("We", "Wq", "Wk", "Wv", "Wc"):
        w[name] = _int8_weight(w[name])[0]
    for name in ("W1", "W2"):
        w[name] = _ternary_weight(p[name])[0]
    return w


def forward(p, pixels, quant=None):
    """``(logits, cache)`` for a batch of pixel codes; ``quant`` (scales and masks) switches on
    the rounding and clamping of the integer model."""
    c = {"quant": quant}
    w = _effective_weights(p, quant)
    c["w"] = w

    def q(name, x, scale, low=-128, high=127):
        if quant is None:
            return x
        y, mask = _fq(x, scale, low, high)
        c["m_" + name] = mask
        return y

    sx = quant["sx"] if quant else None
    x = spec.patches(pixels) / spec.PIXEL_MAX                       # (B, 16, 4)
    c["x"] = x
    e = q("e", x @ w["We"].T, sx)
    pos = q("pos", w["pos"], sx)
    cls = q("cls", w["cls"], sx)
    batch = len(pixels)
    x0 = np.concatenate([np.broadcast_to(cls, (batch, 1, spec.DIM)), e + pos[None]], axis=1)
    x0 = q("x0", x0, sx)                                            # the saturating add
    c["x0"] = x0
    qv = q("q", x0 @ w["Wq"].T, quant["sq"] if quant else None)
    kv = q("k", x0 @ w["Wk"].T, quant["sk"] if quant else None)
    vv = q("v", x0 @ w["Wv"].T, quant["sv"] if quant else None)
    c["qv"], c["kv"], c["vv"] = qv, kv, vv
    s = q("s", spec.ATTN_SCALE * qv @ kv.transpose(0, 2, 1), 2.0**-spec.LOGIT_FRAC)
    a_soft = _softmax(s)
    c["a_soft"] = a_soft
    a = q("a", a_soft, 2.0**-spec.PROB_BITS, 0, (1 << spec.PROB_BITS) - 1)
    c["a"] = a
    o = q("o", a @ vv, sx)
    x1 = q("x1", x0 + o, sx)
    c["x1"] = x1
    h_pre = x1 @ w["W1"] + w["b1"]
    h = q("h", h_pre, 2.0**-spec.GELU_FRAC)
    c["h"] = h
    g = q("g", _gelu(h), 2.0**-spec.GELU_FRAC)
    c["g"] = g
    f = q("f", g @ w["W2"] + w["b2"], sx)
    x2 = q("x2", x1 + f, sx)
    c["x2"] = x2
    pooled = q("pooled", x2.mean(axis=1), sx)
    c["pooled"] = pooled
    logits = pooled @ w["Wc"].T
    return logits, c


def _mask(c, name, grad):
    mask = c.get("m_" + name)
    return grad if mask is None else grad * mask


def backward(p, c, logits, labels):
    """``(loss, grads)`` of the mean cross-entropy (straight-through through every rounding)."""
    batch = len(labels)
    prob = _softmax(logits)
    loss = -float(np.log(prob[np.arange(batch), labels] + 1e-12).mean())
    d_logits = prob
    d_logits[np.arange(batch), labels] -= 1.0
    d_logits /= batch
    w = c["w"]
    g = {}
    g["Wc"] = d_logits.T @ c["pooled"]
    d_pooled = _mask(c, "pooled", d_logits @ w["Wc"])
    d_x2 = np.broadcast_to(d_pooled[:, None, :] / spec.TOKENS, c["x2"].shape)
    d_sum2 = _mask(c, "x2", d_x2)
    d_x1 = d_sum2.copy()
    d_f = _mask(c, "f", d_sum2)
    g["W2"] = np.einsum("bth,btd->hd", c["g"], d_f)
    g["b2"] = d_f.sum(axis=(0, 1))
    d_g = _mask(c, "g", d_f @ w["W2"].T)
    d_h = _mask(c, "h", d_g * _gelu_grad(c["h"]))
    g["W1"] = np.einsum("btd,bth->dh", c["x1"], d_h)
    g["b1"] = d_h.sum(axis=(0, 1))
    d_x1 += d_h @ w["W1"].T
    d_sum1 = _mask(c, "x1", d_x1)
    d_x0 = d_sum1.copy()
    d_o = _mask(c, "o", d_sum1)
    d_a = _mask(c, "a", d_o @ c["vv"].transpose(0, 2, 1))
    d_v = c["a"].transpose(0, 2, 1) @ d_o
    a_soft = c["a_soft"]
    d_s = a_soft * (d_a - (d_a * a_soft).sum(axis=-1, keepdims=True))
    d_s = _mask(c, "s", d_s) * spec.ATTN_SCALE
    d_q = d_s @ c["kv"]
    d_k = d_s.transpose(0, 2, 1) @ c["qv"]
    for name, d in (("q", d_q), ("k", d_k), ("v", d_v)):
        d = _mask(c, name, d)
        weight = "W" + name
        g[weight] = np.einsum("bto,bti->oi", d, c["x0"])
        d_x0 += d @ w[weight]
    d_x0 = _mask(c, "x0", d_x0)
    g["cls"] = _mask(c, "cls", d_x0[:, 0].sum(axis=0))
    d_tok = d_x0[:, 1:]
    g["pos"] = _mask(c, "pos", d_tok.sum(axis=0))
    d_e = _mask(c, "e", d_tok)
    g["We"] = np.einsum("bto,bti->oi", d_e, c["x"])
    quant = c["quant"]
    if quant is not None:
        for name in ("Wq", "Wk", "Wv"):
            g[name] = g[name] * quant["masks"][name]
    return loss, g


def accuracy(p, pixels, labels, quant=None):
    logits, _ = forward(p, pixels, quant)
    return float((logits.argmax(axis=1) == labels).mean())


def round_mantissa(x, bits):
    """``x`` rounded to ``bits`` significant bits (elementwise, so exactly reproducible).

    NumPy's reductions and BLAS may order a sum by the memory alignment of their operands, which
    changes between processes: results then differ in the last bit. Rounding every gradient
    (and the calibrated scales) to far fewer bits makes such differences vanish with near
    certainty, so the trajectory, and with it the shipped files, repeat byte for byte."""
    mantissa, exponent = np.frexp(np.asarray(x, dtype=np.float64))
    return np.ldexp(np.floor(mantissa * 2.0**bits + 0.5), exponent - bits)


GRADIENT_BITS = 12
SCALE_BITS = 16


class _Adam:
    def __init__(self, params, lr, weight_decay):
        self.lr, self.wd, self.t = lr, weight_decay, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params, grads, lr):
        self.t += 1
        for k in params:
            grad = round_mantissa(grads[k], GRADIENT_BITS)
            grad = grad + (self.wd * params[k] if k.startswith("W") else 0.0)
            self.m[k] = 0.9 * self.m[k] + 0.1 * grad
            self.v[k] = 0.999 * self.v[k] + 0.001 * grad * grad
            m_hat = self.m[k] / (1 - 0.9**self.t)
            v_hat = self.v[k] / (1 - 0.999**self.t)
            params[k] = params[k] - lr * m_hat / (np.sqrt(v_hat) + 1e-8)


def train(params, pixels, labels, epochs, lr, rng, quant=None, config=Config, progress=None):
    """Adam with a cosine learning-rate schedule; returns the trained parameters."""
    params = {k: v.copy() for k, v in params.items()}
    adam = _Adam(params, lr, config.weight_decay)
    steps = epochs * -(-len(pixels) // config.batch)
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(pixels))
        total = 0.0
        for start in range(0, len(pixels), config.batch):
            batch = order[start:start + config.batch]
            images = augment(pixels[batch], rng, config.shift)
            logits, cache = forward(params, images, quant)
            loss, grads = backward(params, cache, logits, labels[batch])
            rate = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
            adam.step(params, grads, rate)
            total += loss * len(batch)
            step += 1
        if progress:
            progress(epoch + 1, epochs, total / len(pixels))
    return params


def calibrate(params, pixels, percentile=Config.percentile):
    """Activation scales from the float model on ``pixels``: ``percentile`` of |x| -> code
    127 for the residual stream (x0, x1, x2 and the pooled mean share one scale) and Q, K, V."""
    _, c = forward(params, pixels)

    def scale(*tensors):
        values = np.concatenate([np.abs(t).ravel() for t in tensors])
        return float(round_mantissa(float(np.percentile(values, percentile)) / 127,
                                    SCALE_BITS))

    return {"sx": scale(c["x0"], c["x1"], c["x2"]), "sq": scale(c["qv"]), "sk": scale(c["kv"]),
            "sv": scale(c["vv"])}


# --- export -----------------------------------------------------------------------------------

def _codes(values):
    return [[int(v) for v in row] for row in np.asarray(values)] if np.ndim(values) == 2 else \
        [int(v) for v in np.asarray(values)]


def _round(x):
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def _ffn_requant(ratio, bias_codes):
    """Per-column LUT-TC requantisation: the largest shift whose scales fit 16 signed bits."""
    top = (1 << 15) - 1
    shift = 48
    while shift > 0 and _round(ratio * 2.0**shift).max() > top:
        shift -= 1
    scale = _round(ratio * 2.0**shift)
    if scale.min() < 1:
        raise ValueError("an FFN column's scale rounds to 0")
    return {"shift": int(shift), "scale": _codes(scale), "bias": _codes(bias_codes)}


def export(params, quant):
    """The integer weights file (a JSON-ready dict) of fine-tuned ``params`` at ``quant``."""
    sx, sq, sk, sv = (quant[k] for k in ("sx", "sq", "sk", "sv"))
    out = {"format": "vit_digits integer weights v1"}
    int8 = {}
    for name in ("We", "Wq", "Wk", "Wv", "Wc"):
        w = params[name] * quant["masks"][name] if name in quant["masks"] else params[name]
        scale = max(float(np.abs(w).max()), 1e-12) / 127
        int8[name] = (np.clip(_round(w / scale), -127, 127), scale)
    sp = 1.0 / spec.PIXEL_MAX
    prob = 2.0**-spec.PROB_BITS
    layers = {
        "embed": ("We", sp * int8["We"][1] / sx),
        "q_proj": ("Wq", sx * int8["Wq"][1] / sq),
        "k_proj": ("Wk", sx * int8["Wk"][1] / sk),
        "v_proj": ("Wv", sx * int8["Wv"][1] / sv),
    }
    for layer, (name, ratio) in layers.items():
        mult, shift = mult_shift(ratio)
        out[layer] = {"weight": _codes(int8[name][0]), "mult": mult, "shift": shift}
    out["pos"] = _codes(np.clip(_round(params["pos"] / sx), -128, 127))
    out["cls"] = _codes(np.clip(_round(params["cls"] / sx), -128, 127))
    mult, shift = mult_shift(sq * sk * spec.ATTN_SCALE * 2**spec.LOGIT_FRAC)
    out["scores"] = {"mult": mult, "shift": shift}
    mult, shift = mult_shift(sv * prob / sx)
    out["attn_out"] = {"mult": mult, "shift": shift}
    _, alpha1, t1 = _ternary_weight(params["W1"])
    _, alpha2, t2 = _ternary_weight(params["W2"])
    gelu_lsb = 2.0**-spec.GELU_FRAC
    out["ffn1"] = {"weight": _codes(t1.astype(np.int64)),
                   **_ffn_requant(sx * alpha1 / gelu_lsb, _round(params["b1"] / gelu_lsb))}
    out["ffn2"] = {"weight": _codes(t2.astype(np.int64)),
                   **_ffn_requant(gelu_lsb * alpha2 / sx, _round(params["b2"] / sx))}
    mult, shift = mult_shift(1.0 / spec.TOKENS)
    out["pool"] = {"mult": mult, "shift": shift}
    out["classifier"] = {"weight": _codes(int8["Wc"][0])}
    out["scales"] = {k: quant[k] for k in ("sx", "sq", "sk", "sv")}
    return out


def _plain_params(params):
    return {k: np.asarray(v).tolist() for k, v in sorted(params.items())}


def run(config=Config, progress=print):
    """The whole pipeline: ``(float_file, weights_file)`` dicts, JSON-ready.

    ``float_file`` holds the float and the fine-tuned parameters, the scales and the float
    accuracies; ``weights_file`` the integer weights :mod:`.model` runs."""
    xtr, ytr, xte, yte = load_split()
    rng = np.random.default_rng(SEED)
    params = init_params(rng)

    def report(stage):
        def show(epoch, epochs, loss):
            if epoch % 10 == 0 or epoch == epochs:
                progress(f"{stage} epoch {epoch}/{epochs}: train loss {loss:.4f}")
        return show

    params = train(params, xtr, ytr, config.float_epochs, config.lr, rng, config=config,
                   progress=report("float"))
    float_acc = accuracy(params, xte, yte)
    progress(f"float model: test accuracy {float_acc:.4f}")
    quant = calibrate(params, xtr, config.percentile)
    quant["masks"] = {name: prune_mask(params[name]) for name in ("Wq", "Wk", "Wv")}
    qat_before = accuracy(params, xte, yte, quant)
    progress(f"quantised before fine-tuning: test accuracy {qat_before:.4f}")
    tuned = train(params, xtr, ytr, config.qat_epochs, config.qat_lr, rng, quant=quant,
                  config=config, progress=report("QAT"))
    qat_acc = accuracy(tuned, xte, yte, quant)
    progress(f"quantisation-aware model: test accuracy {qat_acc:.4f}")
    float_file = {
        "format": "vit_digits float parameters v1",
        "split": {"seed": SEED, "test_fraction": TEST_FRACTION, "train": int(len(xtr)),
                  "test": int(len(xte))},
        "float": _plain_params(params),
        "tuned": _plain_params(tuned),
        "scales": {k: quant[k] for k in ("sx", "sq", "sk", "sv")},
        "accuracy": {"float": float_acc, "quantised_before_tuning": qat_before,
                     "quantisation_aware": qat_acc},
    }
    weights_file = export(tuned, quant)
    from .model import Weights, predict, run as run_integer

    logits = run_integer(Weights.from_dict(weights_file), xte)
    float_file["accuracy"]["integer"] = float((predict(logits) == yte).mean())
    progress(f"integer model: test accuracy {float_file['accuracy']['integer']:.4f}")
    return float_file, weights_file


def quant_from_float_file(float_file):
    """The ``quant`` dict (scales and pruning masks) of a float file: masks from the float
    parameters the fine-tuning started from."""
    params = {k: np.asarray(v, dtype=np.float64) for k, v in float_file["float"].items()}
    quant = dict(float_file["scales"])
    quant["masks"] = {name: prune_mask(params[name]) for name in ("Wq", "Wk", "Wv")}
    return quant


def tuned_params(float_file):
    return {k: np.asarray(v, dtype=np.float64) for k, v in float_file["tuned"].items()}


def dumps(document):
    """Deterministic JSON text: one top-level key per line, values compact, keys sorted."""
    import json

    lines = [f" {json.dumps(k)}: {json.dumps(v, sort_keys=True, separators=(',', ':'))}"
             for k, v in sorted(document.items())]
    return "{\n" + ",\n".join(lines) + "\n}\n"
