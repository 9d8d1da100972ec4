"""DeformParams validation: every message, anchored; derived widths; the run-time header check."""

import re

import pytest

from generators.deform.formats import LayerConfig
from generators.deform.params import DeformParams
from generators.params import ParamTypeError, ParamValueError


def test_defaults_and_derived():
    p = DeformParams()
    assert p.rows == 2 * p.d_max + 2
    assert p.passes == 1 and p.coef_frac == 0
    # 9 taps of 128 * 128 (INT8 x INT8): 147456 needs 18 magnitude bits plus the sign.
    assert p.acc_bound == 147456 and p.acc_bits == 19
    b = DeformParams(offset_mode="bilinear", mask=True)
    assert (b.offset_frac, b.mask_bits, b.passes, b.coef_frac) == (4, 8, 4, 15)
    assert (p.out_lanes, p.lane_taps, p.weight_beats_max, p.macs_per_issue) == (4, 9, 4, 36)


def test_plain_derived():
    """offset_mode 'none': the plain 3x3, 3 rows, taps one row and column from the centre."""
    p = DeformParams(offset_mode="none", pe=8, c_max=32)
    assert (p.offsets, p.reach, p.rows, p.d_max, p.offset_bits, p.offset_limit) == \
        (False, 1, 3, None, None, 0)
    assert (p.passes, p.coef_frac, p.shift, p.acc_bits) == (1, 0, 16, 19)
    assert DeformParams(offset_mode="none", rows=5).rows == 5
    full = DeformParams(mode="full", offset_mode="none")
    assert (full.rows, full.macs_per_issue) == (3, 72)


def test_full_mode_derived():
    f = DeformParams(mode="full", pe=4, c_max=16)
    assert (f.po, f.co_max, f.out_lanes, f.lane_taps) == (2, 16, 2, 36)
    assert (f.groups_max, f.out_groups_max, f.weight_beats_max) == (4, 8, 32)
    # 9 taps of 16 input channels of 128 * 128: 2359296 needs 22 magnitude bits plus the sign.
    assert f.acc_bound == 2359296 and f.acc_bits == 23
    assert f.macs_per_issue == 72 and f.beat_bits == 2 * (36 * 8 + 32)


WRONG = [
    (dict(mode="dense"), ParamValueError, "mode must be one of 'depthwise', 'full', not 'dense'"),
    (dict(po=2), ParamValueError, "po applies only to mode 'full', not 'depthwise'"),
    (dict(co_max=8), ParamValueError, "co_max applies only to mode 'full', not 'depthwise'"),
    (dict(mode="full", po=3), ParamValueError, "po must be a power of two, not 3"),
    (dict(mode="full", po=32), ParamValueError, "po must be between 1 and 16, not 32"),
    (dict(mode="full", po=4, co_max=2), ParamValueError,
     "co_max must be between 4 and 1024, not 2"),
    (dict(mode="full", po=4, co_max=10), ParamValueError,
     "co_max must be a multiple of po (4), not 10"),
    (dict(mode="full", pe=1, c_max=1, po=1, co_max=1, weight_bits=4, scale_bits=8, bias_bits=8),
     ParamValueError, "a weight beat of po * (9 * weight_bits + scale_bits + bias_bits) = "
     "52 bits cannot hold the 82-bit header: raise po, scale_bits or bias_bits"),
    (dict(offset_mode="sqare"), ParamValueError,
     "offset_mode must be one of 'square', 'rounded', 'bilinear', 'none', not 'sqare'; "
     "did you mean 'square'?"),
    (dict(pe=17), ParamValueError, "pe must be between 1 and 16, not 17"),
    (dict(pe=3, c_max=6), ParamValueError, "pe must be a power of two, not 3"),
    (dict(pe=4, c_max=2), ParamValueError, "c_max must be between 4 and 1024, not 2"),
    (dict(pe=4, c_max=18), ParamValueError, "c_max must be a multiple of pe (4), not 18"),
    (dict(h_max=0), ParamValueError, "h_max must be between 1 and 4096, not 0"),
    (dict(w_max=1.5), ParamTypeError, "w_max must be an integer, not 1.5"),
    (dict(d_max=32), ParamValueError, "d_max must be between 1 and 31, not 32"),
    (dict(d_max=7, rows=15), ParamValueError,
     "rows must be at least 2 * d_max + 2 = 16 for d_max 7, not 15: taps reach d_max rows "
     "above and below the centre and one more row is written meanwhile (CoDeNet's 15 rows "
     "corrupt taps at d = 7)"),
    (dict(rows=300), ParamValueError, "rows must be between 2 and 256, not 300"),
    # the plain 3x3: no offsets, so no reach or offset width, and at least 3 rows
    (dict(offset_mode="none", rows=2), ParamValueError,
     "rows must be at least 3 without offsets (offset_mode 'none'), not 2: the taps read 3 rows "
     "and the row being written is the third"),
    (dict(offset_mode="none", d_max=1), ParamValueError,
     "d_max applies only to offset_mode 'square' or 'rounded' or 'bilinear', not 'none'"),
    (dict(offset_mode="none", offset_bits=8), ParamValueError,
     "offset_bits applies only to offset_mode 'square' or 'rounded' or 'bilinear', not 'none'"),
    (dict(offset_mode="none", mask=True), ParamValueError,
     "mask applies only to offset_mode 'bilinear', not 'none'"),
    (dict(weight_bits=6), ParamValueError, "weight_bits must be one of 4, 8, not 6"),
    (dict(offset_bits=1), ParamValueError, "offset_bits must be between 2 and 16, not 1"),
    (dict(offset_frac=3), ParamValueError,
     "offset_frac applies only to offset_mode 'bilinear', not 'square'"),
    (dict(offset_mode="bilinear", offset_frac=9, offset_bits=12), ParamValueError,
     "offset_frac must be between 1 and 8, not 9"),
    (dict(offset_mode="bilinear", offset_frac=5, offset_bits=5), ParamValueError,
     "offset_frac must be between 1 and 4, not 5"),
    (dict(mask=1), ParamTypeError, "mask must be a bool, not 1"),
    (dict(mask=True), ParamValueError, "mask applies only to offset_mode 'bilinear', not 'square'"),
    (dict(mask_bits=8), ParamValueError, "mask_bits applies only with mask = true"),
    (dict(offset_mode="bilinear", mask=True, mask_bits=10), ParamValueError,
     "mask_bits must be between 2 and 9, not 10"),
    (dict(scale_bits=19), ParamValueError, "scale_bits must be between 2 and 18, not 19"),
    (dict(bias_bits=1), ParamValueError, "bias_bits must be between 2 and 24, not 1"),
    (dict(shift=49), ParamValueError, "shift must be between 0 and 48, not 49"),
    (dict(pe=1, c_max=1, weight_bits=4, scale_bits=8, bias_bits=8), ParamValueError,
     "a weight beat of pe * (9 * weight_bits + scale_bits + bias_bits) = 52 bits cannot "
     "hold the 66-bit header: raise pe, scale_bits or bias_bits"),
    # kinds: floats, bools and strings are not integers; a flag is a bool
    (dict(mode=1), ParamTypeError, "mode must be a string, not 1"),
    (dict(pe=True), ParamTypeError, "pe must be an integer, not True"),
    (dict(d_max=4.0), ParamTypeError, "d_max must be an integer, not 4.0"),
    (dict(weight_bits=8.0), ParamTypeError, "weight_bits must be an integer, not 8.0"),
    (dict(weight_bits=7), ParamValueError,
     "weight_bits must be one of 4, 8, not 7; did you mean 8?"),
    (dict(rows="10"), ParamTypeError, "rows must be an integer, not '10'"),
    (dict(mode="full", co_max=[16]), ParamTypeError, "co_max must be an integer, not [16]"),
    (dict(offset_mode="rounded", offset_frac=4), ParamValueError,
     "offset_frac applies only to offset_mode 'bilinear', not 'rounded'"),
    (dict(mask="true"), ParamTypeError, "mask must be a bool, not 'true'"),
    (dict(mask_bits=8.0), ParamTypeError, "mask_bits must be an integer, not 8.0"),
]


@pytest.mark.parametrize("values, error, message", WRONG, ids=[m[:60] for _, _, m in WRONG])
def test_wrong(values, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        DeformParams(**values)


def test_every_field_has_a_wrong_case():
    tried = {name for values, _, _ in WRONG for name in values}
    assert tried == set(DeformParams.field_names())


def test_json_round_trip():
    from generators.catalog import params_from_json

    p = DeformParams(offset_mode="bilinear", mask=True, pe=2, c_max=8)
    assert params_from_json(p.to_json()) == p


@pytest.mark.parametrize("kwargs, message", [
    (dict(height=0, width=4, channels=4), r"height must be between 1 and 32, not 0"),
    (dict(height=4, width=33, channels=4), r"width must be between 1 and 32, not 33"),
    (dict(height=4, width=4, channels=6), r"channels must be a multiple of pe \(4\), not 6"),
    (dict(height=4, width=4, channels=20), r"channels must be between 4 and 16, not 20"),
    (dict(height=4, width=4, channels=4, stride=3), r"stride must be one of 1, 2, not 3"),
    (dict(height=4, width=4, channels=4, frames=1 << 16),
     r"frames must be between 0 and 65535, not 65536"),
])
def test_layer_config_messages(kwargs, message):
    with pytest.raises(ParamValueError, match=f"^{message}$"):
        LayerConfig(**kwargs).check(DeformParams())


@pytest.mark.parametrize("kwargs, message", [
    (dict(height=4, width=4, channels=4), r"out_channels is required in mode 'full'"),
    (dict(height=4, width=4, channels=4, out_channels=3),
     r"out_channels must be a multiple of po \(2\), not 3"),
    (dict(height=4, width=4, channels=4, out_channels=18),
     r"out_channels must be between 2 and 16, not 18"),
])
def test_layer_config_messages_full_mode(kwargs, message):
    with pytest.raises(ParamValueError, match=f"^{message}$"):
        LayerConfig(**kwargs).check(DeformParams(mode="full"))


def test_depthwise_refuses_out_channels():
    with pytest.raises(ParamValueError, match=r"^out_channels applies only to mode 'full' "
                       r"\(depthwise outputs have the input's channels\), not 8$"):
        LayerConfig(4, 4, 4, out_channels=8).check(DeformParams())
