"""Parameters of the sparse DSP chain (one frozen, validated object for RTL, model and tests).

Ref: FlightLLM (Zeng et al., FPGA'24, arXiv 2401.03868) §CSD-Chain; seeds.md §1.3.
"""

import dataclasses

from ..params import BOOL, INT, INT_LIST, STR, BlockParams, ParamValueError, param, show, when

__all__ = ["SparseDspParams", "LOW_LANE_BITS", "PACK_SHIFT"]

#: Packed mode: the second activation sits 18 bits above the first in one multiplier operand,
#: (a << 18) + b, so the low lane holds sum(b * w) in 18 signed bits (WP486, seeds.md §1.3).
PACK_SHIFT = 18
LOW_LANE_BITS = 18
LOW_LANE_MAX = (1 << (LOW_LANE_BITS - 1)) - 1


@dataclasses.dataclass(frozen=True)
class SparseDspParams(BlockParams):
    """A chain of ``lanes`` multipliers computing ``W @ x`` for N:M-sparse ``W``, N per tile.

    ``python -m generators params sparse_dsp`` lists the parameters.
    """

    family = "sparse_dsp"

    lanes: int = param(8, kind=INT, low=2, high=32, power_of_two=True,
                       doc="Multiplier lanes: non-zero weights consumed per cycle.")
    m: int = param(4, kind=INT, choices=(2, 4, 8, 16),
                   doc="Block width M of the N:M pattern: each lane's sparse MUX picks one of M "
                       "activations.")
    supported_n: tuple = param((1, 2, 4), kind=INT_LIST, low=1, high="m",
                               allowed="1..m, ascending, each dividing m and lanes",
                               doc="The N values the chain can run (chosen per tile at run time), "
                                   "ascending, each dividing m and lanes; [m] alone builds the "
                                   "dense-only chain (no index, no MUX).")
    weight_bits: int = param(8, kind=INT, choices=(2, 3, 4, 8),
                             doc="Signed weight width, sign-extended to the multiplier.")
    act_bits: int = param(8, kind=INT, choices=(8,), doc="Signed activation width.")
    max_k: int = param(256, kind=INT, low="m", high=1 << 16, multiple_of="m",
                       allowed="m..65536, a multiple of m; less with packed = true and oau = false",
                       doc="Longest activation vector (the on-chip buffer).")
    packed: bool = param(False, kind=BOOL,
                         doc="Two activation vectors share each weight: one product "
                             "w * ((a << 18) + b) per lane.")
    oau: bool = param(False, kind=BOOL, applies=when("packed", True),
                      doc="Split the packed low 18-bit lane off before it can overflow (overflow "
                          "adjust unit), so any max_k is exact.")
    # "ram": every lane reads its own copy of the activation vector in block RAM at (block,
    # index), so the MUX costs no logic; the vector then arrives one activation a beat (K cycles
    # to load, as each copy takes one write a cycle). "fabric": one shared buffer read a block
    # (M activations) at a time and an M:1 multiplexer of LUTs per lane; the vector arrives M
    # activations a beat.
    sparse_mux: str = param("ram", kind=STR, choices=("ram", "fabric"),
                            doc="Where each lane's M:1 sparse MUX lives: ram (a copy of the "
                                "activations per lane in block RAM) or fabric (LUT "
                                "multiplexers); ignored by a dense-only chain.")

    def _check(self):
        for n in self.supported_n:
            if self.m % n:
                raise ParamValueError(f"supported_n entries must divide m ({self.m}), not {n!r}")
            if self.lanes % n:
                raise ParamValueError(f"supported_n entries must divide lanes ({self.lanes}), "
                                      f"not {n!r}")
        if list(self.supported_n) != sorted(set(self.supported_n)):
            raise ParamValueError(f"supported_n must be strictly ascending, "
                                  f"not {show(self.supported_n)}")
        if self.packed and not self.oau and self.max_row_terms * self.max_product > LOW_LANE_MAX:
            limit = LOW_LANE_MAX // self.max_product // self.supported_n[-1] * self.m
            raise ParamValueError(
                f"max_k must be at most {limit} with packed=True and oau=False (a row's "
                f"products could overflow the {LOW_LANE_BITS}-bit low lane), not "
                f"{self.max_k!r}; set oau=True to allow it")

    # -- derived ---------------------------------------------------------------------------------
    @property
    def dense_only(self):
        """Only N = M: lanes read fixed activations, the stream carries no indices."""
        return self.supported_n == (self.m,)

    @property
    def ram_mux(self):
        """Each lane reads its own copy of the activations (the sparse MUX in block RAM)."""
        return self.sparse_mux == "ram" and not self.dense_only

    @property
    def x_per_beat(self):
        """Activations of each vector per ``x`` beat."""
        return 1 if self.ram_mux else self.m

    @property
    def index_bits(self):
        return 0 if self.dense_only else (self.m - 1).bit_length()

    @property
    def n_code_bits(self):
        """Width of a beat's N code (log2 N)."""
        return max(1, (self.m.bit_length() - 1).bit_length())

    @property
    def max_groups(self):
        """Output slots: rows a tile holds at the smallest N."""
        return self.lanes // self.supported_n[0]

    @property
    def max_product(self):
        """Largest |w * x| (both at their most negative code)."""
        return 1 << (self.weight_bits - 1 + self.act_bits - 1)

    @property
    def max_row_terms(self):
        """Most products one row sums: N per M-wide block of K at the largest N."""
        return self.max_k // self.m * self.supported_n[-1]

    @property
    def acc_bits(self):
        """Signed width that holds any row's sum: never overflows for K up to ``max_k``."""
        return (self.max_row_terms * self.max_product).bit_length() + 1

    @property
    def oau_level(self):
        """Packed with OAU: adder-tree level (2**level products) whose sums are split into two
        lanes, the last level whose low lane cannot overflow (capped at the tree's root)."""
        level = 0
        while (2 << level) * self.max_product <= LOW_LANE_MAX and (2 << level) <= self.lanes:
            level += 1
        return level
