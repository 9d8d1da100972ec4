"""Weight streams from on-chip memory: a ROM of a layer's beats, replayed in order forever."""

from amaranth.hdl import Cat, Module, Mux, Shape, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
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
    feeds never waits for its weights.

    The ROM's read data only fills a small FIFO whose output register drives the stream: a
    block RAM's clock-to-output, slow on FPGAs, never meets the consumer's logic (measured on
    ECP5: 64.9 MHz with the ROM's port feeding the LUT tensor core's lookups directly)."""

    #: FIFO entries: the output register, the read in flight and the FIFO's own turn-around;
    #: with 3 a beat leaves only three cycles in four (measured), with 4 every cycle.
    DEPTH = 4

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
        width = self._lanes * self._elem_width
        rom = Memory(shape=unsigned(width), depth=max(depth, 2),
                     init=self._init * (2 if depth == 1 else 1))
        m.submodules.rom = rom
        port = rom.read_port(domain="sync")
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=width + self._has_last,
                                                    depth=self.DEPTH)
        address = Signal(index_range(depth))
        step = Signal(index_range(self._last_every or 1))
        in_flight, in_flight_last = Signal(), Signal()
        issue = Signal()
        # A read issued now is written into the FIFO next cycle: issue only while it has room
        # for it beside the entries it holds and the read already in flight.
        m.d.comb += [issue.eq(fifo.level + in_flight < self.DEPTH), port.en.eq(issue),
                     port.addr.eq(address)]
        m.d.sync += in_flight.eq(issue)
        with m.If(issue):
            m.d.sync += address.eq(Mux(address == depth - 1, 0, address + 1))
            if self._has_last:
                end = step == self._last_every - 1
                m.d.sync += [in_flight_last.eq(end), step.eq(Mux(end, 0, step + 1))]
        m.d.comb += [fifo.w_en.eq(in_flight), fifo.w_data.eq(Cat(port.data, in_flight_last)),
                     self.o.valid.eq(fifo.r_rdy), fifo.r_en.eq(self.o.ready),
                     self.o.p.data.as_value().eq(fifo.r_data[:width])]
        if self._has_last:
            m.d.comb += self.o.p.last.eq(fifo.r_data[width])
        return m
