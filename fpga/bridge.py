"""UART-to-stream bridge: a host pushes its own beats through a block on a board and reads the
results back (the host side is ``fpga/host_bridge.py``, the ``bridge`` verb).

Wire format, both directions: each beat is its stream payload (``data`` lanes with lane 0 in the
low bits, then the other fields in layout order, exactly :mod:`generators.axis`'s packing) as
``ceil(width / 8)`` bytes, least significant byte first. Nothing else is sent: no framing bytes,
since ``last`` travels inside the payload. UART: 8N1, 115200 baud.

Flow control: the UART has none, so both directions have a FIFO of :data:`WINDOW` beats and the
host keeps at most that many beats in flight (sends a frame of at most ``WINDOW`` beats, then
reads its outputs). The block sees backpressure from the output FIFO and the slow UART; it never
drops a beat as long as the host keeps to the window.
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, Shape, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from generators.axis import payload_shape, stream_members
from generators.params import check_int

from .selftest import BAUD, UartTx, _plain_pin_requests, check_supported

__all__ = ["WINDOW", "UartRx", "Bridge", "BridgeBoardTop", "beat_bytes", "pack_frames",
           "unpack_beats"]

WINDOW = 64


def beat_bytes(layout):
    return (Shape.cast(layout).width + 7) // 8


def _layouts(core):
    streams = stream_members(core.signature)
    return payload_shape(streams["i"][1]), payload_shape(streams["o"][1])


def pack_frames(core, frames, masks=None):
    """The bytes that carry ``frames`` (lists of codes, a whole number of beats each) to the
    block ``core``; ``masks`` per frame when its input has a ``mask`` field."""
    in_layout, _ = _layouts(core)
    lanes = in_layout.members["data"].length
    size = beat_bytes(in_layout)
    out = bytearray()
    for index, frame in enumerate(frames):
        if len(frame) % lanes:
            raise ValueError(f"frame {index} has {len(frame)} elements, not a multiple of "
                             f"the {lanes} lanes")
        mask = masks[index] if masks else [False] * len(frame)
        beats = len(frame) // lanes
        for beat in range(beats):
            lane = slice(beat * lanes, (beat + 1) * lanes)
            fields = {"data": [int(v) for v in frame[lane]], "last": int(beat == beats - 1)}
            if "mask" in in_layout.members:
                fields["mask"] = sum(int(b) << k for k, b in enumerate(mask[lane]))
            if "keep" in in_layout.members:
                fields["keep"] = (1 << lanes) - 1      # tkeep: every lane is an element
            out += in_layout.const(fields).as_bits().to_bytes(size, "little")
    return bytes(out)


def unpack_beats(core, data):
    """Output frames (lists of codes) from the bytes the bridge sent back; a trailing partial
    frame (no ``last`` yet) is returned as the last list."""
    _, out_layout = _layouts(core)
    size = beat_bytes(out_layout)
    if len(data) % size:
        raise ValueError(f"{len(data)} bytes are not a whole number of {size}-byte beats")
    frames, frame = [], []
    for start in range(0, len(data), size):
        bits = (int.from_bytes(data[start:start + size], "little")
                & ((1 << Shape.cast(out_layout).width) - 1))
        beat = out_layout.from_bits(bits)
        frame += [int(beat.data[k]) for k in range(out_layout.members["data"].length)]
        if beat.last:
            frames.append(frame)
            frame = []
    return frames + ([frame] if frame else [])


class UartRx(wiring.Component):
    """UART receiver, 8N1: bytes on ``o``, sampled in the middle of each bit.

    ``rx`` is synchronised by two registers. A byte waits on ``o`` until taken; one that
    completes while the previous is still waiting is dropped (the host's window prevents it).

    Members
    -------
    rx : In(1)
    o : Out(stream.Signature(8))
    """

    def __init__(self, divisor):
        check_int("divisor", divisor, 4, 1 << 20)
        self._divisor = divisor
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        d = self._divisor
        sync1, rx = Signal(init=1), Signal(init=1)
        m.d.sync += [sync1.eq(self.rx), rx.eq(sync1)]
        timer = Signal(range(d + d // 2 + 1))
        bits = Signal(8)
        count = Signal(range(9))
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    # First sample one and a half bits after the start edge: mid data bit 0.
                    m.d.sync += [timer.eq(d + d // 2 - 1), count.eq(0)]
                    m.next = "BITS"
            with m.State("BITS"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [bits.eq((bits >> 1) | (rx << 7)), count.eq(count + 1),
                                 timer.eq(d - 1)]
                    with m.If(count == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    with m.If(rx & (~self.o.valid | self.o.ready)):
                        m.d.sync += [self.o.payload.eq(bits), self.o.valid.eq(1)]
                    m.next = "IDLE"
        return m


class Bridge(wiring.Component):
    """The block of ``entry`` between a UART receiver and transmitter (see the module docstring).

    Members
    -------
    rx : In(1)
    tx : Out(1)
    """

    def __init__(self, entry, *, divisor, window=WINDOW):
        check_int("window", window, 2, 4096)
        self._core = check_supported(entry)
        self._divisor = divisor
        self._window = window
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    @property
    def core(self):
        return self._core

    def elaborate(self, platform):
        m = Module()
        core = self._core
        in_layout, out_layout = _layouts(core)
        n_in, n_out = beat_bytes(in_layout), beat_bytes(out_layout)
        m.submodules.core = core
        m.submodules.rx = urx = UartRx(self._divisor)
        m.submodules.tx = utx = UartTx(self._divisor)
        m.submodules.in_fifo = in_fifo = SyncFIFOBuffered(width=8 * n_in, depth=self._window)
        m.submodules.out_fifo = out_fifo = SyncFIFOBuffered(width=Shape.cast(out_layout).width,
                                                            depth=self._window)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]

        # Bytes to beats: shift in from the top, so the first (least significant) byte ends low.
        shift = Signal(8 * n_in)
        got = Signal(range(n_in + 1))
        m.d.comb += [urx.o.ready.eq(got < n_in)]
        with m.If(urx.o.valid & urx.o.ready):
            m.d.sync += [shift.eq((shift >> 8) | (urx.o.payload << (8 * (n_in - 1)))),
                         got.eq(got + 1)]
        m.d.comb += [in_fifo.w_data.eq(shift), in_fifo.w_en.eq(got == n_in)]
        with m.If(in_fifo.w_en & in_fifo.w_rdy):
            m.d.sync += got.eq(0)

        m.d.comb += [core.i.valid.eq(in_fifo.r_rdy), core.i.payload.eq(in_fifo.r_data),
                     in_fifo.r_en.eq(core.i.ready),
                     out_fifo.w_data.eq(core.o.payload), out_fifo.w_en.eq(core.o.valid),
                     core.o.ready.eq(out_fifo.w_rdy)]

        # Beats to bytes, least significant first.
        out_shift = Signal(8 * n_out)
        left = Signal(range(n_out + 1))
        m.d.comb += [out_fifo.r_en.eq(left == 0), utx.i.payload.eq(out_shift[:8]),
                     utx.i.valid.eq(left != 0)]
        with m.If(out_fifo.r_rdy & out_fifo.r_en):
            m.d.sync += [out_shift.eq(out_fifo.r_data), left.eq(n_out)]
        with m.Elif(utx.i.valid & utx.i.ready):
            m.d.sync += [out_shift.eq(out_shift >> 8), left.eq(left - 1)]
        return m


class BridgeBoardTop(Elaboratable):
    """The bridge on a board: the platform's clock and its UART (LEDs unused)."""

    def __init__(self, entry, board):
        self.bridge = Bridge(entry, divisor=round(board.clock_hz / BAUD))

    def elaborate(self, platform):
        m = Module()
        m.submodules.bridge = bridge = self.bridge
        with _plain_pin_requests():
            uart = platform.request("uart", 0)
        m.d.comb += [bridge.rx.eq(uart.rx.i), uart.tx.o.eq(bridge.tx)]
        return m
