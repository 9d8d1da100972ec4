"""Weight streams from on-chip memory: a ROM of a layer's beats, replayed in order forever."""

from amaranth.hdl import Module, Shape, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import Out

from ...hw import index_range

__all__ = ["RomStream"]


def _word(elem_width, values):
    word = 0
    for k, value in enumerate(values):
        word |= (int(value) & ((1 << elem_width) - 1)) << (k * elem_width)
    return word


class RomStream(wiring.Component):
    """Stream the ``beats`` (lists of element values) of ``layout`` (a ``data`` array and
    optionally ``last``) in order, from the first again after the final one; ``last`` on every
    ``last_every``-th beat. The next job's first beat waits at the output, so the block it
    feeds never waits for its weights."""

    def __init__(self, layout, beats, last_every=None):
        self._layout = layout
        self._has_last = "last" in layout.members
        if self._has_last != (last_every is not None):
            raise ValueError("last_every is given exactly when the layout has last")
        if last_every is not None and len(beats) % last_every:
            raise ValueError(f"{len(beats)} beats are not whole runs of {last_every}")
        elem = layout["data"].shape
        self._elem_width = Shape.cast(elem.elem_shape).width
        self._lanes = elem.length
        self._init = [_word(self._elem_width, beat) for beat in beats]
        self._last_every = last_every
        super().__init__({"o": Out(stream.Signature(layout))})

    def elaborate(self, platform):
        m = Module()
        depth = len(self._init)
        rom = Memory(shape=unsigned(self._lanes * self._elem_width), depth=max(depth, 2),
                     init=self._init * (2 if depth == 1 else 1))
        m.submodules.rom = rom
        port = rom.read_port(domain="sync")
        address = Signal(index_range(depth))
        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), port.en.eq(advance),
                     port.addr.eq(address), self.o.p.data.as_value().eq(port.data)]
        with m.If(advance):
            m.d.sync += [self.o.valid.eq(1), address.eq(address + 1)]
            with m.If(address == depth - 1):
                m.d.sync += address.eq(0)
        if self._has_last:
            step = Signal(index_range(self._last_every))
            with m.If(advance):
                m.d.sync += [self.o.p.last.eq(step == self._last_every - 1), step.eq(step + 1)]
                with m.If(step == self._last_every - 1):
                    m.d.sync += step.eq(0)
        return m
