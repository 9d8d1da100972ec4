"""Composed-layer parameters: one test per message (the parts' own messages carry the part's
name), the stream and rate checks of the joins, the weights' fit, plain-data round trips."""

import dataclasses

import numpy as np
import pytest

from generators.compose import CompositionError, FfnParams, Requant, params_from_json
from generators.params import ParamError, ParamTypeError, ParamValueError

GELU8 = (("in_frac", 5), ("in_width", 8), ("out_frac", 5), ("out_width", 8))
TINY = dict(rows=1, d_in=4, hidden=4, d_out=4, gelu=(("lanes", 4),) + GELU8,
            lut_tc=(("n", 4), ("g", 4), ("bit_serial", False)))


def refused(error, message, **values):
    with pytest.raises(error) as caught:
        FfnParams(**values)
    assert str(caught.value) == message


def test_defaults_are_the_example_layer():
    p = FfnParams()
    assert (p.rows, p.d_in, p.hidden, p.d_out, p.in_lanes_, p.out_lanes_) == (2, 32, 128, 32, 4, 8)
    assert p.linear1.max_k == 32 and p.linear2.max_k == 128 and p.linear1.m == 2
    assert p.requant1_.out_bits == 8 and p.requant3_.out_bits == 8


@pytest.mark.parametrize("error, message, values", [
    (ParamValueError, "rows must be between 1 and 8, not 9", dict(rows=9)),
    (ParamTypeError, "d_in must be an integer, not '32'", dict(d_in="32")),
    (ParamValueError, "weight_format must be one of 'ternary', 'int2', not 'int4'; did you mean "
     "'int2'?", dict(weight_format="int4")),
    (ParamValueError, "weight_format must be one of 'ternary', 'int2', not 'ternery'; did you "
     "mean 'ternary'?", dict(weight_format="ternery")),
    (ParamValueError, "requant1.mult must be between 0 and 65535, not 65536",
     dict(requant1=Requant(mult=65536))),
    (ParamValueError, "requant2.shift must be between 0 and 48, not 49",
     dict(requant2=Requant(shift=49))),
    (ParamTypeError, "requant3.signed must be true or false, not 1",
     dict(requant3=Requant(signed=1))),
    (ParamValueError, "lut_tc has no key 'm' (keys: n, g, bit_serial, symmetrize, preflip, "
     "ternary_pairs, adder_tree)", dict(lut_tc=(("m", 2),))),
    (ParamValueError, "lut_tc: n must be between 1 and 64, not 65", dict(lut_tc=(("n", 65),))),
    (ParamValueError, "gelu: lanes must be between 1 and 16, not 17",
     dict(gelu=(("lanes", 17),) + GELU8)),
    (ParamValueError, "in_lanes must be between 1 and 64, not 0", dict(in_lanes=0)),
])
def test_wrong_field(error, message, values):
    refused(error, message, **values)


@pytest.mark.parametrize("message, values", [
    ("lut_tc.g must be 2 or 4 in a composed layer (the activation buffers address K-groups by "
     "bit slices), not 3", dict(d_in=30, hidden=120, lut_tc=(("n", 8), ("g", 3)))),
    ("stream s_axis (3 lanes) cannot feed linear1.a (K-groups of 4): in_lanes must divide "
     "lut_tc.g = 4, not 3", dict(in_lanes=3)),
    ("d_in must be a multiple of lut_tc.g = 4 (whole K-groups), not 30", dict(d_in=30)),
    ("hidden must be a multiple of lut_tc.n = 8 (whole column tiles), not 100",
     dict(hidden=100)),
    ("d_out must be a multiple of lut_tc.n = 8 (whole column tiles), not 36", dict(d_out=36)),
    ("stream linear1.o (8 lanes) cannot feed gelu.i (3 lanes): gelu.lanes must divide "
     "lut_tc.n = 8", dict(gelu=(("lanes", 3),) + GELU8)),
    ("stream requant2.o (8 lanes) cannot feed linear2.a (K-groups of 4): the hidden buffer "
     "writes at most one K-group a beat; gelu.lanes must divide lut_tc.g = 4",
     dict(gelu=(("lanes", 8),) + GELU8)),
    ("stream linear2.o (8 lanes) cannot feed m_axis (3 lanes): out_lanes must divide "
     "lut_tc.n = 8", dict(out_lanes=3)),
    ("stream linear1.o (2 x 8 results a tile) cannot drain through gelu.lanes = 1 lanes in "
     "time: 16 cycles a tile, but linear1 ends a tile every 8 cycles; use gelu.lanes >= 2",
     dict(gelu=(("lanes", 1),) + GELU8)),
    ("stream linear2.o (2 x 8 results a tile) cannot drain through out_lanes = 1 lanes in "
     "time: 16 cycles a tile, but linear2 ends a tile every 8 cycles; use out_lanes >= 2",
     dict(hidden=32, out_lanes=1)),
    ("stream requant1.o (s10) cannot feed gelu.i (s8.5): element widths 10 and 8 differ",
     dict(requant1=Requant(mult=1, shift=4, out_bits=10))),
    ("stream requant3.o (u8) cannot feed m_axis (s8): signedness differs",
     dict(requant3=Requant(signed=False))),
])
def test_streams_that_cannot_meet(message, values):
    refused(CompositionError, message, **values)


def test_weights_that_do_not_fit_ternary():
    w1 = np.zeros((4, 4), dtype=int)
    w1[2, 3] = 2
    refused(CompositionError, "w1[2, 3] does not fit ternary weights: it must be -1, 0 or +1, "
            "not 2", weights_seed=None, w1=w1.tolist(), w2=np.zeros((4, 4), int).tolist(),
            **TINY)


def test_weights_that_do_not_fit_int2():
    zeros = np.zeros((4, 4), dtype=int).tolist()
    w2 = np.zeros((4, 4), dtype=int)
    w2[1, 0] = 2
    refused(CompositionError, "w2[1, 0] = 2 does not fit int2 weights with zero point z2[0] = 2: "
            "w + z must be 0..3, not 4", weight_format="int2", weights_seed=None, w1=zeros,
            w2=w2.tolist(), z1=[1] * 4, z2=[2] * 4, **TINY)
    refused(CompositionError, "z1[3] does not fit int2 zero points: it must be 0..3, not 4",
            weight_format="int2", weights_seed=None, w1=zeros, w2=zeros, z1=[1, 1, 1, 4],
            z2=[2] * 4, **TINY)


@pytest.mark.parametrize("message, values", [
    ("w1 must be 4 x 4 (d_in x hidden), not 4 x 3", dict(w1=[[0] * 3] * 4, w2=[[0] * 4] * 4)),
    ("w2 must be 4 x 4 (hidden x d_out), not ragged or empty",
     dict(w1=[[0] * 4] * 4, w2=[[0] * 4, [0]])),
    ("give weights_seed or the weights (w1), not both",
     dict(weights_seed=3, w1=[[0] * 4] * 4)),
    ("int2 weights need w1, w2, z1, z2 (or weights_seed); missing: z1, z2",
     dict(weight_format="int2", w1=[[0] * 4] * 4, w2=[[0] * 4] * 4)),
    ("ternary weights take no zero points z1, z2",
     dict(w1=[[0] * 4] * 4, w2=[[0] * 4] * 4, z1=[0] * 4)),
])
def test_wrong_weights(message, values):
    values = {"weights_seed": None, **values}
    with pytest.raises(ParamError) as caught:
        FfnParams(**TINY, **values)
    assert str(caught.value) == message


def test_weight_entry_must_be_an_integer():
    refused(ParamTypeError, "w1[0, 1] must be an integer, not 0.5", weights_seed=None,
            w1=[[0, 0.5, 0, 0]] + [[0] * 4] * 3, w2=[[0] * 4] * 4, **TINY)


def test_from_dict_refuses_unknown_names():
    with pytest.raises(ParamValueError, match="^ffn has no parameter 'hiden'; did you mean "
                                              "'hidden'"):
        FfnParams.from_dict({"hiden": 64})
    with pytest.raises(ParamValueError, match="^requant1 has no key 'shfit'; did you mean "
                                              "'shift'"):
        FfnParams.from_dict({"requant1": {"shfit": 3}})
    with pytest.raises(ParamTypeError, match="^gelu must be a table, not 4"):
        FfnParams.from_dict({"gelu": 4})


def test_seeded_weights_fit_and_are_deterministic():
    for fmt in ("ternary", "int2"):
        a, b = FfnParams(weight_format=fmt, weights_seed=9), FfnParams(weight_format=fmt,
                                                                      weights_seed=9)
        assert a == b and a.weights_digest == b.weights_digest
        assert a.weights_digest != FfnParams(weight_format=fmt, weights_seed=10).weights_digest
        q1, _z1 = a.codes(1)
        assert q1.min() >= 0 and q1.max() <= (2 if fmt == "ternary" else 3)


def test_json_round_trip_seeded_and_explicit():
    seeded = FfnParams(weight_format="int2", weights_seed=4, out_lanes=2)
    assert params_from_json(seeded.to_json()) == seeded
    w1, w2, z1, z2 = seeded.weights
    explicit = FfnParams(weight_format="int2", weights_seed=None, out_lanes=2, w1=w1.tolist(),
                         w2=w2.tolist(), z1=z1.tolist(), z2=z2.tolist())
    assert explicit.weights_digest == seeded.weights_digest
    again = params_from_json(explicit.to_json())
    assert again == explicit and again.to_dict() == explicit.to_dict()
    assert "w1" not in explicit.to_dict()       # the manifest holds the digest, not the weights


def test_params_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        FfnParams().rows = 3


def test_biases_that_do_not_fit():
    refused(CompositionError, "b1[1] does not fit the 11-bit accumulator of linear1: it must be "
            "between -1024 and 1023, not 5000", b1=[0, 5000, 0, 0], **TINY)
    refused(CompositionError, "b2 must be 4 (d_out), not 3", b2=[0, 0, 0], **TINY)


def test_biases_round_trip_and_enter_the_digest():
    plain = FfnParams(**TINY)
    biased = FfnParams(b1=[1, 2, 3, 4], b2=[-1, 0, 1, 2], **TINY)
    assert biased.linear1.acc_in and biased.linear2.acc_in and not plain.linear1.acc_in
    assert biased.weights_digest != plain.weights_digest
    assert params_from_json(biased.to_json()) == biased
