"""Stream formats of the deformable-convolution engine: field lists, the run-time header, and
packing of NumPy arrays into beats (lane 0 in the low bits), shared by RTL, tests and users.

Streams (AXI4-Stream names of the emitted top):

* ``s_axis_w`` (member ``w``): one frame per layer configuration. Beat 0 is the header
  (:func:`header_fields`, low bits first). Depthwise, ``channels / pe`` beats follow, each
  ``pe`` lanes of :func:`weight_lane_fields` (nine weights, tap ``k = 3i + j`` row-major, then
  scale, bias). Full mode, ``out_channels / po`` output groups of ``channels / pe`` beats each
  (output group outer), each ``po`` lanes: output channel ``o``'s weights for the beat's ``pe``
  input channels (input channel outer, tap inner), then ``o``'s scale and bias (repeated in
  every beat of the group).
* ``s_axis`` (member ``i``): the feature map, NHWC raster order, ``pe`` channels per beat.
* ``s_axis_off`` (member ``off``): one beat per output pixel, raster order: the dilation
  (square), or (dy, dx) per tap (rounded, bilinear: lane 2k is dy, 2k+1 dx); the bilinear
  modulation mask, one unsigned code per tap, is ``tuser``. The plain 3x3 (offset mode
  ``none``) has no such stream.
* ``m_axis`` (member ``o``): the output, NHWC raster order, ``pe`` (full mode: ``po``) channels
  per beat, ``tlast`` on a frame's last beat.

The ``*_payloads`` functions give the same beats as payload dicts named after the emitted
manifest's field tables (``{"data": [lane values], "last": 0 or 1}``, a ``[]`` field a list
over lanes), for testbenches that pack from the manifest (:mod:`testbench.harness`); a frame's
last beat has ``last`` 1, as the int beats' frames end.

Nothing here imports Amaranth.
"""

import dataclasses

import numpy as np

from ..params import ParamValueError, check_int
from .params import ACT_BITS, DeformParams

__all__ = ["HEADER_FIELDS", "header_fields", "LayerConfig", "weight_lane_fields", "offset_lanes",
           "header_word", "weight_beats", "pixel_beats", "offset_beats", "output_beats",
           "output_from_beats", "out_size", "header_payload", "weight_payloads", "pixel_payloads",
           "offset_payloads", "output_payloads"]

#: (name, bits) of the depthwise header, from bit 0 up.
HEADER_FIELDS = (("height", 16), ("width", 16), ("channels", 16), ("frames", 16),
                 ("stride2", 1), ("relu", 1))


def header_fields(params: DeformParams):
    """(name, bits) of the header, from bit 0 up: full mode adds the output channel count."""
    if params.mode == "full":
        return HEADER_FIELDS + (("out_channels", 16),)
    return HEADER_FIELDS


def out_size(n, stride):
    """Output rows or columns of a 3x3 window, padding 1: ``(n + 2 - 3) // stride + 1``."""
    return (n - 1) // stride + 1


@dataclasses.dataclass(frozen=True)
class LayerConfig:
    """What the header chooses at run time for the next ``frames`` feature maps.

    ``channels`` counts input channels; ``out_channels`` is the full mode's output channel
    count (depthwise: leave it ``None``, the output has ``channels``)."""

    height: int
    width: int
    channels: int
    stride: int = 1
    relu: bool = False
    frames: int = 1
    out_channels: int = None

    def check(self, params: DeformParams):
        """Refuse a configuration the engine ``params`` cannot run (the hardware cannot say)."""
        check_int("height", self.height, 1, params.h_max)
        check_int("width", self.width, 1, params.w_max)
        check_int("channels", self.channels, params.pe, params.c_max)
        if self.channels % params.pe:
            raise ParamValueError(f"channels must be a multiple of pe ({params.pe}), "
                                  f"not {self.channels!r}")
        if self.stride not in (1, 2):
            raise ParamValueError(f"stride must be one of 1, 2, not {self.stride!r}")
        check_int("frames", self.frames, 0, (1 << 16) - 1)
        if params.mode == "full":
            if self.out_channels is None:
                raise ParamValueError("out_channels is required in mode 'full'")
            check_int("out_channels", self.out_channels, params.po, params.co_max)
            if self.out_channels % params.po:
                raise ParamValueError(f"out_channels must be a multiple of po ({params.po}), "
                                      f"not {self.out_channels!r}")
        elif self.out_channels is not None:
            raise ParamValueError(f"out_channels applies only to mode 'full' (depthwise outputs "
                                  f"have the input's channels), not {self.out_channels!r}")
        return self

    @property
    def out_height(self):
        return out_size(self.height, self.stride)

    @property
    def out_width(self):
        return out_size(self.width, self.stride)

    def groups(self, params):
        """Input beats per pixel."""
        return self.channels // params.pe

    def output_channels(self, params):
        return self.out_channels if params.mode == "full" else self.channels

    def out_groups(self, params):
        """Output beats per pixel."""
        return self.output_channels(params) // params.out_lanes

    def out_beats(self, params):
        """Output beats of one frame."""
        return self.out_height * self.out_width * self.out_groups(params)

    def issues(self, params):
        """Cycles the engine issues for one frame at full rate: each output beat takes
        ``passes`` (full mode: times the input groups)."""
        per_beat = params.passes * (self.groups(params) if params.mode == "full" else 1)
        return self.out_beats(params) * per_beat


def weight_lane_fields(params: DeformParams):
    """(name, bits, signed) of one output channel's lane in a weight beat, from bit 0 up: the
    taps ``w{k}`` (full mode ``w{c}_{k}`` for the beat's input channel ``c``), scale, bias."""
    if params.mode == "full":
        taps = [f"w{c}_{k}" for c in range(params.pe) for k in range(9)]
    else:
        taps = [f"w{k}" for k in range(9)]
    return ([(name, params.weight_bits, True) for name in taps]
            + [("scale", params.scale_bits, True), ("bias", params.bias_bits, True)])


def offset_lanes(params: DeformParams):
    """(lanes, bits, signed) of the offset beat's data; None for the plain 3x3 (no stream)."""
    if not params.offsets:
        return None
    if params.offset_mode == "square":
        return 1, params.offset_bits, False
    return 18, params.offset_bits, True


def _pack(values, bits):
    word = 0
    for k, v in enumerate(values):
        word |= (int(v) & ((1 << bits) - 1)) << (k * bits)
    return word


def _unpack(word, bits, count, signed=True):
    out = []
    for k in range(count):
        v = (word >> (k * bits)) & ((1 << bits) - 1)
        out.append(v - (1 << bits) if signed and v >> (bits - 1) else v)
    return out


def header_word(params: DeformParams, cfg: LayerConfig):
    values = {"height": cfg.height, "width": cfg.width, "channels": cfg.channels,
              "frames": cfg.frames, "stride2": int(cfg.stride == 2), "relu": int(cfg.relu),
              "out_channels": cfg.out_channels}
    word, at = 0, 0
    for name, bits in header_fields(params):
        word |= values[name] << at
        at += bits
    return word


def _weight_lanes(params, cfg, weights, scale, bias):
    """Per weight beat (after the header), per lane, the values of
    :func:`weight_lane_fields`."""
    cfg.check(params)
    lanes = params.out_lanes
    if params.mode == "full":
        weights = np.asarray(weights).reshape(cfg.out_channels, cfg.channels * 9)
        blocks = [(og, cg) for og in range(cfg.out_groups(params))
                  for cg in range(cfg.groups(params))]
    else:
        weights = np.asarray(weights).reshape(cfg.channels, 9)
        blocks = [(g, 0) for g in range(cfg.groups(params))]
    taps = params.lane_taps
    return [[[int(v) for v in (*weights[og * lanes + lane, cg * taps:(cg + 1) * taps],
                               scale[og * lanes + lane], bias[og * lanes + lane])]
             for lane in range(lanes)] for og, cg in blocks]


def _framed(payloads):
    """``payloads`` with ``last`` set: 1 on the final beat, else 0."""
    return [{**p, "last": int(n == len(payloads) - 1)} for n, p in enumerate(payloads)]


def header_payload(params: DeformParams, cfg: LayerConfig):
    """The header beat as a dict of :func:`header_fields` (the manifest's ``header`` layout)."""
    cfg.check(params)
    values = {"height": cfg.height, "width": cfg.width, "channels": cfg.channels,
              "frames": cfg.frames, "stride2": int(cfg.stride == 2), "relu": int(cfg.relu),
              "out_channels": cfg.out_channels}
    return {name: int(values[name]) for name, _bits in header_fields(params)}


def weight_payloads(params, cfg, weights, scale, bias):
    """The weight beats after the header (:func:`header_payload`) as payload dicts, one dict
    of :func:`weight_lane_fields` per lane; ``last`` on the frame's final beat."""
    names = [name for name, _bits, _signed in weight_lane_fields(params)]
    return _framed([{"data": [dict(zip(names, lane)) for lane in beat]}
                    for beat in _weight_lanes(params, cfg, weights, scale, bias)])


def pixel_payloads(params, x):
    """:func:`pixel_beats` as payload dicts, ``last`` on the frame's final beat."""
    h, w, c = x.shape
    flat = np.asarray(x).reshape(h * w * c // params.pe, params.pe)
    return _framed([{"data": [int(v) for v in row]} for row in flat])


def output_payloads(params, out):
    """:func:`output_beats` as payload dicts, ``last`` on the frame's final beat."""
    h, w, c = out.shape
    flat = np.asarray(out).reshape(h * w * c // params.out_lanes, params.out_lanes)
    return _framed([{"data": [int(v) for v in row]} for row in flat])


def offset_payloads(params, offsets, mask=None):
    """:func:`offset_beats` as payload dicts (the mask, with ``params.mask``, is ``user``),
    ``last`` on the frame's final beat."""
    lanes, _bits, _signed = offset_lanes(params)
    offsets = np.asarray(offsets)
    ho, wo = offsets.shape[:2]
    flat = offsets.reshape(ho * wo, lanes)
    masks = np.asarray(mask).reshape(ho * wo, 9) if params.mask else None
    return _framed([{"data": [int(v) for v in flat[n]],
                     **({"user": [int(v) for v in masks[n]]} if params.mask else {})}
                    for n in range(ho * wo)])


def weight_beats(params, cfg, weights, scale, bias):
    """Header then the weight beats (ints) of ``weights`` ([C, 3, 3] depthwise,
    [C_out, C_in, 3, 3] full) and the per-output-channel ``scale`` and ``bias``."""
    fields = weight_lane_fields(params)
    beats = [header_word(params, cfg)]
    for lanes in _weight_lanes(params, cfg, weights, scale, bias):
        word = 0
        for lane, values in enumerate(lanes):
            lane_word, at = 0, 0
            for (_name, bits, _signed), v in zip(fields, values):
                lane_word |= (v & ((1 << bits) - 1)) << at
                at += bits
            word |= lane_word << (lane * params.lane_bits)
        beats.append(word)
    return beats


def pixel_beats(params, x):
    """Beats of a feature map ``x`` [H, W, C] (signed INT8), NHWC raster, ``pe`` per beat."""
    h, w, c = x.shape
    flat = np.asarray(x).reshape(h * w * c // params.pe, params.pe)
    return [_pack(row, ACT_BITS) for row in flat]


def output_beats(params, out):
    """Beats of an output ``out`` [Ho, Wo, C_out] as the engine sends them."""
    h, w, c = out.shape
    flat = np.asarray(out).reshape(h * w * c // params.out_lanes, params.out_lanes)
    return [_pack(row, ACT_BITS) for row in flat]


def output_from_beats(params, cfg, beats):
    """Output beats back to an array [out_height, out_width, channels]."""
    values = [v for beat in beats for v in _unpack(beat, ACT_BITS, params.out_lanes)]
    return np.array(values, dtype=np.int64).reshape(cfg.out_height, cfg.out_width,
                                                    cfg.output_channels(params))


def offset_beats(params, offsets, mask=None):
    """``(tdata, tuser)`` per output pixel of ``offsets`` ([Ho, Wo] dilations, or
    [Ho, Wo, 9, 2] (dy, dx) codes) and the bilinear ``mask`` [Ho, Wo, 9] (else tuser 0)."""
    lanes, bits, _signed = offset_lanes(params)
    offsets = np.asarray(offsets)
    ho, wo = offsets.shape[:2]
    flat = offsets.reshape(ho * wo, lanes)
    masks = (np.asarray(mask).reshape(ho * wo, 9) if params.mask else None)
    return [(_pack(flat[n], bits), _pack(masks[n], params.mask_bits) if params.mask else 0)
            for n in range(ho * wo)]
