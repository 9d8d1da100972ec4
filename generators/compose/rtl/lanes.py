"""Lane adapters: the same elements in beats of fewer (:class:`Narrow`) or more (:class:`Widen`)
lanes, lane 0 first; ``last`` moves to the final beat of the beat (or group) that carried it."""

from amaranth.hdl import Array, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ...hw import index_range, lanes_stream

__all__ = ["Narrow", "Widen"]


class Narrow(wiring.Component):
    """One beat of ``wide`` lanes in, ``wide // narrow`` beats of ``narrow`` lanes out.

    A register holds the wide beat while its pieces leave; the next beat enters as the last
    piece does, so ``narrow`` elements leave every cycle."""

    #: Cycles from a beat's input transfer to its first piece's output valid.
    LATENCY = 1

    def __init__(self, wide, narrow, fmt):
        if wide % narrow:
            raise ValueError(f"narrow must divide wide, not {narrow} and {wide}")
        self._wide, self._narrow = wide, narrow
        super().__init__({"i": In(lanes_stream(wide, fmt)), "o": Out(lanes_stream(narrow, fmt))})

    def elaborate(self, platform):
        m = Module()
        pieces = self._wide // self._narrow
        held = Signal.like(self.i.payload)
        have = Signal()
        piece = Signal(index_range(pieces))
        final = Signal()
        m.d.comb += final.eq(piece == pieces - 1)
        chunks = Array(Array(held.data[k * self._narrow + j] for j in range(self._narrow))
                       for k in range(pieces))
        m.d.comb += [self.o.valid.eq(have), self.o.p.last.eq(held.last & final),
                     self.i.ready.eq(~have | (self.o.ready & final))]
        m.d.comb += [self.o.p.data[j].eq(chunks[piece][j]) for j in range(self._narrow)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [held.eq(self.i.payload), have.eq(1), piece.eq(0)]
        with m.Elif(self.o.valid & self.o.ready):
            m.d.sync += piece.eq(piece + 1)
            with m.If(final):
                m.d.sync += [have.eq(0), piece.eq(0)]
        return m


class Widen(wiring.Component):
    """``wide // narrow`` beats of ``narrow`` lanes in, one beat of ``wide`` lanes out; ``last``
    of the group's final beat."""

    def __init__(self, narrow, wide, fmt):
        if wide % narrow:
            raise ValueError(f"narrow must divide wide, not {narrow} and {wide}")
        self._wide, self._narrow = wide, narrow
        super().__init__({"i": In(lanes_stream(narrow, fmt)), "o": Out(lanes_stream(wide, fmt))})

    def elaborate(self, platform):
        m = Module()
        pieces = self._wide // self._narrow
        piece = Signal(index_range(pieces))
        full = Signal()
        final = Signal()
        m.d.comb += [final.eq(piece == pieces - 1), self.o.valid.eq(full),
                     self.i.ready.eq(~full | self.o.ready)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += full.eq(0)
        with m.If(self.i.valid & self.i.ready):
            for k in range(pieces):
                with m.If(piece == k):
                    m.d.sync += [self.o.p.data[k * self._narrow + j].eq(self.i.p.data[j])
                                 for j in range(self._narrow)]
            m.d.sync += piece.eq(piece + 1)
            with m.If(final):
                m.d.sync += [full.eq(1), piece.eq(0), self.o.p.last.eq(self.i.p.last)]
        return m
