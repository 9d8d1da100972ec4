"""The requantise adapter: :func:`generators.compose.adapters.requantize` on every lane."""

from amaranth.hdl import Const

from ...fixedpoint import Fixed
from ...hw import ElementwisePipeline, saturate

__all__ = ["Requantize"]


class Requantize(ElementwisePipeline):
    """``y = sat((x * mult + 2**(shift-1)) >> shift)`` on ``lanes`` integers a beat; two stages
    (multiply; round, shift and saturate), one beat a cycle, ``last`` carried.

    Parameters
    ----------
    lanes : int
    in_format : Fixed
        The accumulator's integer format (fraction bits are ignored: codes are scaled as is).
    requant : generators.compose.params.Requant
        With ``out_bits`` resolved.
    """

    LATENCY = 2

    def __init__(self, lanes, in_format: Fixed, requant):
        self._requant = requant
        super().__init__(lanes, in_format, Fixed(requant.out_bits, 0, requant.signed))

    @property
    def latency(self):
        return self.LATENCY

    def lane(self, m, pipe, x):
        r = self._requant
        product = pipe.stage(product=x * Const(r.mult, r.mult.bit_length() or 1))
        rounded = product + (1 << (r.shift - 1)) if r.shift else product
        return pipe.stage(y=saturate(rounded >> r.shift, self.out_format))
