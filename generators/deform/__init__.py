"""Deformable 3x3 convolution engine family (issue 6), after CoDeNet's co-design.

Importing this package (or :mod:`.params`, :mod:`.model`, :mod:`.formats`) does not import
Amaranth; the RTL is in :mod:`.rtl`.
"""

from ..family import Entry, Family, FrameModel
from .jobs import job
from .params import DeformParams

__all__ = ["FAMILY"]

FAMILY = Family(
    name="deform",
    params_class=DeformParams,
    core_builder="generators.deform.rtl:DeformConv",
    estimator="generators.deform.estimate:estimate",
    summary="deformable 3x3 convolution, depthwise or full: line buffer, square/rounded/bilinear "
            "offsets, or none (the plain 3x3 baseline)",
    tlast="last beat of a frame (output); inputs' tlast is not used",
    latency="cycles from the input transfer completing the rows the first output row needs to "
            "the first output valid",
    frame_model=FrameModel(jobs=job),
    entries=(
        # CoDeNet's depthwise engine shape (INT8 x INT4, PE channels x 9 taps, one dilation per
        # pixel) at 8 channels a cycle, feature maps up to 32x32x32, dilations up to 4.
        Entry("deform_dw_square", DeformParams(
            offset_mode="square", pe=8, c_max=32, h_max=32, w_max=32, d_max=4, weight_bits=4)),
        Entry("deform_dw_rounded", DeformParams(
            offset_mode="rounded", pe=8, c_max=32, h_max=32, w_max=32, d_max=4, weight_bits=4)),
        # torchvision's fractional offsets with the DCNv2 mask (4 fraction bits), 4 channels a
        # cycle.
        Entry("deform_dw_bilinear", DeformParams(
            offset_mode="bilinear", pe=4, c_max=32, h_max=32, w_max=32, d_max=4, weight_bits=4,
            offset_frac=4, mask=True)),
        # Small enough for the iCE40 UP5K's block RAM.
        Entry("deform_dw_square_small", DeformParams(
            offset_mode="square", pe=2, c_max=8, h_max=16, w_max=16, d_max=2, weight_bits=4)),
        # One channel a cycle: with its ten multipliers in LUTs it fits the iCE40 UP5K (which
        # has eight DSPs).
        Entry("deform_dw_square_tiny", DeformParams(
            offset_mode="square", pe=1, c_max=8, h_max=16, w_max=16, d_max=2, weight_bits=4)),
        # The plain 3x3 baselines of the two entries above them: the same MAC array,
        # requantiser and streams, no offsets, a 3-row line buffer (the price of deformability
        # is the difference).
        Entry("deform_dw_plain", DeformParams(
            offset_mode="none", pe=8, c_max=32, h_max=32, w_max=32, weight_bits=4)),
        Entry("deform_dw_plain_tiny", DeformParams(
            offset_mode="none", pe=1, c_max=8, h_max=16, w_max=16, weight_bits=4)),
        # Full 3x3 (every output channel over all input channels): 4 input x 2 output channels a
        # cycle, the same 72 MACs a cycle as deform_dw_square, 32 channels in and out.
        Entry("deform_full_square", DeformParams(
            mode="full", offset_mode="square", pe=4, po=2, c_max=32, co_max=32, h_max=32,
            w_max=32, d_max=4, weight_bits=4)),
    ),
)
