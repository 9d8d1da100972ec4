"""Parameters of the LUT tensor core and its multiplier-array baseline (one frozen, validated
object each for RTL, model, prepare utility and tests).

Ref: Mo et al., "LUT Tensor Core", ISCA'25 (arXiv 2408.06003); T-MAC (microsoft/T-MAC);
LUT-GEMM (naver-aics/lut-gemm). Background: ``shared/design/seeds.md`` section 2.
"""

import dataclasses

from ..params import BOOL, INT, STR, BlockParams, ParamValueError, param, when

__all__ = ["LutTcParams", "MultArrayParams", "WEIGHT_FORMATS", "WEIGHT_BITS", "ACT_WIDTHS"]

#: ``binary``: w in {-1, +1} (code q, w = 2q - 1); ``ternary``: w in {-1, 0, +1} (code q = w + 1,
#: zero point 1); ``int2`` / ``int4``: unsigned codes with a per-column zero point, w = q - z.
WEIGHT_FORMATS = ("binary", "ternary", "int2", "int4")
WEIGHT_BITS = {"binary": 1, "ternary": 2, "int2": 2, "int4": 4}
ACT_WIDTHS = (8, 16)


def _bound_width(bound):
    """Signed width that holds every integer in ``[-bound, bound]``."""
    return bound.bit_length() + 1


@dataclasses.dataclass(frozen=True)
class _GemmShape(BlockParams):
    """Fields and derived widths shared by the LUT tensor core and the multiplier array."""

    m: int = param(2, kind=INT, low=1, high=8,
                   doc="Tile rows: activation rows, one table each.")
    n: int = param(16, kind=INT, low=1, high=64, doc="Tile columns: lanes per row.")
    g: int = param(4, kind=INT, low=2, high=4,
                   doc="Activations per table (a half table holds 2**(g - 1) entries).")
    weight_format: str = param("int2", kind=STR, choices=WEIGHT_FORMATS,
                               doc="binary: w in {-1, +1}; ternary: w in {-1, 0, +1}; int2, "
                                   "int4: unsigned codes q with a zero point, w = q - z.")
    act_width: int = param(8, kind=INT, choices=ACT_WIDTHS, allowed="8 or 16",
                           doc="Width of the signed activations.")
    max_k: int = param(256, kind=INT, low=1, high=4096,
                       doc="Longest reduction; the run-time K (set by tlast of the a stream) is "
                           "1..max_k.")
    # Without zp_group: one zero point per column and tile.
    zp_group: int = param(None, kind=INT, low="g", high=4096, multiple_of="g",
                          applies=when("weight_format", "int2", "int4",
                                       text="int2 and int4 weights"),
                          doc="Rows of K sharing a zero point, one z beat per group.")
    acc_in: bool = param(False, kind=BOOL,
                         doc="Accumulator input: a c stream of one beat per output row added "
                             "to the tile's result, saturating to out_width.")
    requant: bool = param(False, kind=BOOL,
                          doc="Requantisation to INT8: clamp(((x * scale + 2**(shift-1)) >> "
                              "shift) + bias), per-column scale and bias from an s stream.")
    scale_bits: int = param(16, kind=INT, low=2, high=18, applies=when("requant", True),
                            doc="Width of the signed requantisation scale.")
    bias_bits: int = param(16, kind=INT, low=2, high=24, applies=when("requant", True),
                           doc="Width of the signed requantisation bias.")
    shift: int = param(16, kind=INT, low=0, high=48, applies=when("requant", True),
                       doc="Right shift of the requantisation.")

    @property
    def bits(self):
        """Weight bits B (bit-planes)."""
        return WEIGHT_BITS[self.weight_format]

    @property
    def has_zero_point(self):
        """Whether a tile needs per-column zero points (the ``z`` stream)."""
        return self.weight_format in ("int2", "int4")

    def zero_point_shape(self, k):
        """Shape of a tile's zero points at reduction length ``k``: one code per column, or
        one row per group of ``zp_group`` rows of K."""
        return (-(-k // self.zp_group), self.n) if self.zp_group else (self.n,)

    @property
    def groups_per_zp(self):
        """K-groups of ``g`` per zero-point group (the whole tile without ``zp_group``)."""
        return self.zp_group // self.g if self.zp_group else self.max_groups

    @property
    def max_groups(self):
        """K-groups of ``g`` activations in the longest tile (K padded up to a multiple of g)."""
        return -(-self.max_k // self.g)

    @property
    def max_w(self):
        """Largest |q - z| of the format."""
        return {"binary": 1, "ternary": 1, "int2": 3, "int4": 15}[self.weight_format]

    @property
    def out_width(self):
        """Signed output width: holds every A @ (q - z) with K <= max_k."""
        return _bound_width(self.max_groups * self.g * (1 << (self.act_width - 1)) * self.max_w)

    @property
    def result_width(self):
        """Signed width of an output element: INT8 after requantisation, else out_width."""
        return 8 if self.requant else self.out_width

    @property
    def sum_width(self):
        """Signed width of a row sum of up to ``max_k`` activations."""
        return _bound_width(self.max_groups * self.g * (1 << (self.act_width - 1)))

    @property
    def macs_per_tile_step(self):
        return self.m * self.n * self.g


@dataclasses.dataclass(frozen=True)
class LutTcParams(_GemmShape):
    """LUT tensor core: O[m x n] = A[m x K] @ (q - z)[K x n] by lookups in per-group tables.

    ``python -m generators params lut_tc`` lists the parameters.
    """

    family = "lut_tc"

    bit_serial: bool = param(True, kind=BOOL,
                             doc="One bit-plane per tile step (B steps per K-group), else all B "
                                 "planes in one step.")
    symmetrize: bool = param(True, kind=BOOL,
                             doc="Half tables (odd symmetry) with conditional negation; off: "
                                 "full 2**g tables, no negation.")
    preflip: bool = param(True, kind=BOOL,
                          doc="Weights pre-flipped offline so the table index needs no "
                              "inversion (needs symmetrize).")
    # Instead of two bit-planes, one lookup per pair of weights in a 4-entry table [a0, a1,
    # a0 + a1, a0 - a1] with a sign and a zero flag (the nine ternary pairs up to sign): a 4:1
    # multiplexer of act_width + 1 bits per two weights instead of two 8:1 multiplexers of
    # act_width + 3 bits per four, and no halving.
    ternary_pairs: bool = param(False, kind=BOOL,
                                applies=when("weight_format", "ternary", text="ternary weights"),
                                doc="One lookup per pair of ternary weights in a 4-entry table "
                                    "(bitnet.cpp's TL1; g = 2 or 4, bit-parallel).")
    # Bit-planes looked up two weights at a time: per pair of activations the 2-entry half
    # table [a0 + a1, a1 - a0] (sign bit set), so each lookup is a 2:1 select with its sign,
    # one LUT4 a bit, where a 2**(g-1)-entry table needs an 8:1 select per four weights.
    pair_tables: bool = param(False, kind=BOOL,
                              doc="Half tables of two activations each (g / 2 lookups per plane "
                                  "and lane; g = 2 or 4, symmetrize).")
    # The adder-tree baseline on the same streams and tile: no tables; each weight selects its
    # activation's (odd) multiple (+-a, 0 for ternary; +-a, +-3a for int2; +-a .. +-15a for
    # int4: the multiples built once per row and shared by the n columns), negated by a sign
    # bit folded into the adder's carry-in, and a tree of two-operand adders sums the g terms.
    adder_tree: bool = param(False, kind=BOOL,
                             doc="No tables: each weight selects +-(2j+1) a (0 for ternary) of "
                                 "its activation and an adder tree sums them (the baseline; "
                                 "bit-parallel, symmetrize and preflip do not apply).")

    def _check(self):
        if self.pair_tables:
            if self.g % 2:
                raise ParamValueError(f"pair_tables needs an even g (2 or 4), not {self.g}")
            if not self.symmetrize or self.ternary_pairs or self.adder_tree:
                raise ParamValueError("pair_tables needs symmetrize=True, ternary_pairs=False and "
                                      "adder_tree=False (half tables of bit-plane lookups)")
        if self.adder_tree and (self.bit_serial or self.ternary_pairs):
            raise ParamValueError("adder_tree needs bit_serial=False and ternary_pairs=False (one "
                                  "step per K-group, no tables)")
        if self.preflip and not self.symmetrize:
            raise ParamValueError("preflip needs symmetrize (pre-flipping selects the stored half "
                                  "of a symmetric table), not preflip=True with symmetrize=False")
        if self.ternary_pairs:
            if self.g % 2:
                raise ParamValueError(f"ternary_pairs needs an even g (2 or 4), not {self.g}")
            if self.bit_serial or not self.symmetrize:
                raise ParamValueError("ternary_pairs needs bit_serial=False and symmetrize=True "
                                      "(one step per K-group, tables symmetric by construction)")

    @property
    def table_entries(self):
        """Entries of a row's table (with ``ternary_pairs``: 4 for each of the g / 2 pairs; with
        ``pair_tables``: 2 for each)."""
        if self.ternary_pairs:
            return 2 * self.g
        if self.pair_tables:
            return self.g
        if self.adder_tree:
            return self.g * self.multiples
        return 1 << (self.g - 1) if self.symmetrize else 1 << self.g

    @property
    def multiples(self):
        """``adder_tree``: odd multiples (2j+1) a a weight selects from (a alone for binary and
        ternary, a and 3a for int2, a .. 15a for int4)."""
        return 1 << (self.bits - 1) if self.has_zero_point else 1

    @property
    def entry_width(self):
        """Signed width of a table entry: a sum of g terms +-a (of at most two with
        ``ternary_pairs``: a0 - a1 and a0 + a1 span [-2**w, 2**w - 1] for w = act_width)."""
        if self.ternary_pairs or self.pair_tables:
            return self.act_width + 1      # pair tables: a0 + a1 and a1 - a0 as well
        if self.adder_tree:
            return _bound_width((2 * self.multiples - 1) * (1 << (self.act_width - 1)))
        return _bound_width(self.g * (1 << (self.act_width - 1)))

    @property
    def plane_shifts(self):
        """Left shift (log2 of the weight) of each bit-plane's lookups: binary-weighted planes,
        except ternary's two thermometer planes t_b = (q > b), both of weight one (q = t0 + t1,
        so 2 (q - 1) = s0 + s1 with s_b = 2 t_b - 1: no row-sum correction at the drain)."""
        return (0, 0) if self.weight_format == "ternary" else tuple(range(self.bits))

    @property
    def acc_width(self):
        """Signed width of a lane accumulator: A @ q' with q' = sum_b 2**shift_b s_b (2q - 3 or
        2q - 2 ...); with ``zp_group`` it also takes the finished groups' 2 A (q - z), up to
        twice as large."""
        if self.ternary_pairs or (self.adder_tree and self.weight_format == "ternary"):
            return self.out_width       # the lookups add up A @ w itself
        return _bound_width(self.max_groups * self.g * (1 << (self.act_width - 1))
                            * sum(1 << b for b in self.plane_shifts) * (2 if self.zp_group else 1))

    @property
    def steps_per_group(self):
        return self.bits if self.bit_serial else 1

    @property
    def pattern_width(self):
        """Bits per column in one ``w`` beat: g (one plane) or B * g (all planes; with
        ``ternary_pairs`` 4 bits per pair, the same 2 g)."""
        return self.g * (1 if self.bit_serial else self.bits)

    @property
    def macs_per_cycle(self):
        """Weight x activation products per tile step (one step per cycle)."""
        return self.m * self.n * self.g / self.steps_per_group


@dataclasses.dataclass(frozen=True)
class MultArrayParams(_GemmShape):
    """Multiplier-array baseline: the same streams and tile, g multipliers per lane.

    Each lane dequantises its g weight codes (w = q - z), multiplies them with the g activations
    of its row and accumulates; one K-group per step, m * n * g MACs per cycle. For comparison
    figures only (no catalog entry).
    """

    family = "lut_tc_mult"

    @property
    def macs_per_cycle(self):
        return self.m * self.n * self.g

    @property
    def steps_per_group(self):
        return 1
