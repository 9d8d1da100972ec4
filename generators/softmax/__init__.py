"""Streaming softmax family (issue 3): online base-2 maximum and sum, table exp2 and reciprocal.

Importing this package (or :mod:`.params`, :mod:`.model`, :mod:`.baselines`) does not import
Amaranth; the RTL is in :mod:`.rtl`.
"""

from ..family import Entry, Family, FrameModel
from .params import SoftmaxParams

__all__ = ["FAMILY"]


def _frame(params, codes, mask):
    from .model import softmax

    return softmax(params, codes, mask)


FAMILY = Family(
    name="softmax",
    params_class=SoftmaxParams,
    core_builder="generators.softmax.rtl:softmax_core",
    estimator="generators.softmax.estimate:estimate",
    summary="single-pass softmax: online base-2 maximum and sum, table exp2 and reciprocal",
    tlast="end of a vector: its length (1..max_len elements) is set at run time by tlast",
    latency="cycles from a vector's last input transfer to its first output valid",
    frame_model=FrameModel(golden=_frame, longest=lambda params: params.max_len),
    entries=(
        # Attention rows of up to 256 scores, s8.4 logits, u8.8 probabilities, 4 per cycle.
        Entry("softmax_int8", SoftmaxParams(method="natural", lanes=4, max_len=256)),
        Entry("softmax_int8_base2", SoftmaxParams(method="base2", lanes=4, max_len=256)),
        # I-BERT's integer softmax at the same formats, as the hardware baseline.
        Entry("softmax_int8_ibert", SoftmaxParams(method="ibert", lanes=4, max_len=256)),
        # One lane: the size that fits an iCE40 UP5K's 8 DSPs (MoE gates, short rows).
        Entry("softmax_int8_base2_l1", SoftmaxParams(method="base2", lanes=1, max_len=256)),
    ),
)
