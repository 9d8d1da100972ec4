"""LUT tensor core parameters: one test per validation message, and the JSON round trip."""

import pytest

from generators.catalog import params_from_json
from generators.lut_tc.params import LutTcParams, MultArrayParams
from generators.params import ParamTypeError, ParamValueError


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(m=0), ParamValueError, r"m must be between 1 and 8, not 0"),
    (dict(m=2.0), ParamTypeError, r"m must be an integer, not 2\.0"),
    (dict(n=65), ParamValueError, r"n must be between 1 and 64, not 65"),
    (dict(g=5), ParamValueError, r"g must be between 2 and 4, not 5"),
    (dict(g=True), ParamTypeError, r"g must be an integer, not True"),
    (dict(weight_format="int3"), ParamValueError,
     r"weight_format must be one of 'binary', 'ternary', 'int2', 'int4', not 'int3'; "
     r"did you mean 'int4'\?"),
    (dict(act_width=12), ParamValueError, r"act_width must be 8 or 16, not 12"),
    (dict(act_width="8"), ParamTypeError, r"act_width must be an integer, not '8'"),
    (dict(max_k=0), ParamValueError, r"max_k must be between 1 and 4096, not 0"),
    (dict(bit_serial=1), ParamTypeError, r"bit_serial must be a bool, not 1"),
    (dict(symmetrize="yes"), ParamTypeError, r"symmetrize must be a bool, not 'yes'"),
    (dict(preflip=None), ParamTypeError, r"preflip must be a bool, not None"),
    (dict(symmetrize=False), ParamValueError,
     r"preflip needs symmetrize \(pre-flipping selects the stored half of a symmetric table\), "
     r"not preflip=True with symmetrize=False"),
    (dict(acc_in=1), ParamTypeError, r"acc_in must be a bool, not 1"),
    (dict(requant="no"), ParamTypeError, r"requant must be a bool, not 'no'"),
    (dict(shift=4), ParamValueError, r"shift applies only with requant = true"),
    (dict(requant=True, scale_bits=19), ParamValueError,
     r"scale_bits must be between 2 and 18, not 19"),
    (dict(requant=True, bias_bits=1), ParamValueError, r"bias_bits must be between 2 and 24, not 1"),
])
def test_param_errors(kwargs, error, message):
    with pytest.raises(error, match=rf"^{message}$"):
        LutTcParams(**kwargs)


def test_mult_params_errors_and_json_round_trip():
    with pytest.raises(ParamValueError, match=r"^n must be between 1 and 64, not 0$"):
        MultArrayParams(n=0)
    p = LutTcParams(m=3, g=3, weight_format="int4", bit_serial=False)
    assert params_from_json(p.to_json()) == p
