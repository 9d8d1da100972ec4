"""Parameters of composed layers: a frozen, validated config of the parts and their weights.

A composed layer's parameters hold each part's own parameter object (built and validated by
its family), the adapters between them and the layer's weights. Checks that only the
composition can make (do two streams meet, do the weights fit the format) raise
:class:`CompositionError` naming the two streams or the layer and what differs. No Amaranth.
"""

import dataclasses
import hashlib
import json

import numpy as np

from ..gelu.params import GeluParams
from ..lut_tc.params import LutTcParams
from ..params import ParamError, ParamTypeError, ParamValueError, check_int, did_you_mean, show
from .adapters import MAX_SHIFT, MULT_BITS

__all__ = ["CompositionError", "Requant", "FfnParams", "LUT_TC_OPTIONS", "FFN_WEIGHT_FORMATS",
           "DEFAULT_LUT_TC"]


class CompositionError(ParamValueError):
    """Two streams of a composition that cannot meet, or weights that do not fit a part."""


#: The LUT tensor core fields a composed layer passes through (the layer sets m, max_k and the
#: weight format itself; no epilogue: the adapters requantise).
LUT_TC_OPTIONS = ("n", "g", "bit_serial", "symmetrize", "preflip", "ternary_pairs", "adder_tree")
FFN_WEIGHT_FORMATS = ("ternary", "int2")
#: The LUT tensor core options by weight format when a layer gives none: the catalog's
#: elongated M x N8 tile, g = 4, one K-group a cycle (ternary: one lookup per pair of weights).
DEFAULT_LUT_TC = {
    "ternary": (("n", 8), ("g", 4), ("bit_serial", False), ("ternary_pairs", True)),
    "int2": (("n", 8), ("g", 4), ("bit_serial", False)),
}


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise ParamTypeError(f"{name} must be true or false, not {show(value)}")


def _table(name, value, allowed):
    """A sub-table of plain values with only ``allowed`` keys."""
    if not isinstance(value, dict):
        raise ParamTypeError(f"{name} must be a table, not {show(value)}")
    for key in value:
        if key not in allowed:
            raise ParamValueError(f"{name} has no key {show(key)}{did_you_mean(key, allowed)} "
                                  f"(keys: {', '.join(allowed)})")
    return dict(value)


@dataclasses.dataclass(frozen=True)
class Requant:
    """A requantise adapter: ``y = sat((acc * mult + 2**(shift-1)) >> shift)`` to ``out_bits``
    (signed, or unsigned); ``out_bits`` None: the width of the stream it feeds."""

    mult: int = 1
    shift: int = 0
    out_bits: int | None = None
    signed: bool = True

    def check(self, name):
        check_int(f"{name}.mult", self.mult, 0, (1 << MULT_BITS) - 1)
        check_int(f"{name}.shift", self.shift, 0, MAX_SHIFT)
        if self.out_bits is not None:
            check_int(f"{name}.out_bits", self.out_bits, 2, 32)
        _check_bool(f"{name}.signed", self.signed)

    @classmethod
    def from_dict(cls, name, values):
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**_table(name, values, names))

    def to_dict(self):
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def resolved(self, out_bits):
        return dataclasses.replace(self, out_bits=out_bits)


def _matrix(name, value, shape, what):
    """An integer matrix (nested tuples) of ``shape``, as an int64 array."""
    try:
        array = np.array(value, dtype=object)
    except ValueError:
        array = None
    ragged = array is None or any(isinstance(v, (list, tuple)) for v in array.reshape(-1))
    if ragged or array.shape != shape:
        got = "" if ragged else " x ".join(map(str, array.shape))
        raise CompositionError(f"{name} must be {' x '.join(map(str, shape))} ({what}), not "
                               f"{got or 'ragged or empty'}")
    flat = array.reshape(-1)
    for index, v in enumerate(flat):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            where = np.unravel_index(index, shape)
            raise ParamTypeError(f"{name}[{', '.join(map(str, where))}] must be an integer, "
                                 f"not {show(v)}")
    return array.astype(np.int64)


def _frozen(array):
    return tuple(_frozen(row) for row in array) if np.ndim(array) else int(array)


@dataclasses.dataclass(frozen=True)
class FfnParams:
    """The transformer FFN half: ``Y = rq3(X @ W2')`` with ``X @ W2'`` over
    ``H = rq2(gelu(rq1(X @ W1)))``, ``rows`` tokens a job.

    Parts: two LUT tensor cores (``lut_tc``: their shared options; ``rows`` is their m), one
    GELU block (``gelu``: its parameters), three requantise adapters (``requant1`` to GELU's
    input width, ``requant2`` to the second linear's activation width, ``requant3`` to INT8).
    Weights: integers ``w1`` [d_in x hidden] and ``w2`` [hidden x d_out] (ternary: -1, 0, +1;
    int2: ``w + z`` in 0..3 with per-column zero points ``z1``, ``z2``), or ``weights_seed``
    for seeded random weights. Biases (optional, either way): ``b1`` [hidden], ``b2`` [d_out],
    added to each linear's accumulators (saturating) through the LUT tensor core's accumulator
    input, before the requantiser.

    Resolved after validation: ``linear1``, ``linear2`` (LutTcParams), ``gelu_params``,
    ``in_lanes_``, ``out_lanes_`` and ``requant1_`` .. ``requant3_`` (defaults filled in),
    ``weights`` (``w1, w2, z1, z2`` arrays) and ``biases`` (``b1, b2`` arrays or None).
    """

    layer = "ffn"

    rows: int = 2
    d_in: int = 32
    hidden: int = 128
    d_out: int = 32
    weight_format: str = "ternary"
    in_lanes: int | None = None          # None: lut_tc.g
    out_lanes: int | None = None         # None: lut_tc.n
    lut_tc: tuple | None = None          # None: DEFAULT_LUT_TC of the weight format
    gelu: tuple = (("lanes", 2), ("in_width", 8), ("in_frac", 5), ("out_width", 8),
                   ("out_frac", 5))
    requant1: Requant = Requant(mult=1, shift=4)
    requant2: Requant = Requant(mult=1, shift=0)
    requant3: Requant = Requant(mult=1, shift=4)
    weights_seed: int | None = 1
    w1: tuple = None
    w2: tuple = None
    z1: tuple = None
    z2: tuple = None
    b1: tuple = None
    b2: tuple = None

    # -- construction ---------------------------------------------------------------------------
    def __post_init__(self):
        for name in ("rows", "d_in", "hidden", "d_out"):
            value = getattr(self, name)
            check_int(name, value, 1, 8 if name == "rows" else 4096)
        if self.weight_format not in FFN_WEIGHT_FORMATS:
            raise ParamValueError(f"weight_format must be one of "
                                  f"{', '.join(map(repr, FFN_WEIGHT_FORMATS))}, not "
                                  f"{show(self.weight_format)}"
                                  f"{did_you_mean(self.weight_format, FFN_WEIGHT_FORMATS)}")
        for name in ("requant1", "requant2", "requant3"):
            if not isinstance(getattr(self, name), Requant):
                raise ParamTypeError(f"{name} must be a Requant, not {show(getattr(self, name))}")
            getattr(self, name).check(name)
        self._check_parts()
        self._check_streams()
        self._check_weights()

    def _part(self, name, cls, values):
        try:
            return cls.from_dict(values)
        except ParamError as error:
            raise type(error)(f"{name}: {error}") from None

    def _check_parts(self):
        if self.lut_tc is None:
            self._set("lut_tc", DEFAULT_LUT_TC[self.weight_format])
        options = _table("lut_tc", dict(self.lut_tc), LUT_TC_OPTIONS)
        if "weight_format" in options:
            raise ParamValueError("lut_tc.weight_format is the layer's weight_format")
        self._set("linear1", self._part("lut_tc", LutTcParams, dict(
            options, m=self.rows, max_k=self.d_in, weight_format=self.weight_format,
            acc_in=self.b1 is not None)))
        self._set("linear2", self._part("lut_tc", LutTcParams, dict(
            options, m=self.rows, max_k=self.hidden, weight_format=self.weight_format,
            acc_in=self.b2 is not None)))
        self._set("gelu_params", self._part("gelu", GeluParams, dict(self.gelu)))
        g, n = self.linear1.g, self.linear1.n
        self._set("in_lanes_", g if self.in_lanes is None else self.in_lanes)
        self._set("out_lanes_", n if self.out_lanes is None else self.out_lanes)
        check_int("in_lanes", self.in_lanes_, 1, 64)
        check_int("out_lanes", self.out_lanes_, 1, 64)

    def _set(self, name, value):
        object.__setattr__(self, name, value)

    def _check_streams(self):
        """Every join of the layer, from input to output: widths, formats, lane counts."""
        l1, l2, gp = self.linear1, self.linear2, self.gelu_params
        g, n = l1.g, l1.n
        if g not in (2, 4):
            raise CompositionError(f"lut_tc.g must be 2 or 4 in a composed layer (the activation "
                                   f"buffers address K-groups by bit slices), not {g}")
        if g % self.in_lanes_:
            raise CompositionError(
                f"stream s_axis ({self.in_lanes_} lanes) cannot feed linear1.a (K-groups of "
                f"{g}): in_lanes must divide lut_tc.g = {g}, not {self.in_lanes_}")
        for name, k in (("d_in", self.d_in), ("hidden", self.hidden)):
            if k % g:
                raise CompositionError(f"{name} must be a multiple of lut_tc.g = {g} (whole "
                                       f"K-groups), not {k}")
        for name, width in (("hidden", self.hidden), ("d_out", self.d_out)):
            if width % n:
                raise CompositionError(f"{name} must be a multiple of lut_tc.n = {n} (whole "
                                       f"column tiles), not {width}")
        if n % gp.lanes:
            raise CompositionError(
                f"stream linear1.o ({n} lanes) cannot feed gelu.i ({gp.lanes} lanes): "
                f"gelu.lanes must divide lut_tc.n = {n}")
        if g % gp.lanes and gp.lanes % g:
            raise CompositionError(
                f"stream requant2.o ({gp.lanes} lanes) cannot feed linear2.a (K-groups of "
                f"{g}): gelu.lanes must divide lut_tc.g = {g} or be a multiple of it")
        if gp.lanes > g:
            raise CompositionError(
                f"stream requant2.o ({gp.lanes} lanes) cannot feed linear2.a (K-groups of "
                f"{g}): the hidden buffer writes at most one K-group a beat; gelu.lanes must "
                f"divide lut_tc.g = {g}")
        if n % self.out_lanes_:
            raise CompositionError(
                f"stream linear2.o ({n} lanes) cannot feed m_axis ({self.out_lanes_} lanes): "
                f"out_lanes must divide lut_tc.n = {n}")
        self._check_rates()
        fin = gp.in_format
        joins = (("requant1", self.requant1, f"gelu.i (s{fin.width}.{fin.frac})", fin.width,
                  fin.signed),
                 ("requant2", self.requant2, f"linear2.a (s{l2.act_width} activations)",
                  l2.act_width, True),
                 ("requant3", self.requant3, "m_axis (s8)", 8, True))
        for name, requant, target, width, signed in joins:
            bits = width if requant.out_bits is None else requant.out_bits
            if bits != width or requant.signed != signed:
                got = f"{'s' if requant.signed else 'u'}{bits}"
                raise CompositionError(
                    f"stream {name}.o ({got}) cannot feed {target}: "
                    + (f"element widths {bits} and {width} differ" if bits != width else
                       "signedness differs"))
            self._set(f"{name}_", requant.resolved(width))

    def _check_rates(self):
        """A narrowing adapter must drain a tile of results before the next tile is done, or
        it, not the GEMM block, sets the pace (and the block idles)."""
        n = self.linear1.n
        for linear, lanes, steps, field in (("linear1", self.gelu_params.lanes, self.steps1,
                                             "gelu.lanes"),
                                            ("linear2", self.out_lanes_, self.steps2,
                                             "out_lanes")):
            drain = self.rows * n // lanes
            if drain > steps:
                enough = [d for d in range(1, n + 1) if n % d == 0 and self.rows * n // d <= steps]
                hint = (f"use {field} >= {enough[0]}" if enough else
                        f"a tile must have at least rows = {self.rows} steps")
                raise CompositionError(
                    f"stream {linear}.o ({self.rows} x {n} results a tile) cannot drain through "
                    f"{field} = {lanes} lanes in time: {drain} cycles a tile, but {linear} ends "
                    f"a tile every {steps} cycles; {hint}")

    def _check_weights(self):
        given = [name for name in ("w1", "w2", "z1", "z2") if getattr(self, name) is not None]
        if self.weights_seed is not None:
            if given:
                raise ParamValueError(f"give weights_seed or the weights ({', '.join(given)}), "
                                      f"not both")
            check_int("weights_seed", self.weights_seed, 0, 2**32 - 1)
            w1, w2, z1, z2 = self._seeded_weights()
        else:
            int2 = self.weight_format == "int2"
            needed = ("w1", "w2", "z1", "z2") if int2 else ("w1", "w2")
            missing = [name for name in needed if getattr(self, name) is None]
            if missing:
                raise ParamValueError(f"{self.weight_format} weights need "
                                      f"{', '.join(needed)} (or weights_seed); missing: "
                                      f"{', '.join(missing)}")
            if not int2 and (self.z1 is not None or self.z2 is not None):
                raise ParamValueError("ternary weights take no zero points z1, z2")
            w1 = _matrix("w1", self.w1, (self.d_in, self.hidden), "d_in x hidden")
            w2 = _matrix("w2", self.w2, (self.hidden, self.d_out), "hidden x d_out")
            z1 = _matrix("z1", self.z1, (self.hidden,), "hidden") if int2 else None
            z2 = _matrix("z2", self.z2, (self.d_out,), "d_out") if int2 else None
        for name, w, z, zname in (("w1", w1, z1, "z1"), ("w2", w2, z2, "z2")):
            self._fit(name, w, z, zname)
        self._set("weights", (w1, w2, z1, z2))
        biases = []
        for name, length, what, linear in (("b1", self.hidden, "hidden", self.linear1),
                                           ("b2", self.d_out, "d_out", self.linear2)):
            if getattr(self, name) is None:
                biases.append(None)
                continue
            b = _matrix(name, getattr(self, name), (length,), what)
            limit = 1 << (linear.out_width - 1)
            bad = np.argwhere((b < -limit) | (b >= limit))
            if bad.size:
                k = bad[0][0]
                raise CompositionError(
                    f"{name}[{k}] does not fit the {linear.out_width}-bit accumulator of "
                    f"linear{name[1]}: it must be between {-limit} and {limit - 1}, not {b[k]}")
            biases.append(b)
        self._set("biases", tuple(biases))

    def _fit(self, name, w, z, zname):
        """Weights that do not fit the format: the first one, where, and what is allowed."""
        if self.weight_format == "ternary":
            bad = np.argwhere(~np.isin(w, (-1, 0, 1)))
            if bad.size:
                r, c = bad[0]
                raise CompositionError(f"{name}[{r}, {c}] does not fit ternary weights: it must "
                                       f"be -1, 0 or +1, not {w[r, c]}")
            return
        bad = np.argwhere((z < 0) | (z > 3))
        if bad.size:
            raise CompositionError(f"{zname}[{bad[0][0]}] does not fit int2 zero points: it "
                                   f"must be 0..3, not {z[bad[0][0]]}")
        q = w + z[None, :]
        bad = np.argwhere((q < 0) | (q > 3))
        if bad.size:
            r, c = bad[0]
            raise CompositionError(f"{name}[{r}, {c}] = {w[r, c]} does not fit int2 weights "
                                   f"with zero point {zname}[{c}] = {z[c]}: w + z must be 0..3, "
                                   f"not {q[r, c]}")

    def _seeded_weights(self):
        rng = np.random.default_rng(self.weights_seed)
        if self.weight_format == "ternary":
            return (rng.integers(-1, 2, (self.d_in, self.hidden)),
                    rng.integers(-1, 2, (self.hidden, self.d_out)), None, None)
        z1, z2 = rng.integers(0, 4, self.hidden), rng.integers(0, 4, self.d_out)
        q1 = rng.integers(0, 4, (self.d_in, self.hidden))
        q2 = rng.integers(0, 4, (self.hidden, self.d_out))
        return q1 - z1[None, :], q2 - z2[None, :], z1, z2

    # -- the parts' views -------------------------------------------------------------------
    def codes(self, which):
        """``(q, z)`` of linear ``which`` (1 or 2): the LUT tensor core's weight codes and
        zero points (None for ternary)."""
        w, z = (self.weights[0], self.weights[2]) if which == 1 else \
            (self.weights[1], self.weights[3])
        if self.weight_format == "ternary":
            return w + 1, None
        return w + z[None, :], z

    @property
    def family(self):
        """The manifest's family field: the composed layer's registry name."""
        return self.layer

    # -- plain data ---------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values):
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in names:
                raise ParamValueError(f"{cls.layer} has no parameter {show(key)}"
                                      f"{did_you_mean(key, names)} (parameters: "
                                      f"{', '.join(names)})")
        values = dict(values)
        for name in ("lut_tc", "gelu"):
            if name in values:
                if not isinstance(values[name], dict):
                    raise ParamTypeError(f"{name} must be a table, not {show(values[name])}")
                values[name] = tuple(sorted(values[name].items()))
        for name in ("requant1", "requant2", "requant3"):
            if name in values:
                values[name] = Requant.from_dict(name, values[name])
        for name in ("w1", "w2", "z1", "z2", "b1", "b2"):
            if name in values:
                values[name] = _nested(values[name])
        if any(name in values for name in ("w1", "w2")) and "weights_seed" not in values:
            values["weights_seed"] = None
        return cls(**values)

    def to_dict(self, weights=False):
        """Plain data: the config, with the weights' digest (or, with ``weights``, the weights
        themselves, as :meth:`from_dict` takes them)."""
        out = {"rows": self.rows, "d_in": self.d_in, "hidden": self.hidden,
               "d_out": self.d_out, "weight_format": self.weight_format,
               "in_lanes": self.in_lanes_, "out_lanes": self.out_lanes_,
               "lut_tc": dict(self.lut_tc), "gelu": dict(self.gelu),
               "requant1": self.requant1.to_dict(), "requant2": self.requant2.to_dict(),
               "requant3": self.requant3.to_dict()}
        if self.weights_seed is not None:
            out["weights_seed"] = self.weights_seed
        elif weights:
            for name, array in zip(("w1", "w2", "z1", "z2"), self.weights):
                if array is not None:
                    out[name] = array.tolist()
        for name, array in zip(("b1", "b2"), self.biases):
            if array is not None and weights:
                out[name] = array.tolist()
        out["weights_sha256"] = self.weights_digest
        return out

    def to_json(self):
        values = self.to_dict(weights=True)
        del values["weights_sha256"]
        return json.dumps({"layer": self.layer, **values}, sort_keys=True)

    @property
    def weights_digest(self):
        digest = hashlib.sha256()
        for array in self.weights + self.biases:
            if array is not None:
                digest.update(np.ascontiguousarray(array, dtype="<i8").tobytes())
        return digest.hexdigest()

    def __hash__(self):
        return hash(self.to_json())

    def __eq__(self, other):
        return isinstance(other, FfnParams) and self.to_json() == other.to_json()

    # -- schedule -----------------------------------------------------------------------------
    @property
    def tiles1(self):
        return self.hidden // self.linear1.n

    @property
    def tiles2(self):
        return self.d_out // self.linear2.n

    @property
    def steps1(self):
        """Tile steps (w beats) of one tile of the first linear."""
        return self.d_in // self.linear1.g * self.linear1.steps_per_group

    @property
    def steps2(self):
        return self.hidden // self.linear2.g * self.linear2.steps_per_group

    @property
    def in_beats(self):
        return self.rows * self.d_in // self.in_lanes_

    @property
    def out_beats(self):
        return self.rows * self.d_out // self.out_lanes_


def _nested(value):
    return tuple(_nested(v) for v in value) if isinstance(value, (list, tuple)) else value
