"""GeluParams validation: every field, every message, anchored; resolved defaults."""

import re

import pytest

from generators.catalog import params_from_json
from generators.gelu.params import DEFAULT_SEGMENTS, GeluParams
from generators.params import ParamTypeError, ParamValueError

NAN, INF = float("nan"), float("inf")

WRONG = [
    (dict(method="edgemoe"), ParamValueError,
     "method must be one of 'direct_table', 'edge_moe', 'fitted_pwl', 'i_gelu', not 'edgemoe'; "
     "did you mean 'edge_moe'?"),
    (dict(method=1), ParamTypeError, "method must be a string, not 1"),
    (dict(method="direct_table", in_width=17, in_frac=12), ParamValueError,
     "in_width must be at most 16 for method 'direct_table' (a table of 2**in_width entries), "
     "not 17"),
    (dict(method="direct_table", table_frac=10), ParamValueError,
     "table_frac applies only to method 'edge_moe' or 'fitted_pwl', not 'direct_table'"),
    (dict(lanes=0), ParamValueError, "lanes must be between 1 and 16, not 0"),
    (dict(lanes=2.0), ParamTypeError, "lanes must be an integer, not 2.0"),
    (dict(lanes=False), ParamTypeError, "lanes must be an integer, not False"),
    (dict(in_width=33), ParamValueError, "in_width must be between 8 and 32, not 33"),
    (dict(in_width="16"), ParamTypeError, "in_width must be an integer, not '16'"),
    (dict(in_frac=15), ParamValueError, "in_frac must be between 0 and 14, not 15"),
    (dict(in_frac=-1), ParamValueError, "in_frac must be between 0 and 14, not -1"),
    (dict(in_frac=NAN), ParamTypeError, "in_frac must be an integer, not nan"),
    (dict(out_width=7), ParamValueError, "out_width must be between 8 and 32, not 7"),
    (dict(out_width=8, out_frac=7), ParamValueError, "out_frac must be between 0 and 6, not 7"),
    (dict(out_frac=INF), ParamTypeError, "out_frac must be an integer, not inf"),
    (dict(rounding="nearest"), ParamValueError,
     "rounding must be one of 'floor', 'half_up', not 'nearest'"),
    (dict(rounding="halfup"), ParamValueError,
     "rounding must be one of 'floor', 'half_up', not 'halfup'; did you mean 'half_up'?"),
    (dict(method="i_gelu", table_frac=10), ParamValueError,
     "table_frac applies only to method 'edge_moe' or 'fitted_pwl', not 'i_gelu'"),
    (dict(table_frac=31), ParamValueError, "table_frac must be between 2 and 30, not 31"),
    (dict(table_frac=1.0), ParamTypeError, "table_frac must be an integer, not 1.0"),
    (dict(method="fitted_pwl", table_step_log2=3), ParamValueError,
     "table_step_log2 applies only to method 'edge_moe', not 'fitted_pwl'"),
    (dict(method="edge_moe", table_step_log2=13), ParamValueError,
     "table_step_log2 must be between 0 and 12, not 13"),
    (dict(method="fitted_pwl", table_entries=10), ParamValueError,
     "table_entries applies only to method 'edge_moe', not 'fitted_pwl'"),
    (dict(method="edge_moe", table_step_log2=5, table_entries=300), ParamValueError,
     "table_entries must be between 2 and 257, not 300"),
    (dict(method="edge_moe", table_entries=1), ParamValueError,
     "table_entries must be between 2 and 257, not 1"),
    (dict(method="edge_moe", in_width=32, in_frac=16, table_step_log2=8, table_entries=4097),
     ParamValueError, "table_entries must be between 2 and 4096, not 4097"),
    (dict(method="edge_moe", segments=((1, 2),)), ParamValueError,
     "segments applies only to method 'fitted_pwl', not 'edge_moe'"),
    (dict(segments=()), ParamTypeError,
     "segments must be a non-empty list of [end, step_log2] pairs, not ()"),
    (dict(segments="1, 4"), ParamTypeError,
     "segments must be a non-empty list of [end, step_log2] pairs, not '1, 4'"),
    (dict(segments=((1, 2, 3),)), ParamTypeError,
     "segments[0] must be an [end, step_log2] pair of numbers, not [1, 2, 3]"),
    (dict(segments=((1, 2), (True, 2))), ParamTypeError,
     "segments[1] must be an [end, step_log2] pair of numbers, not [True, 2]"),
    (dict(segments=((1, "2"),)), ParamTypeError,
     "segments[0] must be an [end, step_log2] pair of numbers, not [1, '2']"),
    (dict(segments=(1, 2)), ParamTypeError,
     "segments[0] must be an [end, step_log2] pair of numbers, not 1"),
    (dict(segments=((NAN, 4),)), ParamValueError,
     "segments[0] end must be a finite number, not nan"),
    (dict(segments=((1, 4), (INF, 4))), ParamValueError,
     "segments[1] end must be a finite number, not inf"),
    (dict(segments=((1, 2), (0.5, 2))), ParamValueError,
     "segments[1] end must be above 1 and at most the largest input magnitude 8, not 0.5"),
    (dict(segments=((1e300, 2),)), ParamValueError,
     "segments[0] end must be above 0 and at most the largest input magnitude 8, not 1e+300"),
    (dict(segments=((1, 13),)), ParamValueError,
     "segments[0] step_log2 must be between 0 and 12, not 13"),
    (dict(segments=((1, 2.0),)), ParamTypeError,
     "segments[0] step_log2 must be an integer, not 2.0"),
    (dict(segments=((0.3, 2),)), ParamValueError,
     "segments[0] [0, 0.3) is not a whole number of steps 2**-2"),
    (dict(segments=((8, 12),)), ParamValueError,
     "segments need 32769 table entries, more than the 4096 allowed"),
]


@pytest.mark.parametrize("values, error, message", WRONG, ids=[m[:60] for _, _, m in WRONG])
def test_wrong(values, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        GeluParams(**values)


def test_every_field_has_a_wrong_case():
    tried = {name for values, _, _ in WRONG for name in values}
    assert tried == set(GeluParams.field_names())


def test_resolved_defaults_per_method():
    fitted = GeluParams()
    assert (fitted.table_frac, fitted.segments) == (16, DEFAULT_SEGMENTS)
    assert fitted.table_step_log2 is None and fitted.table_entries is None
    # Up to 10 input bits the default is the direct table; above, the fitted table.
    assert GeluParams(in_width=8, in_frac=5).method == "direct_table"
    assert GeluParams(in_width=10, in_frac=5).method == "direct_table"
    assert GeluParams(in_width=11, in_frac=5).method == "fitted_pwl"
    direct = GeluParams(in_width=10, in_frac=7)
    assert (direct.table_frac, direct.segments, direct.table_entries) == (None, None, None)
    # An 8-bit input (largest magnitude 4 at 5 fraction bits): segments clipped to it.
    small = GeluParams(method="fitted_pwl", in_width=8, in_frac=5, out_width=8, out_frac=5)
    assert small.segments == ((1, 5), (2, 5), (4, 5)) and small.table_frac == 9
    edge = GeluParams(method="edge_moe", in_width=8, in_frac=4)
    assert (edge.table_step_log2, edge.table_entries, edge.segments) == (4, 129, None)
    ibert = GeluParams(method="i_gelu")
    assert (ibert.table_frac, ibert.segments) == (None, None)
    assert "table_frac" not in ibert.to_dict()


def test_params_round_trip_through_json():
    edge_moe = GeluParams(method="edge_moe", in_width=32, in_frac=22, out_width=32, out_frac=22,
                          rounding="floor", table_frac=22, table_step_log2=5, table_entries=177)
    fitted = GeluParams(method="fitted_pwl", in_width=32, in_frac=22, out_width=32, out_frac=22,
                        rounding="floor", table_frac=22)
    for params in (edge_moe, fitted, GeluParams(method="i_gelu", lanes=3),
                   GeluParams(in_width=9, in_frac=6, lanes=5)):
        assert params_from_json(params.to_json()) == params
