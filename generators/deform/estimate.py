"""Resource estimate of a deformable convolution block, from its parameters alone (see
:mod:`generators.guards`).

The line buffer holds ``rows`` rows of ``w_max`` pixels of ``c_max`` channels, ``pe`` a word; the
weight memory one beat per channel group. The rest of the Verilog grows with the multipliers
(full mode's share more control a multiplier); its elaboration also with the line-buffer rows
the taps select from, per lane and bilinear pass.

Calibrated on the catalog and depthwise maps up to 128 x 128 x 256, full mode pe = po = 4..16
and bilinear d_max 4..31: bytes within 1.0..1.5x of the real Verilog, seconds 0.8..2.9x.
"""

from ..guards import Estimate, Memory

__all__ = ["estimate"]

BASE = 120_000
PER_MAC = {"depthwise": 2_500, "full": 1_300}   # bytes per multiply-accumulate of an issue
SECONDS_PER_BYTE = 15e-6
SECONDS_PER_ROW_LANE_PASS = 3e-3


def estimate(p):
    memories = (Memory("line buffer", "lbuf", p.rows * p.w_max * p.groups_max, 8 * p.pe),
                Memory("weight memory", "wmem", p.weight_beats_max, p.beat_bits))
    logic = BASE + PER_MAC[p.mode] * p.macs_per_issue
    seconds = SECONDS_PER_BYTE * logic + SECONDS_PER_ROW_LANE_PASS * p.rows * p.pe * p.passes
    return Estimate(memories, logic, seconds)
