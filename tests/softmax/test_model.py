"""Softmax golden model (online, base 2 / natural): masking, framing rules, accuracy.

The RTL must match it bit for bit (tests/softmax/test_rtl.py, test_cocotb.py).
"""

import numpy as np
import pytest

from generators.softmax.model import softmax, softmax_reference
from generators.softmax.params import SoftmaxParams

NATURAL = SoftmaxParams(method="natural", lanes=4, max_len=64)


def random_rows(params, rng, rows, sigma):
    for _ in range(rows):
        length = int(rng.integers(1, params.max_len + 1))
        logits = rng.normal(0.0, sigma, length) * 2**params.in_frac
        yield np.clip(np.floor(logits + 0.5), params.in_format.min_code,
                      params.in_format.max_code).astype(np.int64)


@pytest.mark.parametrize("method", ["natural", "base2"])
def test_within_one_output_lsb(method):
    params = NATURAL if method == "natural" else SoftmaxParams(method="base2", max_len=64)
    rng = np.random.default_rng(5)
    worst = 0.0
    for sigma in (0.5, 2.0, 4.0):
        for x in random_rows(params, rng, 80, sigma):
            got = params.out_format.to_float(softmax(params, x))
            worst = max(worst, np.abs(got - softmax_reference(params, x)).max())
    assert worst <= params.out_format.lsb


def test_newton_step_sharpens_a_coarse_reciprocal():
    from generators.softmax.model import MANTISSA_BITS, newton_step

    frac = 16
    worst = {"table": 0.0, "newton": 0.0}
    for mantissa in range(0, 1 << MANTISSA_BITS, 997):
        m = 1 + mantissa / 2**MANTISSA_BITS
        coarse = round(2**frac / (1 + (mantissa >> (MANTISSA_BITS - 1)) / 2))   # 2 segments
        worst["table"] = max(worst["table"], abs(coarse / 2**frac - 1 / m))
        worst["newton"] = max(worst["newton"],
                              abs(newton_step(coarse, mantissa, frac) / 2**frac - 1 / m))
    assert worst["newton"] < worst["table"] ** 2 * 2 + 2**-frac * 2


def test_top1_agrees_when_float_margin_exceeds_one_lsb():
    rng = np.random.default_rng(6)
    for x in random_rows(NATURAL, rng, 200, 2.0):
        ideal = softmax_reference(NATURAL, x)
        top2 = np.sort(ideal)[-2:] if len(x) > 1 else None
        if top2 is not None and top2[1] - top2[0] > NATURAL.out_format.lsb:
            assert np.argmax(softmax(NATURAL, x)) == np.argmax(ideal)


def test_masked_elements_are_zero_and_do_not_count():
    x = np.array([40, -3, 17, 40, 5, -60, 0, 22], dtype=np.int64)
    mask = np.array([1, 0, 0, 1, 0, 0, 1, 0], dtype=bool)
    got = softmax(NATURAL, x, mask)
    assert (got[mask] == 0).all()
    # Removing the masked elements (keeping beat alignment out of it: one lane) changes nothing.
    one_lane = SoftmaxParams(method="natural", lanes=1, max_len=64)
    assert list(softmax(one_lane, x, mask)[~mask]) == list(softmax(one_lane, x[~mask]))


def test_all_masked_vector_gives_zeros():
    assert list(softmax(NATURAL, [1, 2, 3, 4], [True] * 4)) == [0, 0, 0, 0]


def test_equal_logits_share_evenly_and_extremes_saturate():
    fmt = NATURAL.in_format
    even = softmax(NATURAL, [fmt.max_code] * 8)
    assert len(set(even)) == 1 and even[0] == 32                   # 1/8 in u8.8
    lone = softmax(NATURAL, [fmt.max_code, fmt.min_code, fmt.min_code, fmt.min_code])
    assert list(lone) == [NATURAL.out_format.max_code, 0, 0, 0]    # 1.0 saturates to 255/256


def test_length_and_range_are_checked():
    with pytest.raises(ValueError, match=r"^vector length must be between 1 and 64, not 65$"):
        softmax(NATURAL, [0] * 65)
    with pytest.raises(ValueError, match=r"^logit codes must lie in \[-128, 127\] for s8.4$"):
        softmax(NATURAL, [128])


@pytest.mark.parametrize("method", ["natural", "base2", "ibert"])
def test_keep_low_is_no_element(method):
    """keep (tkeep) false: the position is no element whatever its code and mask, the output 0;
    a vector padded so is the vector alone; an element is keep & ~mask."""
    params = SoftmaxParams(method=method, lanes=4, max_len=16)
    rng = np.random.default_rng(11)
    for length in range(1, 17):
        n = -(-length // 4) * 4
        x = rng.integers(-128, 128, n)
        mask = rng.random(n) < 0.3
        keep = np.arange(n) < length
        y = softmax(params, x, mask, keep)
        assert list(y[length:]) == [0] * (n - length)
        assert list(y[:length]) == list(softmax(params, x[:length], mask[:length]))
        assert list(y) == list(softmax(params, x, mask | ~keep))
    keep = rng.random(16) < 0.5
    x = np.where(keep, rng.integers(-128, 128, 16), 1000)    # no element: any code at all
    assert list(softmax(params, x, None, keep)) == \
        list(softmax(params, np.where(keep, x, 0), ~keep))
    with pytest.raises(ValueError, match=r"keep must have the shape of x \(16,\), not \(4,\)"):
        softmax(params, x, None, [True] * 4)
