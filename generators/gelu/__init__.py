"""GELU approximator family: a direct table of every code, Edge-MoE's table, our fitted
non-uniform table, I-BERT's i-GELU.

Importing this package (or :mod:`.params`, :mod:`.model`) does not import Amaranth; the RTL is in
:mod:`.rtl`.
"""

import numpy as np

from ..family import Entry, Family, FrameModel
from .params import GeluParams

__all__ = ["FAMILY"]


def _frame(params, codes, mask):
    from .model import gelu     # element-wise: the mask has no meaning here

    return gelu(params, np.asarray(codes, dtype=np.int64))


FAMILY = Family(
    name="gelu",
    params_class=GeluParams,
    core_builder="generators.gelu.rtl:Gelu",
    estimator="generators.gelu.estimate:estimate",
    summary="element-wise GELU: direct table, Edge-MoE table, fitted non-uniform table, or "
            "I-BERT i-GELU",
    tlast="end of a vector; carried through unchanged (element-wise block)",
    latency="cycles from a beat's input transfer to the same beat's output valid",
    frame_model=FrameModel(golden=_frame, longest=lambda params: None),
    entries=(
        Entry("gelu_int8", GeluParams(
            method="fitted_pwl", lanes=4, in_width=8, in_frac=5, out_width=8, out_frac=5,
            table_frac=9, segments=((1, 4), (2, 3), (4, 3)))),
        Entry("gelu_int8_ibert", GeluParams(
            method="i_gelu", lanes=4, in_width=8, in_frac=5, out_width=8, out_frac=5)),
        Entry("gelu_int16", GeluParams(
            method="fitted_pwl", lanes=2, in_width=16, in_frac=12, out_width=16, out_frac=12)),
        Entry("gelu_int16_edge_moe", GeluParams(
            method="edge_moe", lanes=2, in_width=16, in_frac=12, out_width=16, out_frac=12)),
        # Edge-MoE's own datapath: fm_t = ap_fixed<32,10>, 177 entries of 1/32, 22 fraction
        # bits, AP_TRN everywhere (seeds.md §3.2); 4 lanes as its smallest vector instance.
        Entry("gelu_edge_moe", GeluParams(
            method="edge_moe", lanes=4, in_width=32, in_frac=22, out_width=32, out_frac=22,
            rounding="floor", table_frac=22, table_step_log2=5, table_entries=177)),
        Entry("gelu_edge_moe_fitted", GeluParams(
            method="fitted_pwl", lanes=4, in_width=32, in_frac=22, out_width=32, out_frac=22,
            rounding="floor", table_frac=22)),
        # Every output code correctly rounded, read from block RAM (MASE's design, and our
        # default up to 10 input bits): gelu_int8's format and lanes.
        Entry("gelu_int8_direct", GeluParams(
            method="direct_table", lanes=4, in_width=8, in_frac=5, out_width=8, out_frac=5)),
        Entry("gelu_int10_direct", GeluParams(
            method="direct_table", lanes=2, in_width=10, in_frac=7, out_width=10, out_frac=7)),
    ),
)
