"""GELU models: Edge-MoE bit-exactness and the accuracy figures."""

import math

import numpy as np
import pytest

from generators.fixedpoint import Fixed
from generators.gelu.model import delta_reference, direct_table, gelu, gelu_reference, table
from generators.gelu.params import GeluParams
from scripts.gelu_figures import gelu_accuracy

EDGE_MOE = GeluParams(method="edge_moe", in_width=32, in_frac=22, out_width=32, out_frac=22,
                      rounding="floor", table_frac=22, table_step_log2=5, table_entries=177)
FITTED = GeluParams(method="fitted_pwl", in_width=32, in_frac=22, out_width=32, out_frac=22,
                    rounding="floor", table_frac=22)


def edge_moe_as_published(x):
    """Edge-MoE's gelu.cpp datapath, written out literally from seeds.md §3.2 (scalar)."""
    rom = [math.floor(2**22 * k / 32 * 0.5 * math.erfc(k / 32 / math.sqrt(2)) + 0.5)
           for k in range(177)]
    relu = max(x, 0)
    u = abs(x)
    if u >= 176 << 17:
        return relu
    i, t = u >> 17, u & ((1 << 17) - 1)
    a, b = rom[i], rom[i + 1]
    return relu - ((a * (1 << 17) + t * (b - a)) >> 17)


def test_edge_moe_table_is_delta_rounded():
    expected = [math.floor(2**22 * delta_reference(k / 32) + 0.5) for k in range(177)]
    assert list(table(EDGE_MOE)) == expected
    assert table(EDGE_MOE)[-1] == 0


def test_edge_moe_model_reproduces_published_datapath():
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.integers(-(1 << 31), 1 << 31, 20000),
                        rng.integers(-(6 << 22), 6 << 22, 20000),
                        [-(1 << 31), (1 << 31) - 1, 0, 176 << 17, (176 << 17) - 1,
                         -(176 << 17), 1 - (176 << 17), 1, -1]])
    got = gelu(EDGE_MOE, x)
    assert [int(v) for v in got] == [edge_moe_as_published(int(v)) for v in x]


def test_edge_moe_error_matches_published_figure():
    acc = gelu_accuracy(EDGE_MOE)
    assert 9.6e-5 < acc["max_abs_error"] < 9.9e-5       # seeds.md: 9.8e-5
    assert 7.5e-6 < acc["mean_abs_error"] < 7.9e-6      # seeds.md: 7.7e-6


def test_fitted_beats_edge_moe_with_no_more_table_bits():
    ours, theirs = gelu_accuracy(FITTED), gelu_accuracy(EDGE_MOE)
    assert ours["max_abs_error"] <= theirs["max_abs_error"] / 2
    assert ours["table_bits"] <= theirs["table_bits"]


def test_igelu_error_matches_ibert():
    params = GeluParams(method="i_gelu", in_width=32, in_frac=22, out_width=32, out_frac=22)
    assert 0.017 < gelu_accuracy(params)["max_abs_error"] < 0.019     # seeds.md: 0.0182


def test_igelu_integer_constants_follow_ibert():
    """At I-BERT's own operating point the integer path equals the float formula closely."""
    params = GeluParams(method="i_gelu", in_width=16, in_frac=10, out_width=16, out_frac=10)
    x = params.in_format.codes()[::7]
    xf = params.in_format.to_float(x)
    u = np.minimum(np.abs(xf / 1.4142), 1.769)
    erf = np.sign(xf) * (-0.2888 * (u - 1.769) ** 2 + 1)
    float_form = xf * 0.5 * (1 + erf)
    got = params.out_format.to_float(gelu(params, x))
    assert np.max(np.abs(got - float_form)) < 4 * params.out_format.lsb


@pytest.mark.parametrize("width, frac, out_width, out_frac, rounding", [
    (8, 5, 8, 5, "half_up"), (10, 7, 10, 7, "half_up"), (12, 8, 12, 8, "floor"),
    (9, 3, 8, 6, "half_up"),        # outputs past the output range saturate
])
def test_direct_table_is_correctly_rounded(width, frac, out_width, out_frac, rounding):
    """Every input code: the output is exact GELU rounded (nearest, or floor), saturated; each
    code checked on its own with math.erf, not through the model's vectorised table."""
    params = GeluParams(method="direct_table", in_width=width, in_frac=frac,
                        out_width=out_width, out_frac=out_frac, rounding=rounding)
    fmt, out = params.in_format, params.out_format
    x = fmt.codes()
    got = gelu(params, x)
    for code, y in zip(x.tolist(), got.tolist()):
        real = code / 2**frac
        exact = 0.5 * real * (1 + math.erf(real / math.sqrt(2))) * 2**out_frac
        want = math.floor(exact + 0.5) if rounding == "half_up" else math.floor(exact)
        assert y == min(max(want, out.min_code), out.max_code), (code, y, exact)
    assert len(direct_table(params)) == 2**width
    if (width, out_width) == (8, 8):
        err = np.abs(out.to_float(got) - gelu_reference(fmt.to_float(x)))
        assert err.max() <= 0.5 * out.lsb      # the rounding floor, 0.497 LSB at s8.5


@pytest.mark.parametrize("fmt", [Fixed(8, 5), Fixed(16, 12)])
def test_outputs_stay_in_format_and_near_gelu(fmt):
    for method in ("edge_moe", "fitted_pwl"):
        params = GeluParams(method=method, in_width=fmt.width, in_frac=fmt.frac,
                            out_width=fmt.width, out_frac=fmt.frac)
        x = fmt.codes()
        y = gelu(params, x)
        assert y.min() >= fmt.min_code and y.max() <= fmt.max_code
        err = np.abs(fmt.to_float(y) - gelu_reference(fmt.to_float(x)))
        assert err.max() < 1.0 * fmt.lsb


def test_saturation_when_output_has_fewer_integer_bits():
    params = GeluParams(method="edge_moe", in_width=16, in_frac=8, out_width=8, out_frac=4,
                        table_step_log2=4, table_entries=97)
    assert gelu(params, [32767])[0] == 127           # 128 saturates to 7.9375
    assert gelu(params, [-32768])[0] == 0            # GELU(-128) = -0 rounds to 0


def test_model_rejects_codes_outside_format():
    for method in ("direct_table", "fitted_pwl"):
        with pytest.raises(ValueError,
                           match=r"^input codes must lie in \[-128, 127\] for s8.5$"):
            gelu(GeluParams(method=method, in_width=8, in_frac=5, out_width=8, out_frac=5),
                 [128])
