"""Softmax parameters: one test per validation message."""

import pytest

from generators.params import ParamValueError
from generators.softmax.params import SoftmaxParams


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="softermax"), r"method must be one of 'base2', 'natural', 'ibert', not "
                               r"'softermax'"),
    (dict(lanes=3, max_len=64), r"max_len must be a multiple of lanes \(3\), not 64"),
    (dict(sum_frac=17), r"sum_frac must be between 0 and 16, not 17"),
    (dict(exp_segments_log2=9), r"exp_segments_log2 must be between 0 and 8, not 9"),
    (dict(out_width=16, out_frac=16, recip_frac=4), r"out_frac must be at most exp_frac \+ "
                                                    r"recip_frac - sum_frac \(4\), not 16"),
])
def test_bad_parameter(kwargs, message):
    with pytest.raises(ParamValueError, match=f"^{message}$"):
        SoftmaxParams(**kwargs)
