"""SparseDspParams validation: every field, every message, anchored; derived widths."""

import re

import pytest

from generators.catalog import params_from_json
from generators.params import ParamTypeError, ParamValueError
from generators.sparse_dsp.params import SparseDspParams

WRONG = [
    # lanes
    (dict(lanes=1), ParamValueError, "lanes must be between 2 and 32, not 1"),
    (dict(lanes=64), ParamValueError, "lanes must be between 2 and 32, not 64"),
    (dict(lanes=12), ParamValueError, "lanes must be a power of two, not 12"),
    (dict(lanes=8.0), ParamTypeError, "lanes must be an integer, not 8.0"),
    (dict(lanes=True), ParamTypeError, "lanes must be an integer, not True"),
    # m
    (dict(m=3), ParamValueError, "m must be one of 2, 4, 8, 16, not 3"),
    (dict(m=5), ParamValueError, "m must be one of 2, 4, 8, 16, not 5; did you mean 4?"),
    (dict(m=32), ParamValueError, "m must be one of 2, 4, 8, 16, not 32; did you mean 16?"),
    (dict(m=4.0), ParamTypeError, "m must be an integer, not 4.0"),
    (dict(m=""), ParamTypeError, "m must be an integer, not ''"),
    (dict(m=True), ParamTypeError, "m must be an integer, not True"),
    # supported_n
    (dict(supported_n=()), ParamTypeError,
     "supported_n must be a non-empty list of integers, not ()"),
    (dict(supported_n=4), ParamTypeError,
     "supported_n must be a non-empty list of integers, not 4"),
    (dict(supported_n=(1, 2.0)), ParamTypeError,
     "supported_n must be a non-empty list of integers, not (1, 2.0)"),
    (dict(supported_n=(1, True)), ParamTypeError,
     "supported_n must be a non-empty list of integers, not (1, True)"),
    (dict(supported_n=(0, 1)), ParamValueError,
     "supported_n entries must be between 1 and 4, not 0"),
    (dict(supported_n=(1, 8)), ParamValueError,
     "supported_n entries must be between 1 and 4, not 8"),
    (dict(m=8, supported_n=(1, 3)), ParamValueError,
     "supported_n entries must divide m (8), not 3"),
    (dict(lanes=2, supported_n=(1, 2, 4)), ParamValueError,
     "supported_n entries must divide lanes (2), not 4"),
    (dict(supported_n=(2, 1)), ParamValueError,
     "supported_n must be strictly ascending, not (2, 1)"),
    (dict(supported_n=(2, 2)), ParamValueError,
     "supported_n must be strictly ascending, not (2, 2)"),
    # weight_bits
    (dict(weight_bits=5), ParamValueError,
     "weight_bits must be one of 2, 3, 4, 8, not 5; did you mean 4?"),
    (dict(weight_bits=6), ParamValueError, "weight_bits must be one of 2, 3, 4, 8, not 6"),
    (dict(weight_bits=8.0), ParamTypeError, "weight_bits must be an integer, not 8.0"),
    # act_bits
    (dict(act_bits=16), ParamValueError, "act_bits must be one of 8, not 16; did you mean 8?"),
    (dict(act_bits="8"), ParamTypeError, "act_bits must be an integer, not '8'"),
    # max_k
    (dict(max_k=2), ParamValueError, "max_k must be between 4 and 65536, not 2"),
    (dict(m=16, supported_n=(16,), max_k=8), ParamValueError,
     "max_k must be between 16 and 65536, not 8"),
    (dict(max_k=(1 << 16) + 4), ParamValueError, "max_k must be between 4 and 65536, not 65540"),
    (dict(max_k=10), ParamValueError, "max_k must be a multiple of m (4), not 10"),
    (dict(max_k=1 << 300), ParamValueError,
     "max_k must be between 4 and 65536, not <a 301-bit integer>"),
    (dict(max_k=256.5), ParamTypeError, "max_k must be an integer, not 256.5"),
    # packed, oau
    (dict(packed=1), ParamTypeError, "packed must be a bool, not 1"),
    (dict(packed="true"), ParamTypeError, "packed must be a bool, not 'true'"),
    (dict(oau=True), ParamValueError, "oau applies only with packed = true"),
    (dict(packed=True, oau=0), ParamTypeError, "oau must be a bool, not 0"),
    (dict(packed=True), ParamValueError,
     "max_k must be at most 4 with packed=True and oau=False (a row's products could overflow "
     "the 18-bit low lane), not 256; set oau=True to allow it"),
    (dict(packed=True, weight_bits=2, supported_n=(1,), max_k=2048), ParamValueError,
     "max_k must be at most 2044 with packed=True and oau=False (a row's products could "
     "overflow the 18-bit low lane), not 2048; set oau=True to allow it"),
    # sparse_mux
    (dict(sparse_mux="bram"), ParamValueError,
     "sparse_mux must be one of 'ram', 'fabric', not 'bram'; did you mean 'ram'?"),
    (dict(sparse_mux=["ram"]), ParamTypeError, "sparse_mux must be a string, not ['ram']"),
]


@pytest.mark.parametrize("values, error, message", WRONG, ids=[m for _, _, m in WRONG])
def test_wrong(values, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        SparseDspParams(**values)


def test_every_field_has_a_wrong_case():
    tried = {name for values, _, _ in WRONG for name in values}
    assert tried == set(SparseDspParams.field_names())


def test_defaults_and_derived():
    p = SparseDspParams()
    assert (p.lanes, p.m, p.supported_n, p.weight_bits, p.max_k) == (8, 4, (1, 2, 4), 8, 256)
    assert not p.dense_only and p.ram_mux and p.x_per_beat == 1
    assert (p.index_bits, p.n_code_bits, p.max_groups) == (2, 2, 8)
    # 256 / 4 blocks * 4 products of 2**14: 2**22 needs 23 magnitude bits plus the sign.
    assert p.max_product == 1 << 14 and p.max_row_terms == 256 and p.acc_bits == 24
    dense = SparseDspParams(supported_n=(4,))
    assert dense.dense_only and not dense.ram_mux and dense.index_bits == 0
    assert dense.x_per_beat == 4
    fabric = SparseDspParams(sparse_mux="fabric")
    assert not fabric.ram_mux and fabric.x_per_beat == 4


def test_packed_limits():
    # The largest max_k without the overflow adjust unit: 511 products of 2**8 fit 17 bits.
    p = SparseDspParams(packed=True, weight_bits=2, supported_n=(1,), max_k=2044)
    assert p.max_row_terms == 511 and p.max_row_terms * p.max_product <= (1 << 17) - 1
    # Sums of four INT8 products (2**16) fit the low lane, of eight (2**17) do not.
    assert SparseDspParams(packed=True, oau=True, max_k=1 << 16).oau_level == 2


def test_json_round_trip():
    from generators.catalog import params_from_json

    for p in (SparseDspParams(), SparseDspParams(lanes=16, m=16, supported_n=(2, 4, 8, 16),
                                                 max_k=1024, packed=True, oau=True)):
        assert params_from_json(p.to_json()) == p


def test_packed_limit_is_the_largest_exact_k():
    """The packed bound is tight: at the limit the worst row fits the 18-bit low lane."""
    p = SparseDspParams(packed=True, max_k=4)
    assert p.max_row_terms * p.max_product <= (1 << 17) - 1
    SparseDspParams(packed=True, oau=True, max_k=4096)        # the adjust unit lifts it


def test_derived_sizes():
    dense = SparseDspParams(lanes=16, m=16, supported_n=(16,), max_k=1024)
    assert dense.dense_only and not dense.ram_mux and dense.index_bits == 0
    assert dense.x_per_beat == 16 and dense.max_groups == 1
    sparse = SparseDspParams(lanes=8, m=4, supported_n=(1, 2, 4))
    assert sparse.ram_mux and sparse.x_per_beat == 1 and sparse.index_bits == 2
    assert sparse.max_groups == 8 and sparse.n_code_bits == 2
    assert SparseDspParams(sparse_mux="fabric").x_per_beat == 4
    assert sparse.max_product == 1 << 14


def test_params_round_trip_through_json():
    for params in (SparseDspParams(), SparseDspParams(lanes=16, m=16, supported_n=(2, 4, 8, 16),
                                                      max_k=1024, sparse_mux="fabric"),
                   SparseDspParams(packed=True, oau=True, weight_bits=4)):
        assert params_from_json(params.to_json()) == params
