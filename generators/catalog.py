"""Block families, the default catalog of named configurations, and user TOML configs.

A config file holds one table per block; the table's name becomes the module and file name, its
``family`` key picks the family and every other key is a parameter::

    [my_gelu]
    family = "gelu"
    method = "fitted_pwl"
    lanes = 8
"""

import dataclasses
import importlib
import re
import tomllib
from pathlib import Path

from .deform.params import DeformParams
from .gelu.params import GeluParams
from .lut_tc.params import LutTcParams
from .softmax.params import SoftmaxParams
from .sparse_dsp.params import SparseDspParams
from .params import BlockParams, ParamError, ParamValueError, did_you_mean, show

__all__ = ["Family", "Entry", "FAMILIES", "DEFAULT_CATALOG", "ConfigError", "load_config",
           "entry_from_table", "select", "params_from_json"]


class ConfigError(ParamError, ValueError):
    """A problem with a config file or a name on the command line."""


@dataclasses.dataclass(frozen=True)
class Family:
    name: str
    params_class: type
    core_class: str        # "module:Class", imported on first use so models stay Amaranth-free
    tlast: str             # what tlast delimits, for the manifest
    summary: str
    latency: str           # what the manifest's latency_cycles counts

    def core(self, params):
        module, cls = self.core_class.split(":")
        return getattr(importlib.import_module(module), cls)(params)


FAMILIES = {f.name: f for f in (
    Family("gelu", GeluParams, "generators.gelu.rtl:Gelu",
           "end of a vector; carried through unchanged (element-wise block)",
           "element-wise GELU: Edge-MoE table, fitted non-uniform table, or I-BERT i-GELU",
           "cycles from a beat's input transfer to the same beat's output valid"),
    Family("softmax", SoftmaxParams, "generators.softmax.rtl:softmax_core",
           "end of a vector: its length (1..max_len elements) is set at run time by tlast",
           "single-pass softmax: online base-2 maximum and sum, table exp2 and reciprocal",
           "cycles from a vector's last input transfer to its first output valid"),
    Family("deform", DeformParams, "generators.deform.rtl:DeformConv",
           "last beat of a frame (output); inputs' tlast is not used",
           "deformable 3x3 convolution, depthwise or full: line buffer, square/rounded/bilinear "
           "offsets",
           "cycles from the input transfer completing the rows the first output row needs to "
           "the first output valid"),
    Family("lut_tc", LutTcParams, "generators.lut_tc.rtl:lut_tc_core",
           "a: last K-group of a tile; w: last tile step; o: last row of a tile",
           "low-bit GEMM tile by table lookup: half tables, pre-flipped weights, bit-serial",
           "cycles from a tile's last w transfer to its first output valid"),
    Family("sparse_dsp", SparseDspParams, "generators.sparse_dsp.rtl:SparseDspChain",
           "s_axis_x: end of the activation vector; s_axis_w and m_axis: end of the matrix",
           "FlightLLM's sparse DSP chain: W @ x with N:M weights, N chosen per tile at run time",
           "cycles from a tile's last s_axis_w beat to its m_axis beat"),
)}

_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}\Z")


@dataclasses.dataclass(frozen=True)
class Entry:
    """A named configuration: the module name and the parameters."""

    name: str
    params: BlockParams

    def __post_init__(self):
        check_name(self.name)

    @property
    def family(self):
        return FAMILIES[self.params.family]


def check_name(name):
    """Names become module and file names: refuse anything but ``[a-z][a-z0-9_]*``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"block name {show(name)} is not allowed: use 1 to 63 lowercase letters, "
                          f"digits and underscores, starting with a letter")


DEFAULT_CATALOG = (
    Entry("gelu_int8", GeluParams(
        method="fitted_pwl", lanes=4, in_width=8, in_frac=5, out_width=8, out_frac=5,
        table_frac=9, segments=((1, 4), (2, 3), (4, 3)))),
    Entry("gelu_int8_ibert", GeluParams(
        method="i_gelu", lanes=4, in_width=8, in_frac=5, out_width=8, out_frac=5)),
    Entry("gelu_int16", GeluParams(
        method="fitted_pwl", lanes=2, in_width=16, in_frac=12, out_width=16, out_frac=12)),
    Entry("gelu_int16_edge_moe", GeluParams(
        method="edge_moe", lanes=2, in_width=16, in_frac=12, out_width=16, out_frac=12)),
    # Edge-MoE's own datapath: fm_t = ap_fixed<32,10>, 177 entries of 1/32, 22 fraction bits,
    # AP_TRN everywhere (seeds.md §3.2); 4 lanes as its smallest vector instance.
    Entry("gelu_edge_moe", GeluParams(
        method="edge_moe", lanes=4, in_width=32, in_frac=22, out_width=32, out_frac=22,
        rounding="floor", table_frac=22, table_step_log2=5, table_entries=177)),
    Entry("gelu_edge_moe_fitted", GeluParams(
        method="fitted_pwl", lanes=4, in_width=32, in_frac=22, out_width=32, out_frac=22,
        rounding="floor", table_frac=22)),
    # Attention rows of up to 256 scores, s8.4 logits, u8.8 probabilities, 4 per cycle.
    Entry("softmax_int8", SoftmaxParams(method="natural", lanes=4, max_len=256)),
    Entry("softmax_int8_base2", SoftmaxParams(method="base2", lanes=4, max_len=256)),
    # I-BERT's integer softmax at the same formats, as the hardware baseline.
    Entry("softmax_int8_ibert", SoftmaxParams(method="ibert", lanes=4, max_len=256)),
    # One lane: the size that fits an iCE40 UP5K's 8 DSPs (MoE gates, short rows).
    Entry("softmax_int8_base2_l1", SoftmaxParams(method="base2", lanes=1, max_len=256)),
    # CoDeNet's depthwise engine shape (INT8 x INT4, PE channels x 9 taps, one dilation per
    # pixel) at 8 channels a cycle, feature maps up to 32x32x32, dilations up to 4.
    Entry("deform_dw_square", DeformParams(
        offset_mode="square", pe=8, c_max=32, h_max=32, w_max=32, d_max=4, weight_bits=4)),
    Entry("deform_dw_rounded", DeformParams(
        offset_mode="rounded", pe=8, c_max=32, h_max=32, w_max=32, d_max=4, weight_bits=4)),
    # torchvision's fractional offsets with the DCNv2 mask (4 fraction bits), 4 channels a cycle.
    Entry("deform_dw_bilinear", DeformParams(
        offset_mode="bilinear", pe=4, c_max=32, h_max=32, w_max=32, d_max=4, weight_bits=4,
        offset_frac=4, mask=True)),
    # Small enough for the iCE40 UP5K's block RAM.
    Entry("deform_dw_square_small", DeformParams(
        offset_mode="square", pe=2, c_max=8, h_max=16, w_max=16, d_max=2, weight_bits=4)),
    # One channel a cycle: with its ten multipliers in LUTs it fits the iCE40 UP5K (which has
    # eight DSPs).
    Entry("deform_dw_square_tiny", DeformParams(
        offset_mode="square", pe=1, c_max=8, h_max=16, w_max=16, d_max=2, weight_bits=4)),
    # Full 3x3 (every output channel over all input channels): 4 input x 2 output channels a
    # cycle, the same 72 MACs a cycle as deform_dw_square, 32 channels in and out.
    Entry("deform_full_square", DeformParams(
        mode="full", offset_mode="square", pe=4, po=2, c_max=32, co_max=32, h_max=32, w_max=32,
        d_max=4, weight_bits=4)),
    # LUT Tensor Core's elongated tile (M2 x N8 here, so INT4 still fits an iCE40 UP5K; g = 4),
    # INT8 activations, K up to 256, bit-serial, half tables and pre-flipped weights.
    Entry("lut_tc_binary", LutTcParams(weight_format="binary", n=8)),
    Entry("lut_tc_ternary", LutTcParams(weight_format="ternary", n=8)),
    Entry("lut_tc_int2", LutTcParams(weight_format="int2", n=8)),
    Entry("lut_tc_int4", LutTcParams(weight_format="int4", n=8)),
    # All bit-planes a cycle: the table, drain and control are shared by B times the MACs.
    Entry("lut_tc_ternary_parallel", LutTcParams(weight_format="ternary", n=8, bit_serial=False)),
    Entry("lut_tc_int2_parallel", LutTcParams(weight_format="int2", n=8, bit_serial=False)),
    # Ternary with one lookup per pair of weights (4-entry tables, bitnet.cpp's TL1): the
    # ternary core to use, at the same 64 MACs a cycle as lut_tc_ternary_parallel.
    Entry("lut_tc_ternary_pairs", LutTcParams(weight_format="ternary", n=8, bit_serial=False,
                                              ternary_pairs=True)),
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
    Entry("sparse_dsp_l16_m16", SparseDspParams(lanes=16, m=16, supported_n=(2, 4, 8, 16),
                                                max_k=1024)),
    Entry("sparse_dsp_l16_m16_dense", SparseDspParams(lanes=16, m=16, supported_n=(16,),
                                                      max_k=1024)),
)


def entry_from_table(name, table):
    """One config-file table (``family`` plus parameters) to an :class:`Entry`."""
    check_name(name)
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] must be a table of parameters, not {show(table)}")
    values = dict(table)
    family = values.pop("family", None)
    if family is None:
        raise ConfigError(f"[{name}] needs a family key (families: {', '.join(FAMILIES)})")
    if not isinstance(family, str) or family not in FAMILIES:
        raise ConfigError(f"[{name}] family must be one of {', '.join(map(repr, FAMILIES))}, "
                          f"not {show(family)}{did_you_mean(family, FAMILIES)}")
    try:
        return Entry(name, FAMILIES[family].params_class.from_dict(values))
    except ParamError as error:
        raise type(error)(f"[{name}] {error}") from None


def load_config(path):
    """Entries of a TOML config file, in file order."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read config {str(path)!r}: {error.strerror}") from None
    try:
        text = data.decode("utf-8-sig")     # a byte-order mark is allowed
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path.name}: not UTF-8 text (byte 0x{data[error.start]:02x} at "
                          f"offset {error.start}); TOML files are UTF-8") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path.name}: invalid TOML: {error}") from None
    except ValueError as error:     # Python's limit on integer digits, raised by tomllib
        raise ConfigError(f"{path.name}: invalid TOML: {str(error).split(':')[0]}") from None
    except RecursionError:
        raise ConfigError(f"{path.name}: invalid TOML: arrays or tables nested too deeply") \
            from None
    if not document:
        raise ConfigError(f"{path.name}: no blocks defined (add a [name] table with a family)")
    return [entry_from_table(name, table) for name, table in document.items()]


def select(entries, only):
    """The entries named in ``only`` (all when empty), refusing unknown names."""
    by_name = {e.name: e for e in entries}
    for name in only or ():
        if name not in by_name:
            raise ParamValueError(f"no block named {name!r}{did_you_mean(name, by_name)} "
                                  f"(see --list)")
    return [by_name[n] for n in only] if only else list(entries)


def params_from_json(text):
    """Rebuild a parameter object from :meth:`BlockParams.to_json` (testbenches use this)."""
    import json

    values = json.loads(text)
    return FAMILIES[values.pop("family")].params_class.from_dict(values)
