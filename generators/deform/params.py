"""Parameters of the deformable 3x3 convolution engine (one frozen object for RTL, model, tests).

Ref: Huang, Dong et al., "CoDeNet: Efficient Deployment of Input-Adaptive Object Detection on
Embedded FPGAs" (arXiv 2006.08357, FPGA'21); torchvision ``ops.deform_conv2d`` semantics.

Heights, widths, channel counts, stride and ReLU are chosen at run time (the weight stream's
header); the parameters here fix the maxima, the offset format and the datapath widths.
"""

import dataclasses

from ..params import BlockParams, ParamTypeError, ParamValueError, check_choice, check_int

__all__ = ["DeformParams", "MODES", "OFFSET_MODES", "HEADER_BITS"]

#: ``depthwise``: one 3x3 filter per channel (CoDeNet's main case); ``full``: every output
#: channel sums over all input channels, ``po`` output channels in parallel.
MODES = ("depthwise", "full")

#: ``square``: one integer dilation d per output pixel, taps at ((i-1)d, (j-1)d) (CoDeNet);
#: ``rounded``: per-tap integer (dy, dx); ``bilinear``: per-tap fixed-point (dy, dx) sampled by
#: bilinear interpolation with per-corner zero padding (torchvision).
OFFSET_MODES = ("square", "rounded", "bilinear")

#: Bits of the configuration header at the start of the weight stream (see :mod:`.formats`):
#: the full mode adds the output channel count.
HEADER_BITS = {"depthwise": 66, "full": 82}

ACT_BITS = 8


@dataclasses.dataclass(frozen=True)
class DeformParams(BlockParams):
    """A deformable 3x3 convolution engine, stride 1 or 2 (run time), padding 1.

    Parameters
    ----------
    mode : str
        One of :data:`MODES`.
    offset_mode : str
        One of :data:`OFFSET_MODES`.
    pe : int
        Input channels per beat and per cycle; depthwise, the engine does ``pe * 9``
        multiply-accumulates a cycle.
    po : int
        Full mode only: output channels per output beat, computed in parallel; the engine does
        ``pe * po * 9`` multiply-accumulates a cycle.
    c_max, h_max, w_max : int
        Largest (input) channel count (a multiple of ``pe``), height and width chosen at run time.
    co_max : int
        Full mode only: largest output channel count, a multiple of ``po``.
    d_max : int
        The farthest a tap reaches from the output pixel's centre, in rows or columns: square
        dilations are clamped to ``0..d_max``, rounded and bilinear offsets to
        ``±(d_max - 1)`` (so ``(i - 1) + dy`` stays within ``±d_max``).
    rows : int
        Line-buffer rows; at least ``2 * d_max + 2`` (the default).
    weight_bits : int
        4 or 8 (signed weights); activations are signed INT8.
    offset_bits : int
        Bits of one offset: unsigned dilation (square) or signed dy/dx code.
    offset_frac : int
        Fractional bits of bilinear offsets (bilinear only).
    mask : bool
        DCNv2 modulation mask per tap (bilinear only).
    mask_bits : int
        Unsigned mask codes with ``mask_bits - 1`` fractional bits (1.0 is representable).
    scale_bits, bias_bits, shift : int
        Requantisation ``clamp(relu(((acc * scale + 2**(shift-1)) >> shift) + bias))`` to INT8.
    """

    family = "deform"

    mode: str = "depthwise"
    offset_mode: str = "square"
    pe: int = 4
    po: int = None
    c_max: int = 16
    co_max: int = None
    h_max: int = 32
    w_max: int = 32
    d_max: int = 4
    rows: int = None
    weight_bits: int = 8
    offset_bits: int = 8
    offset_frac: int = None
    mask: bool = False
    mask_bits: int = None
    scale_bits: int = 16
    bias_bits: int = 16
    shift: int = 16

    def __post_init__(self):
        check_choice("mode", self.mode, MODES)
        check_choice("offset_mode", self.offset_mode, OFFSET_MODES)
        check_int("pe", self.pe, 1, 16)
        if self.pe & (self.pe - 1):
            # The header gives channels; channels / pe is a shift only for a power of two.
            raise ParamValueError(f"pe must be a power of two, not {self.pe!r}")
        check_int("c_max", self.c_max, self.pe, 1024)
        if self.c_max % self.pe:
            raise ParamValueError(f"c_max must be a multiple of pe ({self.pe}), "
                                  f"not {self.c_max!r}")
        full = self.mode == "full"
        for name, default in (("po", 2), ("co_max", 16)):
            if getattr(self, name) is None:
                if full:
                    self._resolve(name, default)
            elif not full:
                raise ParamValueError(f"{name} applies only to mode 'full', not {self.mode!r}")
        if full:
            check_int("po", self.po, 1, 16)
            if self.po & (self.po - 1):
                raise ParamValueError(f"po must be a power of two, not {self.po!r}")
            check_int("co_max", self.co_max, self.po, 1024)
            if self.co_max % self.po:
                raise ParamValueError(f"co_max must be a multiple of po ({self.po}), "
                                      f"not {self.co_max!r}")
        check_int("h_max", self.h_max, 1, 4096)
        check_int("w_max", self.w_max, 1, 4096)
        check_int("d_max", self.d_max, 1, 31)
        least = 2 * self.d_max + 2
        if self.rows is None:
            self._resolve("rows", least)
        check_int("rows", self.rows, 2, 256)
        if self.rows < least:
            # CoDeNet's engine keeps 15 rows and writes a row before the window of the row
            # 8 above it is read: at d = 7 the top tap row shares the buffer row being written.
            raise ParamValueError(
                f"rows must be at least 2 * d_max + 2 = {least} for d_max {self.d_max}, not "
                f"{self.rows!r}: taps reach d_max rows above and below the centre and one more "
                f"row is written meanwhile (CoDeNet's 15 rows corrupt taps at d = 7)")
        check_int("weight_bits", self.weight_bits, 4, 8)
        if self.weight_bits not in (4, 8):
            # check_choice's suggestion lookup works on names, not numbers.
            raise ParamValueError(f"weight_bits must be one of 4, 8, not {self.weight_bits!r}")
        check_int("offset_bits", self.offset_bits, 2, 16)
        bilinear = self.offset_mode == "bilinear"
        if self.offset_frac is None and bilinear:
            self._resolve("offset_frac", 4)
        if self.offset_frac is not None:
            if not bilinear:
                raise ParamValueError(f"offset_frac applies only to offset_mode 'bilinear', "
                                      f"not {self.offset_mode!r}")
            check_int("offset_frac", self.offset_frac, 1, min(8, self.offset_bits - 1))
        if not isinstance(self.mask, bool):
            raise ParamTypeError(f"mask must be a bool, not {self.mask!r}")
        if self.mask and not bilinear:
            raise ParamValueError(f"mask applies only to offset_mode 'bilinear', "
                                  f"not {self.offset_mode!r}")
        if self.mask_bits is None and self.mask:
            self._resolve("mask_bits", 8)
        if self.mask_bits is not None:
            if not self.mask:
                raise ParamValueError(f"mask_bits applies only with mask = true")
            check_int("mask_bits", self.mask_bits, 2, 9)
        check_int("scale_bits", self.scale_bits, 2, 18)
        check_int("bias_bits", self.bias_bits, 2, 24)
        check_int("shift", self.shift, 0, 48)
        if self.beat_bits < HEADER_BITS[self.mode]:
            lanes = "po" if full else "pe"
            raise ParamValueError(
                f"a weight beat of {lanes} * ({self.lane_taps} * weight_bits + scale_bits + "
                f"bias_bits) = {self.beat_bits} bits cannot hold the "
                f"{HEADER_BITS[self.mode]}-bit header: raise {lanes}, scale_bits or bias_bits")

    @property
    def out_lanes(self):
        """Channels per output beat (and lanes of a weight beat)."""
        return self.po if self.mode == "full" else self.pe

    @property
    def lane_taps(self):
        """Weights of one output channel in a weight beat: 9 taps (times ``pe`` input
        channels in full mode)."""
        return 9 * self.pe if self.mode == "full" else 9

    @property
    def lane_bits(self):
        """Bits of one output channel's weights and requantisation constants in a weight beat."""
        return self.lane_taps * self.weight_bits + self.scale_bits + self.bias_bits

    @property
    def beat_bits(self):
        return self.out_lanes * self.lane_bits

    @property
    def groups_max(self):
        """Input beats per pixel at ``c_max`` channels."""
        return self.c_max // self.pe

    @property
    def out_groups_max(self):
        """Output beats per pixel at the largest output channel count."""
        return self.co_max // self.po if self.mode == "full" else self.groups_max

    @property
    def weight_beats_max(self):
        """Weight beats after the header at the largest channel counts."""
        return self.groups_max * self.out_groups_max if self.mode == "full" else self.groups_max

    @property
    def macs_per_issue(self):
        """Multiply-accumulates of one issued beat: the engine's peak per cycle."""
        return self.pe * 9 * (self.po if self.mode == "full" else 1)

    @property
    def passes(self):
        """Cycles per output beat: bilinear visits the four corners one after the other."""
        return 4 if self.offset_mode == "bilinear" else 1

    @property
    def offset_limit(self):
        """Largest offset code magnitude after clamping (a dilation for square)."""
        if self.offset_mode == "square":
            return min(self.d_max, (1 << self.offset_bits) - 1)
        return (self.d_max - 1) << (self.offset_frac or 0)

    @property
    def coef_frac(self):
        """Fractional bits of the accumulator: bilinear corner weights and the mask."""
        if self.offset_mode != "bilinear":
            return 0
        return 2 * self.offset_frac + ((self.mask_bits - 1) if self.mask else 0)

    @property
    def coef_max(self):
        """Largest per-tap coefficient (corner weight times mask) the datapath multiplies by."""
        if self.offset_mode != "bilinear":
            return 1
        return (1 << (2 * self.offset_frac)) * (((1 << self.mask_bits) - 1) if self.mask else 1)

    @property
    def acc_bound(self):
        """Largest |accumulator|: 9 taps (of each of ``c_max`` input channels in full mode) of
        |x| <= 128, |w| <= 2**(weight_bits-1), times the coefficient; bilinear's corner weights
        of one tap sum to 2**(2 * offset_frac)."""
        terms = 9 * (self.c_max if self.mode == "full" else 1)
        return terms * 128 * (1 << (self.weight_bits - 1)) * self.coef_max

    @property
    def acc_bits(self):
        """Signed accumulator width that cannot overflow."""
        return self.acc_bound.bit_length() + 1
