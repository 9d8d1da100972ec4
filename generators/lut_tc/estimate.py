"""Resource estimate of a LUT tensor core block, from its parameters alone (see
:mod:`generators.guards`).

The core holds no memories; its Verilog grows with the tile (m x n lanes), the bit-planes a
cycle, the table and the widths, plus per column for the zero-point groups, requantisation and
accumulator input. Its elaboration grows faster than its size (as size ** 1.5: the wide adder
trees), measured from 1 s (catalog) to 77 s (m = 4, n = 32, int4, parallel, 16-bit
activations), seconds 1.8..4.2x; bytes within 1.1..2.1x of the real Verilog.
"""

from ..guards import Estimate

__all__ = ["estimate"]

BASE = 30_000
PER_LANE_BIT = 60
PER_COLUMN_OPTION = 6_000       # per column, for each of zp_group, requant, acc_in
SECONDS_PER_BYTE_1_5 = 9e-8


def estimate(p):
    planes = 1 if p.bit_serial else p.bits
    bits = p.act_width + p.acc_width + 4 * planes * p.table_entries
    options = (p.zp_group is not None) + p.requant + p.acc_in
    logic = BASE + PER_LANE_BIT * p.m * p.n * bits + PER_COLUMN_OPTION * p.n * options
    return Estimate((), logic, SECONDS_PER_BYTE_1_5 * logic ** 1.5)
