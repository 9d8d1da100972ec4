"""Drive the engine in Amaranth's simulator: layers of frames on the three input streams with
random gaps, random output backpressure, the stream rules monitored; returns outputs and
per-beat cycle counts.

Used by the tier-1 tests and by the throughput figures (``scripts/deform_figures.py``).
"""

import dataclasses
import random

import numpy as np

from .formats import LayerConfig, offset_beats, output_from_beats, pixel_beats, weight_beats
from .model import deform_layer

__all__ = ["Layer", "SimResult", "random_layer", "random_offsets", "simulate"]


@dataclasses.dataclass
class SimResult:
    """Outputs per layer (one array per complete frame), tlast of each frame's beats, the
    cycle of every output and input transfer (:class:`generators.simkit.StreamMonitor`), and
    the engine simulated (for its announced latency and initiation interval)."""

    outputs: list
    lasts: list
    out_cycles: list
    in_cycles: list
    engine: object


@dataclasses.dataclass
class Layer:
    """A configuration and the frames run with it: ``frames`` is a list of
    ``(x [H, W, C], offsets, mask or None)``."""

    cfg: LayerConfig
    weights: np.ndarray
    scale: np.ndarray
    bias: np.ndarray
    frames: list

    def expected(self, params):
        return [deform_layer(params, self.cfg, x, off, self.weights, self.scale, self.bias, mk)
                for x, off, mk in self.frames]


def random_offsets(params, cfg, rng, spread=None):
    """Offsets (and mask) for ``cfg``: dilations 0..d_max+2 (beyond the bound: clamped), or
    (dy, dx) codes over the bound and past it; ``(None, None)`` for the plain 3x3."""
    if not params.offsets:
        return None, None
    shape = (cfg.out_height, cfg.out_width)
    limit = params.offset_limit
    if params.offset_mode == "square":
        top = min(limit + 2, (1 << params.offset_bits) - 1)
        off = rng.integers(0, top + 1, shape)
    else:
        spread = spread or limit + 2 * (1 << (params.offset_frac or 0))
        lo = max(-spread, -(1 << (params.offset_bits - 1)))
        hi = min(spread, (1 << (params.offset_bits - 1)) - 1)
        off = rng.integers(lo, hi + 1, shape + (9, 2))
    mask = rng.integers(0, 1 << params.mask_bits, shape + (9,)) if params.mask else None
    return off, mask


def random_layer(params, rng, height, width, channels, stride=1, relu=False, frames=1,
                 scale=None, out_channels=None):
    """A random layer; in full mode ``out_channels`` defaults to ``co_max``."""
    full = params.mode == "full"
    if full and out_channels is None:
        out_channels = params.co_max
    cfg = LayerConfig(height, width, channels, stride, relu, frames,
                      out_channels).check(params)
    c_out = cfg.output_channels(params)
    wmax = 1 << (params.weight_bits - 1)
    weights = rng.integers(-wmax, wmax, (c_out, channels, 3, 3) if full else (channels, 3, 3))
    if scale is None:
        # Aim the requantised output at the INT8 range, some saturating: the sum of n random
        # terms spreads as sqrt(n).
        terms = 9 * (channels if full else 1)
        spread = 128 * wmax * np.sqrt(terms) * (1 << params.coef_frac)
        scale = max(1, int((1 << params.shift) * 200 / spread))
    smax = (1 << (params.scale_bits - 1)) - 1
    scales = np.clip(rng.integers(scale // 2, scale * 2 + 2, c_out), -smax - 1, smax)
    bmax = 1 << (params.bias_bits - 1)
    bias = rng.integers(max(-bmax, -40), min(bmax, 40), c_out)
    data = []
    for _ in range(frames):
        x = rng.integers(-128, 128, (height, width, channels))
        off, mask = random_offsets(params, cfg, rng)
        data.append((x, off, mask))
    return Layer(cfg, weights, scales, bias, data)


def simulate(params, layers, seed=1, gaps=0.0, backpressure=0.0, max_cycles=None):
    """Run ``layers`` through :class:`~.rtl.DeformConv` with every stream's rules monitored
    (:mod:`generators.simkit`); return a :class:`SimResult`."""
    from amaranth.sim import Simulator

    from ..simkit import (
        add_consumer,
        add_producer,
        from_bits,
        monitor_streams,
        random_pauses,
        to_bits,
    )
    from .rtl import DeformConv

    dut = DeformConv(params)
    names = ("w", "i", "off", "o") if params.offsets else ("w", "i", "o")
    fields = {name: getattr(dut, name).payload.shape().members for name in names}

    def framed(name, words):
        return [{"data": from_bits(fields[name]["data"], word), "last": int(n == len(words) - 1)}
                for n, word in enumerate(words)]

    w_beats, i_beats, off_beats, out_counts = [], [], [], []
    for layer in layers:
        w_beats += framed("w", weight_beats(params, layer.cfg, layer.weights, layer.scale,
                                            layer.bias))
        for x, off, mask in layer.frames:
            i_beats += framed("i", pixel_beats(params, x))
            out_counts.append(layer.cfg.out_beats(params))
            if not params.offsets:
                continue
            offsets = offset_beats(params, off, mask)
            payloads = framed("off", [word for word, _user in offsets])
            if "user" in fields["off"]:
                for payload, (_word, user) in zip(payloads, offsets):
                    payload["user"] = from_bits(fields["off"]["user"], user)
            off_beats += payloads
    total = sum(out_counts)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    monitors = monitor_streams(sim, dut)
    # One pause generator per stream, seeded from ``seed`` in this order.
    rng = random.Random(seed)
    for name, payloads in (("w", w_beats), ("i", i_beats), ("off", off_beats)):
        pause_seed = rng.random()       # drawn without offsets too: the same output pauses
        if name in fields:
            add_producer(sim, getattr(dut, name), payloads, pauses=random_pauses(gaps, pause_seed))
    received = add_consumer(sim, dut.o, total, pauses=random_pauses(backpressure, rng.random()))
    issues = sum(layer.cfg.issues(params) for layer in layers for _ in layer.frames)
    limit = max_cycles or (60 * (issues + len(i_beats)) + 2000)
    sim.run_until(1e-8 * limit)
    got = [(to_bits(fields["o"]["data"], beat["data"]), beat["last"]) for beat in received]
    outputs, at, n = [], 0, 0
    lasts = []
    for layer in layers:
        frames = []
        for _ in layer.frames:
            count = out_counts[n]
            chunk = got[at:at + count]
            lasts.append([last for _, last in chunk])
            if len(chunk) == count:
                frames.append(output_from_beats(params, layer.cfg, [w for w, _ in chunk]))
            at += count
            n += 1
        outputs.append(frames)
    return SimResult(outputs, lasts, monitors["o"].transfers, monitors["i"].transfers, dut)
