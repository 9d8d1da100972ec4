"""Parameters of the deformable 3x3 convolution engine (one frozen object for RTL, model, tests).

Ref: Huang, Dong et al., "CoDeNet: Efficient Deployment of Input-Adaptive Object Detection on
Embedded FPGAs" (arXiv 2006.08357, FPGA'21); torchvision ``ops.deform_conv2d`` semantics.

Heights, widths, channel counts, stride and ReLU are chosen at run time (the weight stream's
header); the parameters here fix the maxima, the offset format and the datapath widths.
"""

import dataclasses

from ..params import BOOL, INT, STR, BlockParams, Derived, ParamValueError, param, when

__all__ = ["DeformParams", "MODES", "OFFSET_MODES", "DEFORMABLE", "HEADER_BITS"]

#: ``depthwise``: one 3x3 filter per channel (CoDeNet's main case); ``full``: every output
#: channel sums over all input channels, ``po`` output channels in parallel.
MODES = ("depthwise", "full")

#: ``square``: one integer dilation d per output pixel, taps at ((i-1)d, (j-1)d) (CoDeNet);
#: ``rounded``: per-tap integer (dy, dx); ``bilinear``: per-tap fixed-point (dy, dx) sampled by
#: bilinear interpolation with per-corner zero padding (torchvision); ``none``: a plain 3x3
#: convolution, the engine's baseline: no offset stream, taps at the regular (i-1, j-1), a
#: line buffer of 3 rows.
OFFSET_MODES = ("square", "rounded", "bilinear", "none")

#: The offset modes that have offsets (an offset stream and a tap reach d_max).
DEFORMABLE = OFFSET_MODES[:3]

#: Bits of the configuration header at the start of the weight stream (see :mod:`.formats`):
#: the full mode adds the output channel count.
HEADER_BITS = {"depthwise": 66, "full": 82}

ACT_BITS = 8


@dataclasses.dataclass(frozen=True)
class DeformParams(BlockParams):
    """A deformable 3x3 convolution engine, stride 1 or 2 (run time), padding 1.

    Depthwise, the engine does ``pe * 9`` multiply-accumulates a cycle; full, ``pe * po * 9``.
    Requantisation is ``clamp(relu(((acc * scale + 2**(shift-1)) >> shift) + bias))`` to INT8.
    ``python -m generators params deform`` lists the parameters.
    """

    family = "deform"

    mode: str = param("depthwise", kind=STR, choices=MODES,
                      doc="depthwise: one 3x3 filter per channel; full: every output channel "
                          "sums over all input channels.")
    offset_mode: str = param("square", kind=STR, choices=OFFSET_MODES,
                             doc="square: one integer dilation per output pixel; rounded: "
                                 "integer (dy, dx) per tap; bilinear: fixed-point (dy, dx) per "
                                 "tap, sampled by bilinear interpolation; none: a plain 3x3 "
                                 "convolution (no offsets, a 3-row line buffer).")
    # The header gives channels; channels / pe is a shift only for a power of two.
    pe: int = param(4, kind=INT, low=1, high=16, power_of_two=True,
                    doc="Input channels per beat and per cycle.")
    po: int = param(2, kind=INT, low=1, high=16, power_of_two=True, applies=when("mode", "full"),
                    doc="Output channels per output beat, computed in parallel.")
    c_max: int = param(16, kind=INT, low="pe", high=1024, multiple_of="pe",
                       doc="Largest input channel count chosen at run time.")
    co_max: int = param(16, kind=INT, low="po", high=1024, multiple_of="po",
                        applies=when("mode", "full"),
                        doc="Largest output channel count chosen at run time.")
    h_max: int = param(32, kind=INT, low=1, high=4096,
                       doc="Largest feature-map height chosen at run time.")
    w_max: int = param(32, kind=INT, low=1, high=4096,
                       doc="Largest feature-map width chosen at run time.")
    d_max: int = param(4, kind=INT, low=1, high=31, applies=when("offset_mode", *DEFORMABLE),
                       doc="The farthest a tap reaches from the output pixel's centre in rows or "
                           "columns (square dilations clamp to 0..d_max, rounded and bilinear "
                           "offsets to +-(d_max - 1)).")
    rows: int = param(Derived("2 * d_max + 2 (3 without offsets)", lambda p: p.least_rows),
                      kind=INT, low=2, high=256,
                      allowed="2..256, at least 2 * d_max + 2 (3 without offsets)",
                      doc="Line-buffer rows (a row is written while the taps read 2 * d_max + 1; "
                          "without offsets the row being written is the taps' bottom row).")
    weight_bits: int = param(8, kind=INT, choices=(4, 8),
                             doc="Signed weight width (activations are signed INT8).")
    offset_bits: int = param(8, kind=INT, low=2, high=16,
                             applies=when("offset_mode", *DEFORMABLE),
                             doc="Bits of one offset: an unsigned dilation (square) or a signed "
                                 "dy or dx code.")
    offset_frac: int = param(4, kind=INT, low=1,
                             high=Derived("min(8, offset_bits - 1)",
                                          lambda p: min(8, p.offset_bits - 1)),
                             applies=when("offset_mode", "bilinear"),
                             doc="Fractional bits of a bilinear offset.")
    mask: bool = param(False, kind=BOOL, applies=when("offset_mode", "bilinear"),
                       doc="A DCNv2 modulation mask per tap.")
    mask_bits: int = param(8, kind=INT, low=2, high=9, applies=when("mask", True),
                           doc="Unsigned mask codes with mask_bits - 1 fractional bits (1.0 is "
                               "representable).")
    scale_bits: int = param(16, kind=INT, low=2, high=18,
                            doc="Width of the signed requantisation scale.")
    bias_bits: int = param(16, kind=INT, low=2, high=24,
                           doc="Width of the signed requantisation bias.")
    # The accumulator carries coef_frac fraction bits (bilinear corner weights and the mask):
    # the default shift drops them too, so scales span the same gains in every offset mode
    # (with 16, bilinear's least gain was 2**(coef_frac - 16) = 1/2: most outputs saturated).
    shift: int = param(Derived("16 + coef_frac (0 unless bilinear: 2 * offset_frac, plus "
                               "mask_bits - 1 with a mask)", lambda p: 16 + p.coef_frac),
                       kind=INT, low=0, high=48, doc="Right shift of the requantisation.")

    def _check(self):
        least = self.least_rows
        if self.offset_mode == "none" and self.rows < least:
            raise ParamValueError(
                f"rows must be at least 3 without offsets (offset_mode 'none'), not "
                f"{self.rows!r}: the taps read 3 rows and the row being written is the third")
        if self.rows < least:
            # CoDeNet's engine keeps 15 rows and writes a row before the window of the row
            # 8 above it is read: at d = 7 the top tap row shares the buffer row being written.
            raise ParamValueError(
                f"rows must be at least 2 * d_max + 2 = {least} for d_max {self.d_max}, not "
                f"{self.rows!r}: taps reach d_max rows above and below the centre and one more "
                f"row is written meanwhile (CoDeNet's 15 rows corrupt taps at d = 7)")
        if self.beat_bits < HEADER_BITS[self.mode]:
            lanes = "po" if self.mode == "full" else "pe"
            raise ParamValueError(
                f"a weight beat of {lanes} * ({self.lane_taps} * weight_bits + scale_bits + "
                f"bias_bits) = {self.beat_bits} bits cannot hold the "
                f"{HEADER_BITS[self.mode]}-bit header: raise {lanes}, scale_bits or bias_bits")

    @property
    def offsets(self):
        """True when the engine takes offsets (an ``off`` stream); False for the plain 3x3."""
        return self.offset_mode != "none"

    @property
    def reach(self):
        """Rows (or columns) a tap reaches from the centre: ``d_max``, 1 for the plain 3x3."""
        return self.d_max if self.offsets else 1

    @property
    def least_rows(self):
        """The fewest line-buffer rows: 2 * d_max + 2; 3 for the plain 3x3, whose writer fills
        the taps' bottom row column by column behind the reads (no spare row)."""
        return 2 * self.d_max + 2 if self.offsets else 3

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
        if self.offset_mode == "none":
            return 0
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
