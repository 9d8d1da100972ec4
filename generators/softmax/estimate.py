"""Resource estimate of a softmax block, from its parameters alone (see
:mod:`generators.guards`).

The vectors wait in a ring of a power of two beats beside a FIFO of per-vector results (I-BERT's
form: a logit ring, an exponent ring and two FIFOs); the rest of the Verilog grows with the lanes,
the widths and the segment tables.

Calibrated on the catalog, lanes 1..16 with max_len up to 65536 (base2 and ibert) and 32-bit
formats with 2**8-segment tables: bytes within 1.1..1.9x of the real Verilog, seconds 0.7..2.8x.
"""

from ..guards import Estimate, Memory

__all__ = ["estimate"]

#: Cycles the pipeline holds beyond a vector's beats, at most (latencies, FIFO slack).
SLACK = 64
#: Bits of a FIFO entry beside the maximum (and the reciprocal), at most: exponent guard bits,
#: the sum's lead, flags and the vector length.
FIFO_EXTRA_BITS = 40
#: I-BERT's FIFO entries: a maximum or a 2**32 / sum factor, a flag and the length.
IBERT_FIFO_BITS = 64

#: Verilog bytes outside the memories: BASE + lanes * (PER_LANE_BIT * widths + PER_LANE_SEGMENT
#: * segments). Fitted as an upper bound on the catalog and lanes 1..16, max_len up to 65536,
#: widths 8..32 and segment tables up to 2**8.
BASE = 80_000
PER_LANE_BIT = 350
PER_LANE_SEGMENT = 200
SECONDS_PER_BYTE = 12e-6


def _depth(beats):
    return 1 << (beats + SLACK - 1).bit_length()


def estimate(p):
    beats = p.max_len // p.lanes
    depth = _depth(beats)
    logits = Memory("logit ring", "ring", depth, p.lanes * (p.in_width + 1))
    if p.method == "ibert":
        memories = (logits, Memory("exponent ring", "exps", depth, p.lanes * 7),
                    Memory("FIFO", "storage", depth + SLACK, max(p.in_width + 18, IBERT_FIFO_BITS),
                           copies=2))
        segments = 16
    else:
        memories = (logits, Memory("FIFO", "storage", depth + SLACK,
                                   p.in_width + p.recip_frac + FIFO_EXTRA_BITS))
        segments = (1 << p.exp_segments_log2) + (1 << p.recip_segments_log2)
    widths = p.in_width + p.out_width + p.exp_frac + p.recip_frac
    logic = BASE + p.lanes * (PER_LANE_BIT * widths + PER_LANE_SEGMENT * segments)
    return Estimate(memories, logic, SECONDS_PER_BYTE * logic)
