"""Bit-exact integer model of the ViT digits classifier: every block a call of its family's
golden model, joined by the adapters of :mod:`.requant`.

Per image (codes; shapes in tokens x features; see :mod:`.spec` and :func:`op_table`):

====  ==============  ==========  =========================================================
step  op              runs on     what
====  ==============  ==========  =========================================================
 1    embed           sparse_dsp  We (16x4, INT8, 4:4) @ each 2x2 patch (pixel codes 0..16)
 2    embed_rq        adapter     requantize -> INT8 residual codes
 3    pos_add         adapter     add_saturate(., positional codes); the class token on top
 4    q/k/v_proj      sparse_dsp  Wq, Wk, Wv (16x16, INT8, 2:4) @ each token; requantize
 5    scores          sparse_dsp  K (20 slots x 16, 3 zero rows) @ each query, 4:4
 6    scores_rq       adapter     requantize -> s8.4 logits (1/sqrt(16) folded in)
 7    softmax         softmax     17 rows of 20 slots, slots 17..19 masked (padding mask)
 8    probs_rq        adapter     requantize(p, 1, 1) -> u0.7 codes (the chain is INT8)
 9    attn_out        sparse_dsp  V^T (16 x 20 slots) @ each probability row, 4:4
10    attn_rq, res1   adapter     requantize; add_saturate with the block's input
11    ffn1            lut_tc      ternary 16x32, requant stage (per-column scale, bias) -> s8.5
12    gelu            gelu        s8.5 -> s8.5
13    ffn2            lut_tc      ternary 32x16, requant stage -> INT8 residual codes
14    res2            adapter     add_saturate with the attention output
15    pool            adapter     sum over the 17 tokens, requantize by ~1/17
16    classifier      sparse_dsp  Wc (10x16, INT8, 4:4) @ the pooled vector: the logits
====  ==============  ==========  =========================================================

The prediction is the first index of the largest logit. Two engines run the GEMMs:
:class:`Golden` packs every matrix into the block's streams and calls the family's golden
model (``sparse_dsp.model.matvec`` per vector, ``lut_tc.model.lut_tc`` per tile), and
:class:`Fast` uses the plain integer products those models are proven to equal (the chain's
``W @ x``, ``lut_tc.model.reference``); the softmax and GELU always run their golden models.
Tests check the engines agree op by op.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np

from ...gelu.model import gelu
from ...lut_tc.model import lut_tc, reference
from ...lut_tc.prepare import codes_from_int
from ...softmax.model import softmax
from ...sparse_dsp.compress import check_nm, compress, rows_of
from ...sparse_dsp.model import matvec
from . import spec
from .requant import add_saturate, requantize

__all__ = ["Weights", "Golden", "Fast", "run_image", "run", "predict", "op_table",
           "PACKAGE_DIR", "WEIGHTS_FILE", "FLOAT_FILE", "load_weights"]

PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_FILE = "weights.json"
FLOAT_FILE = "float_params.json"

_CHAIN_LAYERS = ("embed", "q_proj", "k_proj", "v_proj")


@dataclasses.dataclass(frozen=True)
class Requant:
    mult: int
    shift: int


@dataclasses.dataclass(frozen=True)
class Ffn:
    weight: np.ndarray          # K x n ternary weights in {-1, 0, 1}
    scale: np.ndarray           # per column, signed 16-bit
    bias: np.ndarray            # per column, signed 16-bit, in output codes
    params: object              # LutTcParams with the layer's shift


@dataclasses.dataclass(frozen=True)
class Weights:
    """The integer weights and adapter constants of the shipped ``weights.json``."""

    embed: np.ndarray
    q_proj: np.ndarray
    k_proj: np.ndarray
    v_proj: np.ndarray
    requant: dict               # layer name -> Requant (embed, q/k/v_proj, scores, attn_out, pool)
    pos: np.ndarray             # PATCHES x DIM residual codes
    cls: np.ndarray             # DIM residual codes
    ffn1: Ffn
    ffn2: Ffn
    classifier: np.ndarray

    @classmethod
    def from_dict(cls, doc):
        def int_array(value):
            return np.asarray(value, dtype=np.int64)

        requant = {name: Requant(int(doc[name]["mult"]), int(doc[name]["shift"]))
                   for name in (*_CHAIN_LAYERS, "scores", "attn_out", "pool")}

        def ffn(name):
            layer = doc[name]
            return Ffn(int_array(layer["weight"]), int_array(layer["scale"]),
                       int_array(layer["bias"]), spec.ffn_params(int(layer["shift"])))

        weights = cls(*(int_array(doc[name]["weight"]) for name in _CHAIN_LAYERS),
                      requant=requant, pos=int_array(doc["pos"]), cls=int_array(doc["cls"]),
                      ffn1=ffn("ffn1"), ffn2=ffn("ffn2"),
                      classifier=int_array(doc["classifier"]["weight"]))
        weights.check()
        return weights

    def check(self):
        """Refuse weights that do not fit the blocks' formats: one error naming the layer."""
        shapes = {"embed": (spec.DIM, spec.PATCH_PIXELS), "q_proj": (spec.DIM, spec.DIM),
                  "k_proj": (spec.DIM, spec.DIM), "v_proj": (spec.DIM, spec.DIM),
                  "classifier": (spec.CLASSES, spec.DIM), "pos": (spec.PATCHES, spec.DIM),
                  "cls": (spec.DIM,)}
        for name, shape in shapes.items():
            value = getattr(self, name)
            if value.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, not {value.shape}")
            if value.min() < -128 or value.max() > 127:
                raise ValueError(f"{name} must hold INT8 codes (-128..127)")
        for name in ("q_proj", "k_proj", "v_proj"):
            try:
                check_nm(getattr(self, name), spec.QKV_N, spec.CHAIN.m)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
        for name, shape in (("ffn1", (spec.DIM, spec.HIDDEN)), ("ffn2", (spec.HIDDEN, spec.DIM))):
            layer = getattr(self, name)
            if layer.weight.shape != shape or not np.isin(layer.weight, (-1, 0, 1)).all():
                raise ValueError(f"{name} weight must be {shape} ternary (-1, 0, 1)")
            for part in ("scale", "bias"):
                value = getattr(layer, part)
                if value.shape != (shape[1],) or value.min() < -(1 << 15) or \
                        value.max() >= 1 << 15:
                    raise ValueError(f"{name} {part} must be {shape[1]} signed 16-bit values")


def load_weights(path=None):
    """The shipped weights (or those of the file at ``path``)."""
    path = Path(path) if path is not None else PACKAGE_DIR / WEIGHTS_FILE
    return Weights.from_dict(json.loads(path.read_text(encoding="utf-8")))


# --- engines ----------------------------------------------------------------------------------

class Golden:
    """GEMMs through the family golden models, fed the blocks' stream beats."""

    name = "golden"

    def __init__(self):
        self._beats = {}

    def chain(self, w, vectors, n, cache_key=None):
        """``W @ x`` for each row ``x`` of ``vectors`` on the sparse DSP chain at N = ``n``
        (``w`` must already be N:M; ``cache_key`` reuses the compressed stream of a fixed
        weight matrix)."""
        beats = self._beats.get(cache_key) if cache_key else None
        if beats is None:
            beats, _ = compress(spec.CHAIN, w, n)
            if cache_key:
                self._beats[cache_key] = beats
        rows = len(w)
        return np.stack([rows_of(spec.CHAIN, matvec(spec.CHAIN, x, beats), rows)
                         for x in np.asarray(vectors)])

    def ffn(self, layer: Ffn, a):
        """``requant(A @ W)`` on the LUT tensor core, tile by tile (m rows x n columns, the
        rows padded with zeros to a multiple of m)."""
        p = layer.params
        a = np.asarray(a, dtype=np.int64)
        rows = len(a)
        padded = np.zeros((-(-rows // p.m) * p.m, a.shape[1]), dtype=np.int64)
        padded[:rows] = a
        codes = codes_from_int(p.weight_format, layer.weight)
        out = np.zeros((len(padded), codes.shape[1]), dtype=np.int64)
        for r in range(0, len(padded), p.m):
            for c in range(0, codes.shape[1], p.n):
                cols = slice(c, c + p.n)
                out[r:r + p.m, cols] = lut_tc(p, padded[r:r + p.m], codes[:, cols],
                                              scale=layer.scale[cols], bias=layer.bias[cols])
        return out[:rows]


class Fast:
    """The same GEMMs as plain integer products (what the golden models equal)."""

    name = "fast"

    def chain(self, w, vectors, n, cache_key=None):
        return np.asarray(vectors, dtype=np.int64) @ np.asarray(w, dtype=np.int64).T

    def ffn(self, layer: Ffn, a):
        p = layer.params
        codes = codes_from_int(p.weight_format, layer.weight)
        return reference(p.weight_format, a, codes, params=p, scale=layer.scale,
                         bias=layer.bias)


# --- the network ------------------------------------------------------------------------------

def _rq(weights, name, acc, out_bits=8):
    r = weights.requant[name]
    return requantize(acc, r.mult, r.shift, out_bits)


def run_image(weights: Weights, pixels, engine=None):
    """Every intermediate tensor of one image (64 pixel codes 0..16), by op name, in order;
    ``logits`` last."""
    engine = engine or Fast()
    pixels = np.asarray(pixels, dtype=np.int64)
    if pixels.shape != (64,) or pixels.min() < 0 or pixels.max() > spec.PIXEL_MAX:
        raise ValueError(f"pixels must be 64 codes in 0..{spec.PIXEL_MAX}")
    t = {}
    t["patches"] = spec.patches(pixels[None])[0]
    t["embed"] = engine.chain(weights.embed, t["patches"], spec.DENSE_N, "embed")
    t["embed_rq"] = _rq(weights, "embed", t["embed"])
    t["x0"] = np.concatenate([weights.cls[None], add_saturate(t["embed_rq"], weights.pos)])
    for name in ("q", "k", "v"):
        proj = f"{name}_proj"
        acc = engine.chain(getattr(weights, proj), t["x0"], spec.QKV_N, proj)
        t[proj] = acc
        t[name] = _rq(weights, proj, acc)
    keys = np.zeros((spec.SLOTS, spec.DIM), dtype=np.int64)
    keys[:spec.TOKENS] = t["k"]
    t["scores"] = engine.chain(keys, t["q"], spec.DENSE_N)
    t["logits_attn"] = _rq(weights, "scores", t["scores"])
    mask = np.broadcast_to(np.arange(spec.SLOTS) >= spec.TOKENS, t["logits_attn"].shape)
    t["mask"] = mask
    t["probs"] = softmax(spec.SOFTMAX, t["logits_attn"], mask)
    t["probs_rq"] = requantize(t["probs"], 1, spec.SOFTMAX.out_frac - spec.PROB_BITS, 8)
    values_t = np.zeros((spec.DIM, spec.SLOTS), dtype=np.int64)
    values_t[:, :spec.TOKENS] = t["v"].T
    t["attn_out"] = engine.chain(values_t, t["probs_rq"], spec.DENSE_N)
    t["attn_rq"] = _rq(weights, "attn_out", t["attn_out"])
    t["x1"] = add_saturate(t["x0"], t["attn_rq"])
    t["ffn1"] = engine.ffn(weights.ffn1, t["x1"])
    t["gelu"] = gelu(spec.GELU, t["ffn1"])
    t["ffn2"] = engine.ffn(weights.ffn2, t["gelu"])
    t["x2"] = add_saturate(t["x1"], t["ffn2"])
    t["pool_sum"] = t["x2"].sum(axis=0)
    t["pooled"] = _rq(weights, "pool", t["pool_sum"])
    t["logits"] = engine.chain(weights.classifier, t["pooled"][None], spec.DENSE_N,
                               "classifier")[0]
    return t


def run(weights: Weights, pixels, engine=None):
    """``(images, 10)`` integer logits of ``(images, 64)`` pixel codes."""
    engine = engine or Fast()
    return np.stack([run_image(weights, image, engine)["logits"] for image in pixels])


def predict(logits):
    """The class of each row of logits: the first index of its maximum."""
    return np.asarray(logits).argmax(axis=-1)


# --- the op table -----------------------------------------------------------------------------

def _chain_beats(w, n):
    beats, _ = compress(spec.CHAIN, w, n)
    return len(beats)


def op_table(weights: Weights):
    """One row per block invocation of an image: op, family (or ``adapter``), the family params
    (a dict), input and output shapes and formats, calls per image, MACs the block executes and
    the useful ones (non-padded, non-zero weights of a 2:4 matrix count as executed: the chain
    spends a lane on each kept weight)."""
    chain = spec.CHAIN.to_dict()
    tok, dim, hid, slots = spec.TOKENS, spec.DIM, spec.HIDDEN, spec.SLOTS
    r = weights.requant
    rows = []

    def add(op, family, params, inputs, outputs, calls, macs=0, useful=0, note=""):
        rows.append({"op": op, "family": family, "params": params, "in": inputs, "out": outputs,
                     "calls": calls, "macs": macs, "useful_macs": useful, "note": note})

    def rq(name):
        return {"mult": r[name].mult, "shift": r[name].shift, "out_bits": 8}

    n_kept = spec.QKV_N * dim // spec.CHAIN.m           # non-zeros per 2:4 row
    add("embed", "sparse_dsp", dict(chain, run_time_n=4), "16 patches x 4 pixel codes (u5 in INT8)",
        "16 x 16 accumulators", f"16 matvecs, W 16x4, {_chain_beats(weights.embed, 4)} w beats",
        16 * 16 * 4, 16 * 16 * 4)
    add("embed_rq", "adapter", rq("embed"), "16 x 16 accumulators", "16 x 16 INT8", "1")
    add("pos_add", "adapter", {"op": "add_saturate", "out_bits": 8},
        "16 x 16 INT8 + positional 16 x 16 INT8", "17 x 16 INT8 x0 (class token row 0)", "1")
    for name in ("q_proj", "k_proj", "v_proj"):
        w = getattr(weights, name)
        add(name, "sparse_dsp", dict(chain, run_time_n=spec.QKV_N), "17 x 16 INT8", "17 x 16 accumulators",
            f"17 matvecs, W 16x16 2:4, {_chain_beats(w, spec.QKV_N)} w beats",
            tok * dim * n_kept, tok * dim * n_kept)
        add(name + "_rq", "adapter", rq(name), "17 x 16 accumulators", "17 x 16 INT8", "1")
    add("scores", "sparse_dsp", dict(chain, run_time_n=4), "query 17 x 16 INT8; keys 20 x 16 INT8 (3 zero)",
        "17 x 20 accumulators",
        f"17 matvecs, W = K 20x16 dense, {_chain_beats(np.ones((slots, dim)), 4)} w beats",
        tok * slots * dim, tok * tok * dim)
    add("scores_rq", "adapter", rq("scores"), "17 x 20 accumulators", "17 x 20 s8.4 logits", "1")
    add("softmax", "softmax", spec.SOFTMAX.to_dict(), "17 rows x 20 s8.4, slots 17..19 masked",
        "17 x 20 u8.8", f"17 vectors of {slots // spec.SOFTMAX.lanes} beats")
    add("probs_rq", "adapter", {"mult": 1, "shift": 1, "out_bits": 8}, "17 x 20 u8.8",
        "17 x 20 u0.7 (INT8 0..127)", "1")
    add("attn_out", "sparse_dsp", dict(chain, run_time_n=4), "probabilities 17 x 20; V^T 16 x 20 INT8",
        "17 x 16 accumulators",
        f"17 matvecs, W = V^T 16x20 dense, {_chain_beats(np.ones((dim, slots)), 4)} w beats",
        tok * dim * slots, tok * dim * tok)
    add("attn_rq", "adapter", rq("attn_out"), "17 x 16 accumulators", "17 x 16 INT8", "1")
    add("res1", "adapter", {"op": "add_saturate", "out_bits": 8}, "x0 + attention, 17 x 16 INT8",
        "17 x 16 INT8 x1", "1")
    for name, k, n, fmt in (("ffn1", dim, hid, "17 x 32 s8.5"), ("ffn2", hid, dim, "17 x 16 INT8")):
        layer = getattr(weights, name)
        p = layer.params
        tiles = -(-tok // p.m) * (n // p.n)
        add(name, "lut_tc", p.to_dict(), f"17 x {k} " + ("INT8" if name == "ffn1" else "s8.5"),
            fmt, f"{tiles} tiles of {p.m}x{p.n}, K = {k} ({k // p.g} groups)",
            -(-tok // p.m) * p.m * k * n, tok * k * n)
    add("gelu", "gelu", spec.GELU.to_dict(), "17 x 32 s8.5", "17 x 32 s8.5",
        f"{tok * hid // spec.GELU.lanes} beats")
    add("res2", "adapter", {"op": "add_saturate", "out_bits": 8}, "x1 + FFN, 17 x 16 INT8",
        "17 x 16 INT8 x2", "1")
    add("pool", "adapter", {"op": "sum over tokens", **rq("pool")}, "17 x 16 INT8",
        "16 INT8", "1", note="sum of 17 tokens, then requantize by about 1/17")
    add("classifier", "sparse_dsp", dict(chain, run_time_n=4), "16 INT8", "10 accumulators (logits)",
        f"1 matvec, W 10x16, {_chain_beats(weights.classifier, 4)} w beats", 160, 160)
    return rows
