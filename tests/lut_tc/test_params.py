"""LutTcParams and MultArrayParams validation: every field, every message, anchored."""

import re

import pytest

from generators.catalog import params_from_json
from generators.lut_tc.params import LutTcParams, MultArrayParams
from generators.params import ParamTypeError, ParamValueError

WRONG = [
    (dict(m=0), ParamValueError, "m must be between 1 and 8, not 0"),
    (dict(m=2.0), ParamTypeError, "m must be an integer, not 2.0"),
    (dict(n=65), ParamValueError, "n must be between 1 and 64, not 65"),
    (dict(n="16"), ParamTypeError, "n must be an integer, not '16'"),
    (dict(g=5), ParamValueError, "g must be between 2 and 4, not 5"),
    (dict(g=True), ParamTypeError, "g must be an integer, not True"),
    (dict(weight_format="int3"), ParamValueError,
     "weight_format must be one of 'binary', 'ternary', 'int2', 'int4', not 'int3'; "
     "did you mean 'int4'?"),
    (dict(weight_format=2), ParamTypeError, "weight_format must be a string, not 2"),
    (dict(act_width=12), ParamValueError, "act_width must be 8 or 16, not 12"),
    (dict(act_width=15), ParamValueError, "act_width must be 8 or 16, not 15; did you mean 16?"),
    (dict(act_width="8"), ParamTypeError, "act_width must be an integer, not '8'"),
    (dict(act_width=8.0), ParamTypeError, "act_width must be an integer, not 8.0"),
    (dict(max_k=0), ParamValueError, "max_k must be between 1 and 4096, not 0"),
    (dict(max_k=4097), ParamValueError, "max_k must be between 1 and 4096, not 4097"),
    (dict(weight_format="ternary", zp_group=8), ParamValueError,
     "zp_group applies only to int2 and int4 weights, not 'ternary'"),
    (dict(zp_group=6), ParamValueError, "zp_group must be a multiple of g (4), not 6"),
    (dict(zp_group=2), ParamValueError, "zp_group must be between 4 and 4096, not 2"),
    (dict(g=3, zp_group=2), ParamValueError, "zp_group must be between 3 and 4096, not 2"),
    (dict(zp_group=8.0), ParamTypeError, "zp_group must be an integer, not 8.0"),
    (dict(acc_in=1), ParamTypeError, "acc_in must be a bool, not 1"),
    (dict(requant="no"), ParamTypeError, "requant must be a bool, not 'no'"),
    (dict(scale_bits=16), ParamValueError, "scale_bits applies only with requant = true"),
    (dict(requant=True, scale_bits=19), ParamValueError,
     "scale_bits must be between 2 and 18, not 19"),
    (dict(bias_bits=16), ParamValueError, "bias_bits applies only with requant = true"),
    (dict(requant=True, bias_bits=1), ParamValueError, "bias_bits must be between 2 and 24, not 1"),
    (dict(shift=4), ParamValueError, "shift applies only with requant = true"),
    (dict(requant=True, shift=49), ParamValueError, "shift must be between 0 and 48, not 49"),
    (dict(requant=True, shift=True), ParamTypeError, "shift must be an integer, not True"),
    (dict(bit_serial=1), ParamTypeError, "bit_serial must be a bool, not 1"),
    (dict(symmetrize="yes"), ParamTypeError, "symmetrize must be a bool, not 'yes'"),
    (dict(preflip=None), ParamTypeError, "preflip must be a bool, not None"),
    (dict(symmetrize=False), ParamValueError,
     "preflip needs symmetrize (pre-flipping selects the stored half of a symmetric table), "
     "not preflip=True with symmetrize=False"),
    (dict(ternary_pairs=1), ParamTypeError, "ternary_pairs must be a bool, not 1"),
    (dict(ternary_pairs=True, weight_format="int2", bit_serial=False), ParamValueError,
     "ternary_pairs applies only to ternary weights, not 'int2'"),
    (dict(ternary_pairs=True, weight_format="ternary", g=3, bit_serial=False), ParamValueError,
     "ternary_pairs needs an even g (2 or 4), not 3"),
    (dict(ternary_pairs=True, weight_format="ternary"), ParamValueError,
     "ternary_pairs needs bit_serial=False and symmetrize=True (one step per K-group, tables "
     "symmetric by construction)"),
    (dict(ternary_pairs=True, weight_format="ternary", bit_serial=False, symmetrize=False,
          preflip=False), ParamValueError,
     "ternary_pairs needs bit_serial=False and symmetrize=True (one step per K-group, tables "
     "symmetric by construction)"),
    (dict(pair_tables="yes"), ParamTypeError, "pair_tables must be a bool, not 'yes'"),
    (dict(pair_tables=True, g=3), ParamValueError, "pair_tables needs an even g (2 or 4), not 3"),
    (dict(pair_tables=True, symmetrize=False, preflip=False), ParamValueError,
     "pair_tables needs symmetrize=True, ternary_pairs=False and adder_tree=False (half tables "
     "of bit-plane lookups)"),
    (dict(adder_tree=True), ParamValueError,
     "adder_tree needs bit_serial=False and ternary_pairs=False (one step per K-group, no "
     "tables)"),
]


@pytest.mark.parametrize("values, error, message", WRONG, ids=[m[:60] for _, _, m in WRONG])
def test_wrong(values, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        LutTcParams(**values)


def test_every_field_has_a_wrong_case():
    tried = {name for values, _, _ in WRONG for name in values}
    assert tried == set(LutTcParams.field_names())


MULT_WRONG = [
    (dict(n=0), ParamValueError, "n must be between 1 and 64, not 0"),
    (dict(weight_format="binary", zp_group=4), ParamValueError,
     "zp_group applies only to int2 and int4 weights, not 'binary'"),
    (dict(requant=1), ParamTypeError, "requant must be a bool, not 1"),
]


@pytest.mark.parametrize("values, error, message", MULT_WRONG,
                         ids=[m[:60] for _, _, m in MULT_WRONG])
def test_wrong_mult_array(values, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        MultArrayParams(**values)


def test_resolved_epilogue_and_json_round_trip():
    p = LutTcParams(weight_format="int2", requant=True)
    assert (p.scale_bits, p.bias_bits, p.shift) == (16, 16, 16)
    assert "scale_bits" not in LutTcParams().to_dict()
    for p in (LutTcParams(m=3, g=3, weight_format="int4", bit_serial=False),
              LutTcParams(zp_group=8, requant=True, shift=4)):
        assert params_from_json(p.to_json()) == p


def test_mult_params_errors_and_json_round_trip():
    with pytest.raises(ParamValueError, match=r"^n must be between 1 and 64, not 0$"):
        MultArrayParams(n=0)
    p = LutTcParams(m=3, g=3, weight_format="int4", bit_serial=False)
    assert params_from_json(p.to_json()) == p
