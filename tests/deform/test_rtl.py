"""Tier 1: the deformable-convolution engine in Amaranth's simulator, against the integer model,
with gaps on the three input streams and output backpressure; stream rules (monitored on every
stream by the simulation); latency."""

import gc

import numpy as np
import pytest

from generators.deform.params import DeformParams
from generators.deform.rtl import PIPELINE_STAGES, DeformConv
from generators.deform.sim import random_layer, simulate

SMALL = {
    "square": DeformParams(offset_mode="square", pe=2, c_max=4, h_max=6, w_max=5, d_max=2,
                           weight_bits=4),
    "rounded": DeformParams(offset_mode="rounded", pe=1, c_max=2, h_max=5, w_max=6, d_max=2),
    "bilinear": DeformParams(offset_mode="bilinear", pe=2, c_max=2, h_max=4, w_max=5, d_max=1,
                             offset_frac=2, mask=True, mask_bits=3),
    "full_square": DeformParams(mode="full", offset_mode="square", pe=2, c_max=4, po=2,
                                co_max=6, h_max=5, w_max=4, d_max=2, weight_bits=4),
    "full_rounded": DeformParams(mode="full", offset_mode="rounded", pe=1, c_max=3, po=4,
                                 co_max=4, h_max=4, w_max=5, d_max=1),
    "full_bilinear": DeformParams(mode="full", offset_mode="bilinear", pe=2, c_max=4, po=1,
                                  co_max=2, h_max=4, w_max=3, d_max=1, offset_frac=2,
                                  mask=True, mask_bits=3),
    # the plain 3x3 (no offsets, 3 rows), depthwise and full
    "plain": DeformParams(offset_mode="none", pe=2, c_max=4, h_max=6, w_max=5, weight_bits=4),
    "full_plain": DeformParams(mode="full", offset_mode="none", pe=1, c_max=2, po=2, co_max=4,
                               h_max=4, w_max=5),
}


SLOW = pytest.mark.slow
#: The plain engine's rate is also checked by its cocotb case (test_full_rate's budget).
SLOW_PLAIN = pytest.param("plain", marks=SLOW)


def check(params, layers, result):
    n = 0
    for layer, outs in zip(layers, result.outputs):
        expected = layer.expected(params)
        assert len(outs) == len(expected)
        for got, want in zip(outs, expected):
            np.testing.assert_array_equal(got, want)
            lasts = result.lasts[n]
            assert lasts[-1] and not any(lasts[:-1]), "tlast must mark only a frame's last beat"
            n += 1


@pytest.mark.parametrize("mode", SMALL)
def test_bit_exact_under_gaps_and_backpressure(mode):
    params = SMALL[mode]
    rng = np.random.default_rng(6)
    few = params.out_lanes if params.mode == "full" else None   # the fewest output channels
    layers = [random_layer(params, rng, params.h_max, params.w_max, params.c_max, frames=2),
              random_layer(params, rng, 1, 1, params.pe, stride=2, relu=True,
                           out_channels=few),
              random_layer(params, rng, 3, params.w_max, params.pe, stride=2)]
    check(params, layers, simulate(params, layers, seed=3, gaps=0.3, backpressure=0.4))


@pytest.mark.parametrize("mode", [m if m != "full_plain" else pytest.param(m, marks=SLOW)
                                  for m in SMALL])
def test_latency_is_as_announced(mode):
    """First output ``latency`` cycles after the input beat completing row d_max."""
    params = SMALL[mode]
    rng = np.random.default_rng(2)
    layer = random_layer(params, rng, params.h_max, params.w_max, params.c_max)
    result = simulate(params, [layer])
    check(params, [layer], result)
    groups = layer.cfg.groups(params)
    width = layer.cfg.width
    if params.offsets:
        completing = (params.d_max + 1) * width * groups - 1
    else:       # the plain 3x3: row 1 up to column 1
        completing = (width + 2) * groups - 1
    assert result.out_cycles[0] - result.in_cycles[completing] == result.engine.latency


@pytest.mark.parametrize("mode", ["square", "full_square", SLOW_PLAIN])
def test_full_rate_back_to_back_frames(mode):
    """Without gaps or backpressure, frames stream at one output beat per initiation interval
    (one issue a cycle) after priming."""
    params = SMALL[mode]
    rng = np.random.default_rng(4)
    layer = random_layer(params, rng, params.h_max, params.w_max, params.c_max, frames=3)
    result = simulate(params, [layer])
    check(params, [layer], result)
    gaps = np.diff(result.out_cycles)
    interval = result.engine.initiation_interval
    assert (gaps == interval).all(), f"output stalled: gaps {sorted(set(gaps.tolist()))}"


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_refuses_other_params():
    with pytest.raises(TypeError, match=r"^params must be a DeformParams, not 3$") as refused:
        DeformConv(3)
    # The half-built engine warns (unused) when collected: here, under the filter, not later.
    del refused
    gc.collect()


@pytest.mark.parametrize("mode", ["square", "full_square", SLOW_PLAIN])
def test_back_to_back_configurations_overlap_priming(mode):
    """Single-frame layers, one configuration each: the next layer's rows fill the line buffer
    while the current one computes, so the only gap between layers is the pipeline drain and the
    weight load, not the d_max + 1 rows of priming."""
    params = SMALL[mode]
    rng = np.random.default_rng(5)
    layers = [random_layer(params, rng, params.h_max, params.w_max, params.c_max)
              for _ in range(3)]
    result = simulate(params, layers)
    check(params, layers, result)
    interval = result.engine.initiation_interval
    gaps = np.diff(result.out_cycles)
    boundaries = np.cumsum([layer.cfg.out_beats(params) for layer in layers])[:-1] - 1
    assert (np.delete(gaps, boundaries) == interval).all()
    priming = (params.reach + 1) * params.w_max * layers[0].cfg.groups(params)
    weights = params.weight_beats_max
    assert (gaps[boundaries] <= interval + PIPELINE_STAGES + weights + 2).all(), \
        (gaps[boundaries], priming)
    assert PIPELINE_STAGES + weights + 2 < priming     # or the test could not tell


PLAIN_TRAFFIC = [(0.1, 0.8), pytest.param(0.7, 0.0, marks=pytest.mark.slow),
                 pytest.param(0.5, 0.5, marks=pytest.mark.slow)]


@pytest.mark.parametrize("gaps, backpressure", PLAIN_TRAFFIC)
def test_plain_writer_behind_the_taps(gaps, backpressure):
    """The plain 3x3 writes the row two below the centre into the slot its top tap row still
    reads, two columns behind the reads: heights 1, 2, 4 and widths 1, 2, 3, 5 (where the two
    columns meet the borders), random strides, one or two channel groups; a fast input against a
    slow output pushes the writer onto the reads."""
    params = DeformParams(offset_mode="none", pe=1, c_max=2, h_max=5, w_max=5, weight_bits=4)
    rng = np.random.default_rng(11)
    layers = [random_layer(params, rng, h, w, int(rng.integers(1, 3)),
                           stride=int(rng.integers(1, 3)), frames=int(rng.integers(1, 3)))
              for h in (1, 2, 4) for w in (1, 2, 3, 5)]
    check(params, layers, simulate(params, layers, seed=int(gaps * 10),
                                   gaps=gaps, backpressure=backpressure))


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_plain_has_no_offset_path():
    """No offset stream, no offset in the manifest's streams, a line buffer of 3 rows."""
    params = SMALL["plain"]
    engine = DeformConv(params)
    assert set(engine.signature.members) == {"w", "i", "o"}
    assert set(engine.block_spec.streams) == {"w", "i", "o"}
    assert "off" in DeformConv(SMALL["square"]).signature.members
    assert params.rows == 3
