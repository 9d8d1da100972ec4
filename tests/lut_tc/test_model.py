"""LUT tensor core: the prepare utility and the bit-exact models against
``A @ (q - z)`` for every weight format, g, plane mode and trick setting."""

import dataclasses
import itertools

import numpy as np
import pytest

from generators.lut_tc.model import (correction_select, lut_tc, mult_array, pair_tables,
                                     reference, table)
from generators.lut_tc.params import WEIGHT_BITS, LutTcParams, MultArrayParams
from generators.lut_tc.prepare import (bitplanes, codes_from_int, index_patterns, pack_epilogue,
                                       pack_tile, pair_fields, preflip_pattern, quantize,
                                       real_weights, reinterpret)
from generators.params import ParamTypeError, ParamValueError

FORMATS = ("binary", "ternary", "int2", "int4")


def test_derived_widths():
    p = LutTcParams(weight_format="int2", max_k=256)
    # |A @ (q - z)| <= 256 * 128 * 3 = 98304 < 2**17; the accumulator holds A @ q' as well.
    assert (p.out_width, p.acc_width, p.entry_width, p.sum_width) == (18, 18, 11, 17)
    assert p.table_entries == 8 and LutTcParams(symmetrize=False, preflip=False).table_entries == 16
    assert p.macs_per_cycle == 2 * 16 * 4 / 2


def test_table_symmetry():
    a = [5, -3, 7, -128]
    full = table(a, 16)
    assert all(full[idx] == -full[15 - idx] for idx in range(16))
    assert table(a, 8) == full[:8]


def test_preflip_and_reinterpretation():
    assert list(preflip_pattern(np.arange(8), 3)) == [0, 1, 2, 3, 7, 6, 5, 4]
    q = np.array([[0, 1, 2, 3]])
    s = reinterpret(q, 2)
    assert ((s * np.array([1, 2])[:, None, None]).sum(axis=0) == 2 * q - 3).all()
    # bit k of the pattern is weight k of the group
    patterns = index_patterns(np.array([[1], [0], [1], [1]]), 1, 4, preflip=False)
    assert patterns.tolist() == [[[0b1101]]]


@pytest.mark.parametrize("bits", [2, 4])
def test_correction_select(bits):
    for z in range(1 << bits):
        negate, j = correction_select(z, bits)
        assert (-1) ** negate * (2 * j + 1) == (1 << bits) - 1 - 2 * z


@pytest.mark.parametrize("weight_format", FORMATS)
def test_quantize_and_codes(weight_format):
    rng = np.random.default_rng(1)
    w = rng.normal(0, 1, (8, 3))
    z = np.array([1, 2, 0]) if weight_format in ("int2", "int4") else None
    q = quantize(w, weight_format, scale=0.5, zero_point=z)
    real = real_weights(weight_format, q, z)
    assert (codes_from_int(weight_format, real, z) == q).all()
    if weight_format == "binary":
        assert set(np.unique(real)) <= {-1, 1}


def test_epilogue_defaults_and_errors():
    p = LutTcParams(weight_format="int2", requant=True)
    assert (p.scale_bits, p.bias_bits, p.shift, p.result_width) == (16, 16, 16, 8)
    assert LutTcParams(acc_in=True).result_width == LutTcParams().out_width
    with pytest.raises(ValueError, match=r"^acc_in params need an accumulator input C \[m x n\]$"):
        pack_epilogue(LutTcParams(acc_in=True))
    with pytest.raises(ValueError, match=r"^an accumulator input needs params with acc_in = true$"):
        pack_epilogue(LutTcParams(), acc_in=np.zeros((2, 16), dtype=int))
    q = LutTcParams(m=1, n=2, requant=True, scale_bits=4, bias_bits=4)
    with pytest.raises(ValueError, match=r"^scale must be between -8 and 7 \(signed 4 bits\)$"):
        pack_epilogue(q, scale=[8, 0], bias=[0, 0])
    with pytest.raises(ValueError, match=r"^bias must have shape \(2,\), not \(3,\)$"):
        pack_epilogue(q, scale=[1, 0], bias=[0, 0, 0])
    with pytest.raises(ValueError, match=r"^requant params need a scale and a bias per column$"):
        pack_epilogue(q, scale=[1, 0])


def test_code_errors():
    with pytest.raises(ValueError, match=r"^ternary weights must be -1, 0 or \+1$"):
        codes_from_int("ternary", [[2]])
    with pytest.raises(ValueError,
                       match=r"^weights minus zero point do not fit int2 codes 0\.\.3$"):
        codes_from_int("int2", [[3]], [1])
    p = LutTcParams(m=1, n=1, g=2, weight_format="int2", max_k=4)
    with pytest.raises(ValueError, match=r"^K must be between 1 and 4, not 5$"):
        pack_tile(p, np.zeros((1, 5), dtype=int), np.zeros((5, 1), dtype=int), [0])
    with pytest.raises(ValueError, match=r"^activations must be between -128 and 127$"):
        pack_tile(p, [[128]], [[0]], [0])
    with pytest.raises(ValueError, match=r"^zero_point must be 1 codes between 0 and 3$"):
        pack_tile(p, [[1]], [[0]], [4])


def _cases(p, rng):
    half = 1 << (p.act_width - 1)
    top = 2 if p.weight_format == "ternary" else (1 << p.bits) - 1
    for k in (1, p.g + 1, p.max_k - 1, p.max_k):
        a = rng.integers(-half, half, (p.m, k))
        q = rng.integers(0, top + 1, (k, p.n))
        z = rng.integers(0, top + 1, p.n) if p.has_zero_point else None
        yield a, q, z
    k = p.max_k
    z = np.full(p.n, 0) if p.has_zero_point else None
    z_top = np.full(p.n, top) if p.has_zero_point else None
    yield np.full((p.m, k), half - 1), np.full((k, p.n), top), z        # all at the extremes
    yield np.full((p.m, k), -half), np.zeros((k, p.n), dtype=int), z_top
    yield np.full((p.m, k), -half), np.full((k, p.n), top), z          # -128 activations
    yield np.zeros((p.m, k), dtype=int), rng.integers(0, top + 1, (k, p.n)), z


@pytest.mark.parametrize("weight_format", FORMATS)
@pytest.mark.parametrize("g", [2, 3, 4])
def test_models_equal_integer_product(weight_format, g):
    rng = np.random.default_rng(g)
    for bit_serial, (symmetrize, preflip), act_width in itertools.product(
            (True, False), ((True, True), (True, False), (False, False)), (8, 16)):
        p = LutTcParams(m=2, n=3, g=g, weight_format=weight_format, act_width=act_width,
                        max_k=22, bit_serial=bit_serial, symmetrize=symmetrize, preflip=preflip)
        mp = MultArrayParams(m=2, n=3, g=g, weight_format=weight_format, act_width=act_width,
                             max_k=22)
        for a, q, z in _cases(p, rng):
            want = reference(weight_format, a, q, z)
            assert np.abs(want).max(initial=0) < 1 << (p.out_width - 1)
            assert (lut_tc(p, a, q, z) == want).all()
            assert (mult_array(mp, a, q, z) == want).all()
        adder = LutTcParams(m=2, n=3, g=g, weight_format=weight_format, act_width=act_width,
                            max_k=22, bit_serial=False, adder_tree=True)
        for a, q, z in _cases(adder, rng):
            assert (lut_tc(adder, a, q, z) == reference(weight_format, a, q, z)).all()


@pytest.mark.parametrize("weight_format", FORMATS)
@pytest.mark.parametrize("g", [2, 4])
def test_pair_tables_equal_integer_product(weight_format, g):
    rng = np.random.default_rng(30 + g)
    for bit_serial, preflip, act_width in itertools.product((True, False), (True, False), (8, 16)):
        p = LutTcParams(m=2, n=3, g=g, weight_format=weight_format, act_width=act_width,
                        max_k=22, bit_serial=bit_serial, preflip=preflip, pair_tables=True)
        assert p.table_entries == g and p.entry_width == act_width + 1
        for a, q, z in _cases(p, rng):
            assert (lut_tc(p, a, q, z) == reference(weight_format, a, q, z)).all()
    if weight_format in ("int2", "int4"):
        p = LutTcParams(m=2, n=3, g=g, weight_format=weight_format, max_k=22,
                        pair_tables=True, zp_group=2 * g)
        for a, q, _ in _cases(p, rng):
            z = rng.integers(0, 1 << p.bits, p.zero_point_shape(q.shape[0]))
            assert (lut_tc(p, a, q, z) == reference(weight_format, a, q, z, params=p)).all()


def test_pair_tables_preflip_per_field():
    # Each 2-bit field flips its low bit by its own top bit: 0b10_11_01_00 -> 0b11_10_01_00.
    assert preflip_pattern(0b10110100, 8, 2) == 0b11100100
    assert preflip_pattern(0b10110100, 8) == 0b11001011


@pytest.mark.parametrize("weight_format", ["int2", "int4"])
@pytest.mark.parametrize("g, zp_group", [(2, 2), (3, 6), (4, 8)])
def test_per_group_zero_points_equal_integer_product(weight_format, g, zp_group):
    """Zero points per group of zp_group rows of K: the models fold each group's correction
    into the accumulators and equal A @ (q - z[k // zp_group]); the accumulator width holds
    the worst case (all groups at the extremes)."""
    rng = np.random.default_rng(g + zp_group)
    top = (1 << WEIGHT_BITS[weight_format]) - 1
    for bit_serial in (True, False):
        p = LutTcParams(m=2, n=3, g=g, weight_format=weight_format, max_k=25,
                        bit_serial=bit_serial, zp_group=zp_group)
        mp = MultArrayParams(m=2, n=3, g=g, weight_format=weight_format, max_k=25,
                             zp_group=zp_group)
        for k in (1, zp_group, zp_group + 1, 25):
            groups = -(-k // zp_group)
            cases = [(rng.integers(-128, 128, (2, k)), rng.integers(0, top + 1, (k, 3)),
                      rng.integers(0, top + 1, (groups, 3))),
                     (np.full((2, k), -128), np.zeros((k, 3), dtype=int),
                      np.full((groups, 3), top)),
                     (np.full((2, k), 127), np.full((k, 3), top), np.zeros((groups, 3), int))]
            for a, q, z in cases:
                want = reference(weight_format, a, q, z, params=p)
                assert (lut_tc(p, a, q, z) == want).all()
                assert (mult_array(mp, a, q, z) == want).all()
                if not bit_serial:
                    adder = dataclasses.replace(p, adder_tree=True)
                    assert (lut_tc(adder, a, q, z) == want).all()
    worst = 25 * 128 * top
    assert LutTcParams(weight_format=weight_format, max_k=25, g=g, zp_group=zp_group) \
        .acc_width >= (2 * worst).bit_length() + 1


def test_zp_group_errors():
    with pytest.raises(ParamValueError, match=r"^zp_group applies only to int2 and int4 weights, "
                       r"not 'ternary'$"):
        LutTcParams(weight_format="ternary", zp_group=8)
    with pytest.raises(ParamValueError, match=r"^zp_group must be a multiple of g \(4\), not 6$"):
        LutTcParams(zp_group=6)
    with pytest.raises(ParamValueError, match=r"^zp_group must be between 4 and 4096, not 2$"):
        LutTcParams(zp_group=2)
    p = LutTcParams(m=1, n=2, g=2, weight_format="int2", max_k=8, zp_group=4)
    with pytest.raises(ValueError, match=r"^zero_point must be 2 x 2 codes \(one row per 4 rows "
                       r"of K\) between 0 and 3$"):
        pack_tile(p, np.zeros((1, 8), dtype=int), np.zeros((8, 2), dtype=int), [0, 0])


def test_ternary_thermometer_planes():
    """Ternary planes are q > 0 and q > 1: w = q - 1 is half the sum of their +-1 forms, so the
    drain only halves (no row sum) and neither plane is shifted."""
    q = np.array([[0, 1, 2]])
    planes = bitplanes(q, 2, thermometer=True)
    assert planes[:, 0].tolist() == [[0, 1, 1], [0, 0, 1]]
    assert ((2 * planes - 1).sum(axis=0) == 2 * (q - 1)).all()
    p = LutTcParams(weight_format="ternary", max_k=256)
    assert p.plane_shifts == (0, 0)
    assert LutTcParams(weight_format="int4").plane_shifts == (0, 1, 2, 3)
    # |A @ (s0 + s1)| <= 256 * 128 * 2 = 2**16: one bit narrower than with weights 1 and 2.
    assert p.acc_width == 18 and LutTcParams(weight_format="int2", max_k=256).acc_width == 18


def test_pair_fields():
    # (w0, w1) in K order, one column; field = j | sign << 2 | zero << 3 with the pair's table
    # [a0, a1, a0 + a1, a0 - a1].
    pairs = {(1, 0): 0, (-1, 0): 4, (0, 1): 1, (0, -1): 5, (1, 1): 2, (-1, -1): 6,
             (1, -1): 3, (-1, 1): 7, (0, 0): 8}
    for (w0, w1), field in pairs.items():
        assert pair_fields(np.array([[w0 + 1], [w1 + 1]]), 2).tolist() == [[field]]
        a0, a1 = 7, -3
        tab = pair_tables([a0, a1])
        value = 0 if field & 8 else tab[field & 3] * (-1 if field & 4 else 1)
        assert value == w0 * a0 + w1 * a1
    # g = 4: two fields a beat, pair 1 at bit 4; K = 3 is padded with a zero weight.
    # Weights 1, 0 | -1, (0): pair 0 is (1, 0), field 0; pair 1 is (-1, 0), field 4.
    assert pair_fields(np.array([[2], [1], [0]]), 4).tolist() == [[4 << 4]]


@pytest.mark.parametrize("g", [2, 4])
def test_ternary_pairs_equal_integer_product(g):
    rng = np.random.default_rng(10 + g)
    for act_width in (8, 16):
        p = LutTcParams(m=2, n=3, g=g, weight_format="ternary", act_width=act_width, max_k=22,
                        bit_serial=False, ternary_pairs=True)
        assert p.table_entries == 2 * g and p.entry_width == act_width + 1
        assert p.acc_width == p.out_width and p.pattern_width == 2 * g
        for a, q, _ in _cases(p, rng):
            assert (lut_tc(p, a, q) == reference("ternary", a, q)).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(weight_format="int2", bit_serial=False), r"ternary_pairs applies only to ternary "
                                                   r"weights, not 'int2'"),
    (dict(weight_format="ternary", g=3, bit_serial=False),
     r"ternary_pairs needs an even g \(2 or 4\), not 3"),
    (dict(weight_format="ternary"), r"ternary_pairs needs bit_serial=False and symmetrize=True "
                                    r"\(one step per K-group, tables symmetric by construction\)"),
])
def test_ternary_pairs_errors(kwargs, message):
    with pytest.raises(ParamValueError, match=rf"^{message}$"):
        LutTcParams(ternary_pairs=True, **kwargs)
    with pytest.raises(ParamTypeError, match=r"^ternary_pairs must be a bool, not 1$"):
        LutTcParams(ternary_pairs=1)
