"""Resource estimate of a composed layer: its parts' estimates plus its buffers and ROMs."""

from ..gelu import FAMILY as GELU
from ..guards import Estimate, Memory
from ..lut_tc import FAMILY as LUT_TC

__all__ = ["estimate"]

#: Verilog bytes of the adapters, buffers' control and joins, a bound from the example layer.
GLUE_BYTES = 60_000


def estimate(p):
    parts = [LUT_TC.estimate(p.linear1), LUT_TC.estimate(p.linear2), GELU.estimate(p.gelu_params)]
    l1, l2 = p.linear1, p.linear2
    memories = [m for part in parts for m in part.memories] + [
        Memory("activation buffer", "row0", 2 * p.d_in // l1.g, 8 * l1.g, copies=p.rows),
        Memory("hidden buffer", "row0", 2 * p.hidden // l2.g, 8 * l2.g, copies=p.rows),
        Memory("weight ROM", "rom", p.tiles1 * p.steps1, l1.n * l1.pattern_width, zero=False),
        Memory("weight ROM", "rom", p.tiles2 * p.steps2, l2.n * l2.pattern_width, zero=False),
    ]
    logic = sum(part.logic_bytes for part in parts) + GLUE_BYTES
    seconds = sum(part.elaboration_seconds for part in parts)
    return Estimate(tuple(memories), logic, seconds)
