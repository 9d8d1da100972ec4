"""Bit-exact integer model of the ViT digits classifier: every block a call of its family's
golden model, joined by the adapters of :mod:`.requant`.

Per image (codes; shapes in tokens x features; see :mod:`.spec` and :func:`op_table`):

====  ==============  ==========  =========================================================
step  op              runs on     what
====  ==============  ==========  =========================================================
 1    embed           sparse_dsp  We (32x4, INT8, 4:4) @ each 2x2 patch (pixel codes 0..16)
 2    embed_rq        adapter     requantize -> INT8 residual codes
 3    pos_add         adapter     add_saturate(., positional codes); the class token on top
 4    q/k/v_proj      sparse_dsp  Wq, Wk, Wv (32x32, INT8, 2:4) @ each token; requantize
 5    scores          sparse_dsp  K (20 slots x 32, 3 zero rows) @ each query, 4:4
 6    scores_rq       adapter     requantize -> s8.4 logits (1/sqrt(32) folded in)
 7    softmax         softmax     17 rows of 20 slots, slots 17..19 masked (padding mask)
 8    probs_rq        adapter     requantize(p, 1, 1) -> u0.7 codes (the chain is INT8)
 9    attn_out        sparse_dsp  V^T (32 x 20 slots) @ each probability row, 4:4
10    attn_rq, res1   adapter     requantize; add_saturate with the block's input
11    ffn1            lut_tc      ternary 32x64, requant stage (per-column scale, bias) -> s8.5
12    gelu            gelu        s8.5 -> s8.5
13    ffn2            lut_tc      ternary 64x32, requant stage -> INT8 residual codes
14    res2            adapter     add_saturate with the attention output
15    pool            adapter     sum over the 17 tokens, requantize by ~1/17
16    classifier      sparse_dsp  Wc (10x32, INT8, 4:4) @ the pooled vector: the logits
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

__all__ = ["Weights", "Golden", "Fast", "run_batch", "run_image", "run", "predict", "op_table",
           "op_table_markdown", "accuracy_markdown", "PACKAGE_DIR", "WEIGHTS_FILE", "FLOAT_FILE",
           "load_weights"]

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
    """GEMMs through the family golden models, fed the blocks' stream beats, image by image."""

    name = "golden"

    def __init__(self):
        self._beats = {}

    def chain(self, w, vectors, n, cache_key=None):
        """``W @ x`` for every vector ``x`` (last axis K) of ``vectors`` on the sparse DSP chain
        at N = ``n``: ``w`` is one matrix (rows x K) or one per image (images x rows x K, with
        ``vectors`` images x T x K); ``w`` must already be N:M. ``cache_key`` reuses the
        compressed stream of a fixed matrix."""
        w, vectors = np.asarray(w, dtype=np.int64), np.asarray(vectors, dtype=np.int64)
        if w.ndim == 3:
            return np.stack([self.chain(wi, xi, n) for wi, xi in zip(w, vectors)])
        beats = self._beats.get(cache_key) if cache_key else None
        if beats is None:
            beats, _ = compress(spec.CHAIN, w, n)
            if cache_key:
                self._beats[cache_key] = beats
        flat = vectors.reshape(-1, vectors.shape[-1])
        out = [rows_of(spec.CHAIN, matvec(spec.CHAIN, x, beats), len(w)) for x in flat]
        return np.stack(out).reshape(*vectors.shape[:-1], len(w))

    def ffn(self, layer: Ffn, a):
        """``requant(A @ W)`` on the LUT tensor core per image, tile by tile (m rows x n
        columns; an image's rows padded with zeros to a multiple of m)."""
        a = np.asarray(a, dtype=np.int64)
        if a.ndim == 3:
            return np.stack([self.ffn(layer, image) for image in a])
        p = layer.params
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
    """The same GEMMs as plain integer products (what the golden models equal), batched."""

    name = "fast"

    def chain(self, w, vectors, n, cache_key=None):
        w, vectors = np.asarray(w, dtype=np.int64), np.asarray(vectors, dtype=np.int64)
        return np.einsum("...rk,...tk->...tr", w, vectors) if w.ndim == 3 else vectors @ w.T

    def ffn(self, layer: Ffn, a):
        p = layer.params
        a = np.asarray(a, dtype=np.int64)
        codes = codes_from_int(p.weight_format, layer.weight)
        flat = reference(p.weight_format, a.reshape(-1, a.shape[-1]), codes, params=p,
                         scale=layer.scale, bias=layer.bias)
        return flat.reshape(*a.shape[:-1], -1)


# --- the network ------------------------------------------------------------------------------

def _rq(weights, name, acc, out_bits=8):
    r = weights.requant[name]
    return requantize(acc, r.mult, r.shift, out_bits)


def run_batch(weights: Weights, pixels, engine=None):
    """Every intermediate tensor of a batch of images (``(images, 64)`` pixel codes 0..16), by
    op name in order, each with a leading image axis; ``logits`` last."""
    engine = engine or Fast()
    pixels = np.asarray(pixels, dtype=np.int64)
    if pixels.ndim != 2 or pixels.shape[1] != 64 or pixels.min() < 0 or \
            pixels.max() > spec.PIXEL_MAX:
        raise ValueError(f"pixels must be (images, 64) codes in 0..{spec.PIXEL_MAX}, not shape "
                         f"{pixels.shape}")
    images = len(pixels)
    t = {}
    t["patches"] = spec.patches(pixels)
    t["embed"] = engine.chain(weights.embed, t["patches"], spec.DENSE_N, "embed")
    t["embed_rq"] = _rq(weights, "embed", t["embed"])
    cls = np.broadcast_to(weights.cls, (images, 1, spec.DIM))
    t["x0"] = np.concatenate([cls, add_saturate(t["embed_rq"], weights.pos)], axis=1)
    for name in ("q", "k", "v"):
        proj = f"{name}_proj"
        t[proj] = engine.chain(getattr(weights, proj), t["x0"], spec.QKV_N, proj)
        t[name] = _rq(weights, proj, t[proj])
    # The keys and values of a vector of SLOTS: tokens, then zero pad slots (masked).
    keys = np.zeros((images, spec.SLOTS, spec.DIM), dtype=np.int64)
    keys[:, :spec.TOKENS] = t["k"]
    t["scores"] = engine.chain(keys, t["q"], spec.DENSE_N)
    t["logits_attn"] = _rq(weights, "scores", t["scores"])
    mask = np.broadcast_to(np.arange(spec.SLOTS) >= spec.TOKENS, t["logits_attn"].shape)
    t["mask"] = mask
    rows = (-1, spec.SLOTS)
    t["probs"] = softmax(spec.SOFTMAX, t["logits_attn"].reshape(rows),
                         mask.reshape(rows)).reshape(mask.shape)
    t["probs_rq"] = requantize(t["probs"], 1, spec.SOFTMAX.out_frac - spec.PROB_BITS, 8)
    values_t = np.zeros((images, spec.DIM, spec.SLOTS), dtype=np.int64)
    values_t[:, :, :spec.TOKENS] = t["v"].transpose(0, 2, 1)
    t["attn_out"] = engine.chain(values_t, t["probs_rq"], spec.DENSE_N)
    t["attn_rq"] = _rq(weights, "attn_out", t["attn_out"])
    t["x1"] = add_saturate(t["x0"], t["attn_rq"])
    t["ffn1"] = engine.ffn(weights.ffn1, t["x1"])
    t["gelu"] = gelu(spec.GELU, t["ffn1"])
    t["ffn2"] = engine.ffn(weights.ffn2, t["gelu"])
    t["x2"] = add_saturate(t["x1"], t["ffn2"])
    t["pool_sum"] = t["x2"].sum(axis=1)
    t["pooled"] = _rq(weights, "pool", t["pool_sum"])
    t["logits"] = engine.chain(weights.classifier, t["pooled"][:, None], spec.DENSE_N,
                               "classifier")[:, 0]
    return t


def run_image(weights: Weights, pixels, engine=None):
    """Every intermediate tensor of one image (64 pixel codes), by op name; ``logits`` last."""
    return {k: v[0] for k, v in run_batch(weights, np.asarray(pixels)[None], engine).items()}


def run(weights: Weights, pixels, engine=None):
    """``(images, 10)`` integer logits of ``(images, 64)`` pixel codes."""
    return run_batch(weights, pixels, engine)["logits"]


def predict(logits):
    """The class of each row of logits: the first index of its maximum."""
    return np.asarray(logits).argmax(axis=-1)


# --- the op table -----------------------------------------------------------------------------

def _chain_beats(w, n):
    beats, _ = compress(spec.CHAIN, w, n)
    return len(beats)


def op_table(weights: Weights):
    """One row per block invocation of an image, in order: ``op``, ``family`` (or
    ``adapter``), ``params`` (the family's params as a dict; for the chain also the run-time N;
    for an adapter its constants), ``in`` and ``out`` (shapes and formats), ``calls`` (how the
    block is driven per image), ``macs`` (products the block executes per image, padding
    included; a 2:4 matrix executes its kept weights only) and ``useful_macs`` (those on real
    tokens)."""
    chain = spec.CHAIN.to_dict()
    tok, dim, hid, slots = spec.TOKENS, spec.DIM, spec.HIDDEN, spec.SLOTS
    pix, patches, classes = spec.PATCH_PIXELS, spec.PATCHES, spec.CLASSES
    r = weights.requant
    rows = []

    def add(op, family, params, inputs, outputs, calls, macs=0, useful=None):
        rows.append({"op": op, "family": family, "params": params, "in": inputs,
                     "out": outputs, "calls": calls, "macs": macs,
                     "useful_macs": macs if useful is None else useful})

    def rq(name, out="INT8"):
        return {"op": "requantize", "mult": r[name].mult, "shift": r[name].shift,
                "out_bits": 8, "out": out}

    def on_chain(n):
        return dict(chain, run_time_n=n)

    def acc(rows_, cols):
        return f"{rows_} x {cols} accumulators"

    kept = spec.QKV_N * dim // spec.CHAIN.m             # non-zeros per 2:4 row
    add("embed", "sparse_dsp", on_chain(spec.DENSE_N),
        f"{patches} patches x {pix} pixel codes 0..16 (INT8)", acc(patches, dim),
        f"{patches} matvecs of W {dim}x{pix} (4:4), {_chain_beats(weights.embed, 4)} w beats",
        patches * dim * pix)
    add("embed_rq", "adapter", rq("embed"), acc(patches, dim), f"{patches} x {dim} INT8", "")
    add("pos_add", "adapter", {"op": "add_saturate", "out_bits": 8},
        f"{patches} x {dim} INT8 + positional {patches} x {dim} INT8",
        f"{tok} x {dim} INT8 x0 (the class token's codes as row 0)", "")
    for name in ("q_proj", "k_proj", "v_proj"):
        w = getattr(weights, name)
        add(name, "sparse_dsp", on_chain(spec.QKV_N), f"{tok} x {dim} INT8", acc(tok, dim),
            f"{tok} matvecs of W {dim}x{dim} (2:4), {_chain_beats(w, spec.QKV_N)} w beats",
            tok * dim * kept)
        add(name + "_rq", "adapter", rq(name), acc(tok, dim), f"{tok} x {dim} INT8", "")
    add("scores", "sparse_dsp", on_chain(spec.DENSE_N),
        f"queries {tok} x {dim} INT8; W = keys {slots} x {dim} INT8 ({slots - tok} zero rows)",
        acc(tok, slots), f"{tok} matvecs, {_chain_beats(np.ones((slots, dim)), 4)} w beats "
        "(the image's keys)", tok * slots * dim, tok * tok * dim)
    add("scores_rq", "adapter", rq("scores", "s8.4"), acc(tok, slots),
        f"{tok} x {slots} s8.4 logits", "")
    add("softmax", "softmax", spec.SOFTMAX.to_dict(),
        f"{tok} vectors of {slots} s8.4, slots {tok}..{slots - 1} masked (tuser)",
        f"{tok} x {slots} u8.8", f"{tok} vectors of {slots // spec.SOFTMAX.lanes} beats")
    add("probs_rq", "adapter", {"op": "requantize", "mult": 1, "shift": 1, "out_bits": 8,
                                "out": "u0.7"},
        f"{tok} x {slots} u8.8", f"{tok} x {slots} u0.7 (INT8 codes 0..127)", "")
    add("attn_out", "sparse_dsp", on_chain(spec.DENSE_N),
        f"probabilities {tok} x {slots}; W = V^T {dim} x {slots} INT8 ({slots - tok} zero "
        "columns)", acc(tok, dim),
        f"{tok} matvecs, {_chain_beats(np.ones((dim, slots)), 4)} w beats (the image's V^T)",
        tok * dim * slots, tok * dim * tok)
    add("attn_rq", "adapter", rq("attn_out"), acc(tok, dim), f"{tok} x {dim} INT8", "")
    add("res1", "adapter", {"op": "add_saturate", "out_bits": 8},
        f"x0 + attention, {tok} x {dim} INT8", f"{tok} x {dim} INT8 x1", "")
    for name, k, n, fin, fout in (("ffn1", dim, hid, "INT8", "s8.5"),
                                  ("ffn2", hid, dim, "s8.5", "INT8")):
        p = getattr(weights, name).params
        row_tiles = -(-tok // p.m)
        add(name, "lut_tc", p.to_dict(), f"{tok} x {k} {fin}",
            f"{tok} x {n} {fout} (requant stage: per-column scale and bias)",
            f"{row_tiles * (n // p.n)} tiles of {p.m}x{p.n}, K = {k} ({k // p.g} groups), "
            f"rows padded to {row_tiles * p.m}", row_tiles * p.m * k * n, tok * k * n)
    add("gelu", "gelu", spec.GELU.to_dict(), f"{tok} x {hid} s8.5", f"{tok} x {hid} s8.5",
        f"{tok * hid // spec.GELU.lanes} beats")
    add("res2", "adapter", {"op": "add_saturate", "out_bits": 8},
        f"x1 + FFN, {tok} x {dim} INT8", f"{tok} x {dim} INT8 x2", "")
    add("pool", "adapter", dict(rq("pool"), op=f"sum over {tok} tokens, then requantize"),
        f"{tok} x {dim} INT8", f"{dim} INT8", "")
    add("classifier", "sparse_dsp", on_chain(spec.DENSE_N), f"{dim} INT8",
        f"{classes} accumulators (the logits)",
        f"1 matvec of W {classes}x{dim} (4:4), {_chain_beats(weights.classifier, 4)} w beats",
        classes * dim)
    return rows


def _label(row):
    """A short name for a row's config: the catalog entry it is (``spec.CATALOG``) and what
    differs, or the adapter's constants."""
    p = row["params"]
    if row["family"] == "adapter":
        if "mult" in p:
            return f"mult {p['mult']}, shift {p['shift']}, {p['out']}"
        return "saturating add, 8 bits"
    if row["family"] == "sparse_dsp":
        return f"`{spec.CATALOG['sparse_dsp']}`, N = {p['run_time_n']}:{p['m']}"
    if row["family"] == "lut_tc":
        return f"`{spec.CATALOG['lut_tc']}` + requant, shift {p['shift']}"
    return f"`{spec.CATALOG[row['family']]}`"


def op_table_markdown(weights: Weights):
    """:func:`op_table` as a Markdown table (each block's config by its catalog name)."""
    rows = op_table(weights)
    lines = ["| op | block | config | in | out | calls per image | MACs | useful MACs |",
             "|:---|:---|:---|:---|:---|:---|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['op']} | {row['family']} | {_label(row)} | {row['in']} | "
                     f"{row['out']} | {row['calls']} | {row['macs'] or ''} | "
                     f"{row['useful_macs'] or ''} |")
    total = sum(row["macs"] for row in rows)
    useful = sum(row["useful_macs"] for row in rows)
    lines.append(f"| total | | | | | | {total} | {useful} |")
    return "\n".join(lines) + "\n"


def accuracy_markdown(float_file):
    """The accuracy table of the docs page from the float file's recorded accuracies."""
    acc, split = float_file["accuracy"], float_file["split"]
    lines = ["| model | test accuracy | correct |", "|:---|---:|---:|"]
    for name, key in (("float (float64, before quantisation)", "float"),
                      ("quantised, before fine-tuning (float simulation)",
                       "quantised_before_tuning"),
                      ("quantisation-aware fine-tuned (float simulation)", "quantisation_aware"),
                      ("integer model (bit-exact, the RTL's reference)", "integer")):
        correct = round(acc[key] * split["test"])
        lines.append(f"| {name} | {100 * acc[key]:.2f} % | {correct}/{split['test']} |")
    return "\n".join(lines) + "\n"
