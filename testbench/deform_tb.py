"""cocotb tests of an emitted deformable-convolution engine against its bit-exact integer model
(parameters in GEN_PARAMS).

Three input streams (weights + header, feature map, offsets; the plain 3x3, offset mode
``none``, has no offsets) and the output, driven by the manifest harness (testbench.harness)
from payload dicts (generators.deform.formats), each under its own random tvalid gaps or tready
backpressure. Layers cover the smallest and largest run-time
sizes, odd sizes, stride 2, ReLU, random offsets past the clamp, and directed offsets that put
taps outside the image on every border. Every output beat is checked bit for bit, in order, with
tlast on each frame's last beat, and nothing extra may come out.
"""

import json
import os
import random
import re

import cocotb
import numpy as np

from generators.catalog import Entry, params_from_json
from generators.deform.formats import (
    header_payload,
    offset_payloads,
    output_payloads,
    pixel_payloads,
    weight_payloads,
)
from generators.deform.model import deform_layer
from generators.deform.rtl import PIPELINE_STAGES
from generators.deform.sim import Layer, random_layer
from generators.emit import manifest
from testbench.axis import TRAFFIC_MATRIX
from testbench.harness import ManifestTB

PARAMS = params_from_json(os.environ["GEN_PARAMS"])
P = PARAMS
MANIFEST = manifest(Entry("deform", P), "0" * 64)
PERIOD_NS = 10
LAYERS = int(os.environ.get("DEFORM_LAYERS", "16"))


def w_beats(tb, layer):
    """The header (packed by the manifest's ``header`` layout) and the weight payloads."""
    header = tb.pack("s_axis_w", header_payload(P, layer.cfg), layout="header")
    return [header, *weight_payloads(P, layer.cfg, layer.weights, layer.scale, layer.bias)]


def expected_frames(layers):
    """``(layer, frame index, expected output payloads)`` per frame, from the model."""
    expected = []
    for layer in layers:
        for n, (x, off, mask) in enumerate(layer.frames):
            out = deform_layer(P, layer.cfg, x, off, layer.weights, layer.scale, layer.bias,
                               mask)
            if os.environ.get("DEFORM_TB_BREAK"):      # proves the scoreboard can fail
                out = out.copy()
                out.flat[-1] ^= 1
            expected.append((layer, n, output_payloads(P, out)))
    return expected


def where(expected, message):
    """The frame, pixel and output channel group of the output beat a harness error names."""
    found = re.search(r"m_axis beat (\d+)", message)
    if not found:
        return message
    index = int(found.group(1))
    for layer, n, want in expected:
        if index < len(want):
            pixel, og = divmod(index, layer.cfg.out_groups(P))
            oy, ox = divmod(pixel, layer.cfg.out_width)
            return (f"{layer.cfg} frame {n}: beat {index} (oy {oy}, ox {ox}, output channel "
                    f"group {og}): {message}")
        index -= len(want)
    return message


async def run(tb, layers, timeout_cycles=None):
    """Send ``layers``, check every output frame against the model, drain; return the cycles
    from the first beat offered to the last output beat."""
    expected = expected_frames(layers)
    beats = sum(len(e[2]) for e in expected)
    inputs = sum(layer.cfg.height * layer.cfg.width * layer.cfg.groups(P)
                 for layer in layers for _ in layer.frames)
    issues = sum(layer.cfg.issues(P) for layer in layers for _ in layer.frames)
    timeout_cycles = timeout_cycles or 30 * (issues + inputs) + 3000
    start = cocotb.utils.get_sim_time("ns")
    for layer in layers:
        tb.send("s_axis_w", w_beats(tb, layer))
        for x, off, mask in layer.frames:
            tb.send("s_axis", pixel_payloads(P, x))
            if P.offsets:
                tb.send("s_axis_off", offset_payloads(P, off, mask))
    for _layer, _n, want in expected:
        tb.expect("m_axis", want)
    try:
        await tb.wait(timeout_cycles)
    except AssertionError as error:
        raise AssertionError(f"{where(expected, str(error))} (traffic {tb.patterns})") from None
    cycles = round((cocotb.utils.get_sim_time("ns") - start) / PERIOD_NS)
    tb.dut._log.info("checked %d frames, %d output beats bit-exact in %d cycles (traffic %s)",
                     len(expected), beats, cycles, tb.patterns)
    await tb.drain(64)
    return cycles


def sizes():
    """(height, width, channels) corners: smallest, largest, odd, one row, one column."""
    return [(1, 1, P.pe), (P.h_max, P.w_max, P.c_max), (min(5, P.h_max), min(3, P.w_max), P.pe),
            (1, P.w_max, P.pe), (P.h_max, 1, P.c_max), (min(3, P.h_max), min(7, P.w_max),
                                                       min(2 * P.pe, P.c_max))]


def random_out_channels(rng):
    """Full mode: a random output channel count (a multiple of po); depthwise: None."""
    if P.mode != "full":
        return None
    return P.po * int(rng.integers(1, P.out_groups_max + 1))


def directed_offsets(layer, kind):
    """Offsets at the clamp bound and past it, pushing every tap off the image's borders (the
    plain 3x3's taps are fixed: its layer as it is)."""
    if not P.offsets:
        return layer
    cfg = layer.cfg
    shape = (cfg.out_height, cfg.out_width)
    limit = P.offset_limit
    frames = []
    for x, _off, mask in layer.frames:
        if P.offset_mode == "square":
            top = (1 << P.offset_bits) - 1
            off = np.full(shape, {"bound": limit, "past": min(limit + 1, top),
                                  "max": top, "zero": 0}[kind])
        else:
            lo, hi = -(1 << (P.offset_bits - 1)), (1 << (P.offset_bits - 1)) - 1
            value = {"bound": limit, "past": min(limit + 1, hi), "max": hi, "zero": 0}[kind]
            off = np.empty(shape + (9, 2), dtype=np.int64)
            off[..., 0::2, :] = value       # alternate directions between taps and axes
            off[..., 1::2, :] = max(-value, lo) if kind != "max" else lo
            off[..., :, 1] *= -1 if kind != "max" else 1
            off = np.clip(off, lo, hi)
        frames.append((x, off, mask))
    return Layer(cfg, layer.weights, layer.scale, layer.bias, frames)


async def make_tb(dut):
    tb = ManifestTB(dut, MANIFEST, period_ns=PERIOD_NS)
    await tb.reset()
    return tb


@cocotb.test()
async def test_random_layers_under_backpressure(dut):
    """Random sizes (corners included), strides, ReLU and offsets; gaps and backpressure."""
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await make_tb(dut)
    tb.set_traffic("random")
    layers = []
    for n, (h, w, c) in enumerate(sizes()):
        # Full mode: the fewest and the most output channels among the corners.
        few = (P.po if n % 2 else P.co_max) if P.mode == "full" else None
        layers.append(random_layer(P, rng, h, w, c, stride=1 + n % 2, relu=bool(n % 3 == 0),
                                   frames=1 + (n == 2), out_channels=few))
    for _ in range(LAYERS):
        h, w = int(rng.integers(1, P.h_max + 1)), int(rng.integers(1, P.w_max + 1))
        c = P.pe * int(rng.integers(1, P.groups_max + 1))
        layers.append(random_layer(P, rng, h, w, c, stride=int(rng.integers(1, 3)),
                                   relu=bool(rng.integers(2)), frames=int(rng.integers(1, 3)),
                                   out_channels=random_out_channels(rng)))
    await run(tb, layers)


@cocotb.test()
async def test_offsets_at_and_past_the_bound(dut):
    """Offsets at +-bound, just past it and at the code extremes (clamped), on both strides,
    through every traffic pattern: taps land outside the image on every border."""
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await make_tb(dut)
    kinds = ("bound", "past", "max", "zero")
    for n, (idle, backpressure) in enumerate(TRAFFIC_MATRIX):
        tb.set_traffic(idle, m_axis=backpressure)
        base = random_layer(P, rng, P.h_max, P.w_max, P.pe, stride=1 + n % 2, frames=1)
        await run(tb, [directed_offsets(base, kinds[n % len(kinds)])])


def regular(layer):
    """The same layer with the offsets of a regular 3x3 convolution (dilation 1, or zero
    (dy, dx)); the plain 3x3's layer as it is."""
    if not P.offsets:
        return layer
    frames = []
    for x, off, mask in layer.frames:
        plain = np.ones_like(off) if P.offset_mode == "square" else np.zeros_like(off)
        frames.append((x, plain, mask))
    return Layer(layer.cfg, layer.weights, layer.scale, layer.bias, frames)


@cocotb.test()
async def test_full_rate(dut):
    """Back-to-back layers at the largest size without gaps or backpressure: one issue a cycle
    (an output beat per initiation_interval cycles) once the line buffer is primed, the next
    layer's priming overlapped; then the same layers as regular 3x3 convolutions.

    With ``DEFORM_LAYER_SEED`` the layers' data come from that seed alone (layer n from
    ``default_rng([seed, n])``, the offsets drawn last), so engines of the same sizes (a
    deformable entry and its plain 3x3 twin) run the same feature maps and weights; with
    ``DEFORM_CYCLES_OUT`` the cycle counts go to that JSON file."""
    layer_seed = os.environ.get("DEFORM_LAYER_SEED")
    rng = np.random.default_rng(random.getrandbits(32))
    tb = await make_tb(dut)
    # DEFORM_CONFIGS single-frame layers by default (a network's layers); DEFORM_FRAMES frames
    # per configuration amortise the first priming further.
    frames = int(os.environ.get("DEFORM_FRAMES", "1"))
    configs = int(os.environ.get("DEFORM_CONFIGS", "3"))
    layers = [random_layer(P, np.random.default_rng([int(layer_seed), n]) if layer_seed else rng,
                           P.h_max, P.w_max, P.c_max, frames=frames) for n in range(configs)]
    cfg = layers[0].cfg
    beats = cfg.out_beats(P) * frames * configs
    issues = cfg.issues(P) * frames * configs
    priming = (min(P.reach, cfg.height - 1) + 1) * cfg.width * cfg.groups(P)
    weights = len(w_beats(tb, layers[0]))
    # Between configurations only the pipeline drains and the weights load.
    budget = issues + priming + configs * (weights + PIPELINE_STAGES + 2) + 40
    peak = issues * P.macs_per_issue / P.passes
    cycles, measured = {}, {}
    kinds = ((("deformable", layers), ("regular 3x3", [regular(la) for la in layers]))
             if P.offsets else (("plain 3x3", layers),))
    for kind, jobs in kinds:
        mark = tb.mark()
        cycles[kind] = await run(tb, jobs)
        transfers = tb.transfers["m_axis"][mark["m_axis"]:]   # the edge of every output beat
        start = tb.transfers["s_axis_w"][mark["s_axis_w"]]     # the first header's transfer
        per_layer = beats // configs
        ends = [transfers[(n + 1) * per_layer - 1] for n in range(configs)]
        measured[kind] = {
            "layers": configs, "frames_per_layer": frames, "output_beats": beats,
            "cycles": cycles[kind],
            # From the first header beat's transfer to the first layer's last output beat.
            "first_layer_cycles": ends[0] - start + 1,
            # Between the last output beats of consecutive layers (primed, back to back).
            "next_layer_cycles": [b - a for a, b in zip(ends, ends[1:])]}
        # From the first output to the last: the rate once the stream's first layer is primed.
        steady = transfers[-1] - transfers[0] + P.passes * cfg.issues(P) // cfg.out_beats(P)
        dut._log.info("full rate (%s): %d layers x %d frames, %d output beats in %d cycles "
                      "(budget %d): %.1f MACs/cycle = %.2f %% of peak; first to last output "
                      "%d cycles: %.2f %% of peak", kind, configs, frames, beats, cycles[kind],
                      budget, peak / cycles[kind], 100 * issues / cycles[kind], steady,
                      100 * issues / steady)
        assert cycles[kind] <= budget, f"{kind}: {beats} beats took {cycles[kind]} cycles, " \
                                       f"budget {budget}"
    if P.offsets:
        dut._log.info("full rate: deformable / regular 3x3 cycles = %.4f",
                      cycles["deformable"] / cycles["regular 3x3"])
    if os.environ.get("DEFORM_CYCLES_OUT"):
        with open(os.environ["DEFORM_CYCLES_OUT"], "w") as out:
            json.dump(measured, out, indent=1, sort_keys=True)
