"""Sparse DSP chain family (issue 4): FlightLLM's configurable N:M chain of multiplier lanes.

Importing this package (or :mod:`.params`, :mod:`.model`, :mod:`.compress`) does not import
Amaranth; the RTL is in :mod:`.rtl`.
"""

from ..family import Entry, Family, FrameModel
from .jobs import job
from .params import SparseDspParams

__all__ = ["FAMILY"]

FAMILY = Family(
    name="sparse_dsp",
    params_class=SparseDspParams,
    core_builder="generators.sparse_dsp.rtl:SparseDspChain",
    estimator="generators.sparse_dsp.estimate:estimate",
    summary="FlightLLM's sparse DSP chain: W @ x with N:M weights, N chosen per tile at run time",
    tlast="s_axis_x: end of the activation vector; s_axis_w and m_axis: end of the matrix",
    latency="cycles from a tile's last s_axis_w beat to its m_axis beat",
    frame_model=FrameModel(jobs=job),
    entries=(
        # FlightLLM's chain: 8 lanes with 1:4, 2:4, 4:4 and 16 lanes with 2:16 .. 16:16, INT8
        # weights and activations, each lane's sparse MUX in block RAM; the dense-only builds of
        # the same chains for the LUT cost of sparse support.
        Entry("sparse_dsp_l8_m4", SparseDspParams(lanes=8, m=4, supported_n=(1, 2, 4),
                                                  max_k=256)),
        # 2:4 and 4:4 only: four result slots instead of eight (1:4 needs one per lane).
        Entry("sparse_dsp_l8_m4_n24", SparseDspParams(lanes=8, m=4, supported_n=(2, 4),
                                                      max_k=256)),
        Entry("sparse_dsp_l8_m4_dense", SparseDspParams(lanes=8, m=4, supported_n=(4,),
                                                        max_k=256)),
        # Packed: two activation vectors share each weight, (a << 18) + b in one multiplier,
        # with the overflow adjust unit so K up to 256 stays exact.
        Entry("sparse_dsp_l8_m4_packed", SparseDspParams(lanes=8, m=4, supported_n=(1, 2, 4),
                                                         max_k=256, packed=True, oau=True)),
        Entry("sparse_dsp_l16_m16", SparseDspParams(lanes=16, m=16,
                                                    supported_n=(2, 4, 8, 16), max_k=1024)),
        Entry("sparse_dsp_l16_m16_dense", SparseDspParams(lanes=16, m=16, supported_n=(16,),
                                                          max_k=1024)),
    ),
)
