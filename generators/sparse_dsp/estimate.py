"""Resource estimate of a sparse DSP chain, from its parameters alone (see
:mod:`generators.guards`).

The activation buffer is double-banked (two vectors of ``max_k``): one copy per lane when the
sparse MUX is in block RAM, else one shared buffer of M activations a word. The rest of the
Verilog grows with the lanes and M (and 2 M packed); fabric multiplexers cost more, in bytes
and far more in elaboration time.

Calibrated on the catalog and 32 lanes of M = 16 with max_k 1024..16384 (ram, fabric, dense)
and packed M = 4 (max_k 256 and 8192): bytes within 1.0..2x of the real Verilog, seconds
0.8..4.1x.
"""

from ..guards import Estimate, Memory

__all__ = ["estimate"]

BASE = 40_000
PER_LANE = 3_000
PER_LANE_INPUT = 150                # per lane and activation of a block (M, or 2 M packed)
PER_FABRIC_INPUT = 250              # more, with the multiplexer in LUTs
PER_PACKED_LANE = 8_000             # the second vector's lane split and overflow adjust
SECONDS_PER_FABRIC_INPUT = 20e-3
SECONDS_PER_BYTE = 10e-6


def estimate(p):
    vectors = 2 if p.packed else 1
    beats = p.max_k // p.x_per_beat
    depth = 2 << max(1, (beats - 1).bit_length())
    if p.ram_mux:
        buffer = Memory("lane buffer", f"buffer_{p.lanes - 1}", depth, p.act_bits * vectors,
                        copies=p.lanes)
    else:
        buffer = Memory("activation buffer", "buffer", depth, p.act_bits * p.m * vectors)
    inputs = p.m * vectors
    fabric = inputs if not (p.ram_mux or p.dense_only) else 0
    logic = BASE + p.lanes * (PER_LANE + PER_LANE_INPUT * inputs + PER_FABRIC_INPUT * fabric
                              + PER_PACKED_LANE * p.packed)
    seconds = SECONDS_PER_BYTE * logic + SECONDS_PER_FABRIC_INPUT * p.lanes * fabric
    return Estimate((buffer,), logic, seconds)
