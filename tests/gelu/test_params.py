"""GELU parameters: one test per validation message, and the JSON round trip."""

import pytest

from generators.catalog import params_from_json
from generators.gelu.params import GeluParams
from generators.params import ParamTypeError, ParamValueError

# --- parameter validation: one test per message -------------------------------------------

BAD_PARAMS = [
    (dict(lanes=0), ParamValueError, r"lanes must be between 1 and 16, not 0"),
    (dict(lanes=2.0), ParamTypeError, r"lanes must be an integer, not 2.0"),
    (dict(in_width=33), ParamValueError, r"in_width must be between 8 and 32, not 33"),
    (dict(in_frac=15), ParamValueError, r"in_frac must be between 0 and 14, not 15"),
    (dict(out_width=7), ParamValueError, r"out_width must be between 8 and 32, not 7"),
    (dict(rounding="nearest"), ParamValueError,
     r"rounding must be one of 'floor', 'half_up', not 'nearest'"),
    (dict(method="i_gelu", table_frac=10), ParamValueError,
     r"table_frac applies only to method 'edge_moe' or 'fitted_pwl', not 'i_gelu'"),
    (dict(method="fitted_pwl", table_entries=10), ParamValueError,
     r"table_entries applies only to method 'edge_moe', not 'fitted_pwl'"),
    (dict(method="edge_moe", segments=((1, 2),)), ParamValueError,
     r"segments applies only to method 'fitted_pwl', not 'edge_moe'"),
    (dict(table_frac=31), ParamValueError, r"table_frac must be between 2 and 30, not 31"),
    (dict(method="edge_moe", table_step_log2=13), ParamValueError,
     r"table_step_log2 must be between 0 and 12, not 13"),
    (dict(method="edge_moe", table_step_log2=5, table_entries=300), ParamValueError,
     r"table_entries must be between 2 and 257, not 300"),
    (dict(segments=()), ParamTypeError,
     r"segments must be a non-empty list of \[end, step_log2\] pairs, not \(\)"),
    (dict(segments=((1, 2, 3),)), ParamTypeError,
     r"segments\[0\] must be an \[end, step_log2\] pair of numbers, not \[1, 2, 3\]"),
    (dict(segments=((1, 2), (0.5, 2))), ParamValueError,
     r"segments\[1\] end must be above 1 and at most the largest input magnitude 8, not 0.5"),
    (dict(segments=((1, 13),)), ParamValueError,
     r"segments\[0\] step_log2 must be between 0 and 12, not 13"),
    (dict(segments=((0.3, 2),)), ParamValueError,
     r"segments\[0\] \[0, 0.3\) is not a whole number of steps 2\*\*-2"),
    (dict(segments=((8, 12),)), ParamValueError,
     r"segments need 32769 table entries, more than the 4096 allowed"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD_PARAMS,
                         ids=[m[:40] for _, _, m in BAD_PARAMS])
def test_bad_parameter(kwargs, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        GeluParams(**kwargs)


def test_params_round_trip_through_json():
    edge_moe = GeluParams(method="edge_moe", in_width=32, in_frac=22, out_width=32, out_frac=22,
                          rounding="floor", table_frac=22, table_step_log2=5, table_entries=177)
    fitted = GeluParams(method="fitted_pwl", in_width=32, in_frac=22, out_width=32, out_frac=22,
                        rounding="floor", table_frac=22)
    for params in (edge_moe, fitted, GeluParams(method="i_gelu", lanes=3)):
        assert params_from_json(params.to_json()) == params
