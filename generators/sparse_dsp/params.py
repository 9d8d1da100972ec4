"""Parameters of the sparse DSP chain (one frozen, validated object for RTL, model and tests).

Ref: FlightLLM (Zeng et al., FPGA'24, arXiv 2401.03868) §CSD-Chain; seeds.md §1.3.
"""

import dataclasses

from ..params import BlockParams, ParamTypeError, ParamValueError, check_choice, check_int

__all__ = ["SparseDspParams", "LOW_LANE_BITS", "PACK_SHIFT"]

#: Packed mode: the second activation sits 18 bits above the first in one multiplier operand,
#: (a << 18) + b, so the low lane holds sum(b * w) in 18 signed bits (WP486, seeds.md §1.3).
PACK_SHIFT = 18
LOW_LANE_BITS = 18
LOW_LANE_MAX = (1 << (LOW_LANE_BITS - 1)) - 1


def _power_of_two(value):
    return value > 0 and value & (value - 1) == 0


@dataclasses.dataclass(frozen=True)
class SparseDspParams(BlockParams):
    """A chain of ``lanes`` multipliers computing ``W @ x`` for N:M-sparse ``W``, N per tile.

    Parameters
    ----------
    lanes : int
        Multiplier lanes, a power of two from 2 to 32: non-zero weights consumed per cycle.
    m : int
        Block width M of the N:M pattern (2, 4, 8 or 16): each lane's sparse MUX picks one of M
        activations.
    supported_n : tuple of int
        The N values the chain can run (chosen per tile at run time), ascending; each divides
        ``m`` and ``lanes``. ``(m,)`` alone builds the dense-only chain (no index, no MUX).
    weight_bits : int
        Signed weight width: 2, 3, 4 or 8, sign-extended to the multiplier.
    act_bits : int
        Signed activation width (8).
    max_k : int
        Longest activation vector (the on-chip buffer), a multiple of ``m``.
    packed : bool
        Two activation vectors share each weight: one product w * ((a << 18) + b) per lane.
    oau : bool
        Packed mode: split the low 18-bit lane off before it can overflow (overflow adjust
        unit), so any ``max_k`` is exact.
    sparse_mux : str
        Where each lane's M:1 sparse MUX lives. ``"ram"``: every lane reads its own copy of the
        activation vector in block RAM at (block, index), so the MUX costs no logic; the vector
        then arrives one activation a beat (K cycles to load, as each copy takes one write a
        cycle). ``"fabric"``: one shared buffer read a block (M activations) at a time and an
        M:1 multiplexer of LUTs per lane; the vector arrives M activations a beat. Ignored by a
        dense-only chain, which has no MUX.
    """

    family = "sparse_dsp"

    lanes: int = 8
    m: int = 4
    supported_n: tuple = (1, 2, 4)
    weight_bits: int = 8
    act_bits: int = 8
    max_k: int = 256
    packed: bool = False
    oau: bool = False
    sparse_mux: str = "ram"

    def __post_init__(self):
        check_int("lanes", self.lanes, 2, 32)
        if not _power_of_two(self.lanes):
            raise ParamValueError(f"lanes must be a power of two, not {self.lanes!r}")
        check_choice("m", self.m, (2, 4, 8, 16))
        if not isinstance(self.supported_n, tuple) or not self.supported_n:
            raise ParamTypeError(f"supported_n must be a non-empty list of integers, "
                                 f"not {self.supported_n!r}")
        for n in self.supported_n:
            check_int("supported_n entries", n, 1, self.m)
            if self.m % n:
                raise ParamValueError(f"supported_n entries must divide m ({self.m}), not {n!r}")
            if self.lanes % n:
                raise ParamValueError(f"supported_n entries must divide lanes ({self.lanes}), "
                                      f"not {n!r}")
        if list(self.supported_n) != sorted(set(self.supported_n)):
            raise ParamValueError(f"supported_n must be strictly ascending, "
                                  f"not {self.supported_n!r}")
        check_choice("weight_bits", self.weight_bits, (2, 3, 4, 8))
        check_choice("act_bits", self.act_bits, (8,))
        check_int("max_k", self.max_k, self.m, 1 << 16)
        if self.max_k % self.m:
            raise ParamValueError(f"max_k must be a multiple of m ({self.m}), not {self.max_k!r}")
        for name in ("packed", "oau"):
            if not isinstance(getattr(self, name), bool):
                raise ParamTypeError(f"{name} must be True or False, not {getattr(self, name)!r}")
        check_choice("sparse_mux", self.sparse_mux, ("ram", "fabric"))
        if self.oau and not self.packed:
            raise ParamValueError("oau must be False when packed is False (it adjusts the "
                                  "packed low lane), not True")
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
