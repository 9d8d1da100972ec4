"""LUT tensor core: low-bit-weight x integer-activation GEMM by table lookup (LUT Tensor Core,
T-MAC, LUT-GEMM), with a multiplier-array baseline for comparison.

Importing this package (or :mod:`.params`, :mod:`.model`, :mod:`.prepare`) does not import
Amaranth; the RTL is in :mod:`.rtl`.
"""

from ..family import Entry, Family, FrameModel
from .jobs import job
from .params import LutTcParams

__all__ = ["FAMILY"]

FAMILY = Family(
    name="lut_tc",
    params_class=LutTcParams,
    core_builder="generators.lut_tc.rtl:lut_tc_core",
    estimator="generators.lut_tc.estimate:estimate",
    summary="low-bit GEMM tile by table lookup: half tables, pre-flipped weights, bit-serial",
    tlast="a: last K-group of a tile; w: last tile step; o: last row of a tile",
    latency="cycles from a tile's last w transfer to its first output valid",
    frame_model=FrameModel(jobs=job),
    entries=(
        # LUT Tensor Core's elongated tile (M2 x N8 here, so INT4 still fits an iCE40 UP5K;
        # g = 4), INT8 activations, K up to 256, bit-serial, half tables and pre-flipped weights.
        Entry("lut_tc_binary", LutTcParams(weight_format="binary", n=8)),
        Entry("lut_tc_ternary", LutTcParams(weight_format="ternary", n=8)),
        Entry("lut_tc_int2", LutTcParams(weight_format="int2", n=8)),
        Entry("lut_tc_int4", LutTcParams(weight_format="int4", n=8)),
        # All bit-planes a cycle: the table, drain and control are shared by B times the MACs.
        Entry("lut_tc_ternary_parallel", LutTcParams(weight_format="ternary", n=8,
                                                     bit_serial=False)),
        Entry("lut_tc_int2_parallel", LutTcParams(weight_format="int2", n=8, bit_serial=False)),
        # Ternary with one lookup per pair of weights (4-entry tables, bitnet.cpp's TL1): the
        # ternary core to use, at the same 64 MACs a cycle as lut_tc_ternary_parallel.
        Entry("lut_tc_ternary_pairs", LutTcParams(weight_format="ternary", n=8,
                                                  bit_serial=False, ternary_pairs=True)),
        # Binary weights looked up in 2-entry pair tables: one LUT4 a bit per two weights, the
        # regime where the lookup beats the adder tree (64 MACs a cycle).
        Entry("lut_tc_binary_pairs", LutTcParams(weight_format="binary", n=8,
                                                 bit_serial=False, pair_tables=True)),
    ),
)
