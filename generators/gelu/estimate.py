"""Resource estimate of a GELU block, from its parameters alone (see :mod:`generators.guards`).

Table methods hold two ROMs a lane (even and odd nodes); ``direct_table`` one ROM of every
output code per pair of lanes; the rest of the Verilog grows with the lanes and the datapath
widths.

Calibrated on the catalog, lanes 1..16 and 32-bit formats with 4096-entry tables (edge_moe) and
i_gelu: bytes within 1.1..1.7x of the real Verilog, seconds 1.4..3.4x.
"""

from ..guards import Estimate, Memory
from .params import TABLE_METHODS

__all__ = ["estimate"]

#: Verilog bytes outside the ROMs: BASE + lanes * (PER_LANE + PER_LANE_BIT * datapath bits),
#: by method. Fitted as an upper bound on the catalog and lanes 1..16, widths 8..32, tables up
#: to 4096 entries.
BASE = 20_000
PER_LANE = {"direct_table": 3_000, "edge_moe": 10_000, "fitted_pwl": 10_000, "i_gelu": 7_000}
PER_LANE_BIT = {"direct_table": 60, "edge_moe": 150, "fitted_pwl": 150, "i_gelu": 60}
#: i-GELU's multipliers cost more to elaborate per byte than the table lookups.
SECONDS_PER_BYTE = 25e-6


def estimate(p):
    memories = ()
    bits = p.in_width + p.out_width
    if p.method == "direct_table":
        memories = (Memory("ROM", f"rom_lanes{(p.lanes - 1) // 2 * 2}", 1 << p.in_width,
                           p.out_width, copies=(p.lanes + 1) // 2, zero=False),)
    elif p.method in TABLE_METHODS:
        entries = p.table_entries if p.method == "edge_moe" else p.table_entries_total
        width = p.table_frac + 2        # the corrections stay below 2**(table_frac + 2)
        memories = (Memory("ROM", f"lane{p.lanes - 1}_rom_even", (entries + 1) // 2, width,
                           copies=2 * p.lanes),)
        bits += p.table_frac
    logic = BASE + p.lanes * (PER_LANE[p.method] + PER_LANE_BIT[p.method] * bits)
    return Estimate(memories, logic, SECONDS_PER_BYTE * logic)
