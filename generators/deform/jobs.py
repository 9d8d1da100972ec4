"""One seeded layer of the deformable convolution engine as stream beats, for the board
self-test and the UART bridge (model calls only; no Amaranth)."""

from .formats import header_word, offset_payloads, output_payloads, pixel_payloads, \
    weight_payloads
from .model import deform_layer
from .sim import random_layer

__all__ = ["job"]


def job(params, rng, size=None):
    """``(inputs, outputs)``: ``{member: [payload dicts]}``, inputs in the order they start
    (the header and weights on ``w`` before the frame on ``i`` and its offsets on ``off``).
    The header beat's ``data`` is the header word (the manifest's ``header`` layout); the
    plain 3x3 (offset mode ``none``) has no ``off``."""
    small = size is not None and size < 0.5
    height = int(rng.integers(1, min(3 if small else 5, params.h_max) + 1))
    width = int(rng.integers(1, min(3 if small else 5, params.w_max) + 1))
    groups = params.c_max // params.pe
    channels = params.pe * int(rng.integers(1, min(2, groups) + 1))
    layer = random_layer(params, rng, height, width, channels)
    x, off, mask = layer.frames[0]
    out = deform_layer(params, layer.cfg, x, off, layer.weights, layer.scale, layer.bias, mask)
    w_beats = [{"data": header_word(params, layer.cfg), "last": 0},
               *weight_payloads(params, layer.cfg, layer.weights, layer.scale, layer.bias)]
    inputs = {"w": w_beats, "i": pixel_payloads(params, x)}
    if params.offsets:
        inputs["off"] = offset_payloads(params, off, mask)
    return inputs, {"o": output_payloads(params, out)}
