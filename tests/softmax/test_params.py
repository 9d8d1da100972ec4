"""SoftmaxParams validation: every field, every message, anchored."""

import re

import pytest

from generators.params import ParamTypeError, ParamValueError
from generators.softmax.params import SoftmaxParams

WRONG = [
    (dict(method="softermax"), ParamValueError,
     "method must be one of 'base2', 'natural', 'ibert', not 'softermax'"),
    (dict(method="base_2"), ParamValueError,
     "method must be one of 'base2', 'natural', 'ibert', not 'base_2'; did you mean 'base2'?"),
    (dict(method=None), ParamTypeError, "method must be a string, not None"),
    (dict(lanes=0), ParamValueError, "lanes must be between 1 and 16, not 0"),
    (dict(lanes=4.0), ParamTypeError, "lanes must be an integer, not 4.0"),
    (dict(max_len=0), ParamValueError, "max_len must be between 1 and 65536, not 0"),
    (dict(max_len=1 << 17), ParamValueError, "max_len must be between 1 and 65536, not 131072"),
    (dict(lanes=3, max_len=64), ParamValueError, "max_len must be a multiple of lanes (3), not 64"),
    (dict(max_len=[256]), ParamTypeError, "max_len must be an integer, not [256]"),
    (dict(in_width=3), ParamValueError, "in_width must be between 4 and 32, not 3"),
    (dict(in_width=8, in_frac=7), ParamValueError, "in_frac must be between 0 and 6, not 7"),
    (dict(in_frac=True), ParamTypeError, "in_frac must be an integer, not True"),
    (dict(method="ibert", in_width=16, in_frac=13), ParamValueError,
     "in_frac must be at most 12 with method 'ibert' (its i-exp table has 0.69 * 2**in_frac "
     "entries), not 13"),
    (dict(out_width=33), ParamValueError, "out_width must be between 2 and 32, not 33"),
    (dict(out_frac=0), ParamValueError, "out_frac must be between 1 and 8, not 0"),
    (dict(out_frac=9), ParamValueError, "out_frac must be between 1 and 8, not 9"),
    (dict(out_width=16, out_frac=16, exp_frac=8, recip_frac=4), ParamValueError,
     "out_frac must be at most exp_frac + recip_frac (12), not 16"),
    (dict(exp_frac=25), ParamValueError, "exp_frac must be between 2 and 24, not 25"),
    (dict(exp_frac="16"), ParamTypeError, "exp_frac must be an integer, not '16'"),
    (dict(exp_segments_log2=9), ParamValueError,
     "exp_segments_log2 must be between 0 and 8, not 9"),
    (dict(sum_frac=25), ParamValueError, "sum_frac must be between 0 and 24, not 25"),
    (dict(exp_frac=8, sum_frac=17), ParamValueError, "sum_frac must be between 0 and 16, not 17"),
    (dict(recip_method="newton_raphson"), ParamValueError,
     "recip_method must be one of 'pwl', 'newton', not 'newton_raphson'; did you mean 'newton'?"),
    (dict(recip_method="newtn"), ParamValueError,
     "recip_method must be one of 'pwl', 'newton', not 'newtn'; did you mean 'newton'?"),
    (dict(recip_frac=1), ParamValueError, "recip_frac must be between 2 and 24, not 1"),
    (dict(recip_segments_log2=-1), ParamValueError,
     "recip_segments_log2 must be between 0 and 8, not -1"),
    (dict(recip_segments_log2=3.5), ParamTypeError,
     "recip_segments_log2 must be an integer, not 3.5"),
]


@pytest.mark.parametrize("values, error, message", WRONG, ids=[m[:60] for _, _, m in WRONG])
def test_wrong(values, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        SoftmaxParams(**values)


def test_every_field_has_a_wrong_case():
    tried = {name for values, _, _ in WRONG for name in values}
    assert tried == set(SoftmaxParams.field_names())


def test_formats():
    p = SoftmaxParams()
    assert (p.in_format.width, p.in_format.frac, p.out_format.signed) == (8, 4, False)
    assert SoftmaxParams(method="ibert", in_width=16, in_frac=12).in_frac == 12
