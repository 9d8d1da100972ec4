"""UART-to-stream bridge: a host pushes its own beats through a block on a board and reads the
results back (the host side is ``fpga/host_bridge.py``, the ``bridge`` verb).

Wire format, both directions: each beat is its stream payload (``data`` lanes with lane 0 in the
low bits, then the other fields in layout order, exactly :mod:`generators.axis`'s packing) as
``ceil(width / 8)`` bytes, least significant byte first. A block with one input stream and one
output stream (GELU, softmax) sends nothing else: ``last`` travels inside the payload. A block
with several streams (the sparse DSP chain, the LUT tensor core, the deformable convolution)
puts one stream byte before each beat: the index of the stream among the block's input streams
(host to board) or output streams (board to host), in the order of the block's signature
(:func:`stream_indices`). UART: 8N1, 115200 baud.

Flow control: the UART has none, so each stream has a FIFO of :data:`WINDOW` beats on the board
and the host keeps at most that many beats of a stream in flight (a frame or a job of at most
``WINDOW`` beats per stream, then reads its outputs). The block sees backpressure from the output
FIFOs and the slow UART; it never drops a beat as long as the host keeps to the window. A stream
byte that names no input stream is dropped with nothing after it.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Elaboratable, Module, Shape, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from generators.axis import payload_shape, stream_members
from generators.params import check_int

from .selftest import BAUD, UartTx, _plain_pin_requests, check_selftest, check_supported, \
    frame_model

__all__ = ["WINDOW", "UartRx", "Bridge", "BridgeBoardTop", "beat_bytes", "pack_frames",
           "unpack_beats", "stream_indices", "is_multi_stream", "pack_stream_beats",
           "unpack_stream_beats"]

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


def is_multi_stream(entry):
    """Whether ``entry``'s bridge frames each beat with a stream byte (a family whose frame
    model gives jobs, one payload list per stream)."""
    return frame_model(entry).jobs is not None


def stream_indices(core):
    """``({input name: (index, layout)}, {output name: (index, layout)})`` of the stream bytes,
    in the order of the block's signature."""
    ins, outs = {}, {}
    for name, (flow, sig) in stream_members(core.signature).items():
        store = ins if flow == In else outs
        store[name] = (len(store), payload_shape(sig))
    return ins, outs


def pack_stream_beats(core, beats):
    """The bytes of ``beats`` (``[(input name, payload word)]``, in sending order) for a
    multi-stream bridge: stream byte, then the payload, least significant byte first."""
    ins, _ = stream_indices(core)
    out = bytearray()
    for name, word in beats:
        if name not in ins:
            raise ValueError(f"stream {name!r} is not an input of the block; inputs: "
                             f"{', '.join(ins)}")
        index, layout = ins[name]
        out.append(index)
        out += int(word).to_bytes(beat_bytes(layout), "little")
    return bytes(out)


def unpack_stream_beats(core, data):
    """``{output name: [payload words]}`` from the bytes a multi-stream bridge sent back; a
    stream byte that names no output, or a beat cut short, is a ValueError."""
    _, outs = stream_indices(core)
    by_index = {index: (name, layout) for name, (index, layout) in outs.items()}
    got = {name: [] for name in outs}
    at = 0
    while at < len(data):
        if data[at] not in by_index:
            known = ", ".join(f"{index} {name}" for index, (name, _) in by_index.items())
            raise ValueError(f"byte {at}: stream byte {data[at]} names no output stream "
                             f"(outputs: {known})")
        name, layout = by_index[data[at]]
        size = beat_bytes(layout)
        if at + 1 + size > len(data):
            raise ValueError(f"byte {at}: a beat of {name!r} needs {size} bytes, "
                             f"{len(data) - at - 1} left")
        got[name].append(int.from_bytes(data[at + 1:at + 1 + size], "little")
                         & ((1 << Shape.cast(layout).width) - 1))
        at += 1 + size
    return got


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
        self._multi = is_multi_stream(entry)
        self._core = check_selftest(entry) if self._multi else check_supported(entry)
        self._divisor = divisor
        self._window = window
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    @property
    def core(self):
        return self._core

    def elaborate(self, platform):
        if self._multi:
            return self._elaborate_multi()
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


    def _elaborate_multi(self):
        m = Module()
        core = self._core
        ins, outs = stream_indices(core)
        m.submodules.core = core
        m.submodules.rx = urx = UartRx(self._divisor)
        m.submodules.tx = utx = UartTx(self._divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]

        def fifos(streams, kind):
            made = []
            for name, (_, layout) in streams.items():
                fifo = SyncFIFOBuffered(width=Shape.cast(layout).width, depth=self._window)
                m.submodules[f"{kind}_{name}"] = fifo
                made.append((name, fifo, beat_bytes(layout)))
            return made

        in_fifos, out_fifos = fifos(ins, "in"), fifos(outs, "out")
        for name, fifo, _ in in_fifos:
            port = getattr(core, name)
            m.d.comb += [port.valid.eq(fifo.r_rdy), port.payload.eq(fifo.r_data),
                         fifo.r_en.eq(port.ready)]
        for name, fifo, _ in out_fifos:
            port = getattr(core, name)
            m.d.comb += [fifo.w_data.eq(port.payload), fifo.w_en.eq(port.valid),
                         port.ready.eq(fifo.w_rdy)]

        # Host to board: a stream byte, then that stream's payload bytes, least significant
        # first (each byte lands in its place of the word), then one cycle to write its FIFO.
        in_sizes = Array(Const(size, 8) for *_, size in in_fifos)
        word = Signal(8 * max(size for *_, size in in_fifos))
        which = Signal(range(len(in_fifos)))
        count = Signal(8)
        byte_in = urx.o.valid & urx.o.ready
        with m.FSM(name="rx_frame"):
            with m.State("STREAM"):
                m.d.comb += urx.o.ready.eq(1)
                with m.If(byte_in & (urx.o.payload < len(in_fifos))):
                    m.d.sync += [which.eq(urx.o.payload), count.eq(0)]
                    m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.comb += urx.o.ready.eq(1)
                with m.If(byte_in):
                    m.d.sync += [word.word_select(count, 8).eq(urx.o.payload),
                                 count.eq(count + 1)]
                    with m.If(count == in_sizes[which] - 1):
                        m.next = "WRITE"
            with m.State("WRITE"):
                for index, (_, fifo, _) in enumerate(in_fifos):
                    m.d.comb += [fifo.w_data.eq(word), fifo.w_en.eq(which == index)]
                m.next = "STREAM"

        # Board to host: the first output FIFO with a beat, its stream byte, then its bytes.
        out_sizes = Array(Const(size, 8) for *_, size in out_fifos)
        shift = Signal(8 * max(size for *_, size in out_fifos))
        sending = Signal(range(len(out_fifos)))
        left = Signal(8)
        with m.FSM(name="tx_frame"):
            with m.State("IDLE"):
                with m.If(Cat(fifo.r_rdy for _, fifo, _ in out_fifos).any()):
                    # Priority by index: the host reads until every stream has its beats.
                    for index, (_, fifo, _) in reversed(list(enumerate(out_fifos))):
                        with m.If(fifo.r_rdy):
                            m.d.sync += [sending.eq(index), shift.eq(fifo.r_data)]
                    m.next = "LATCH"
            with m.State("LATCH"):
                for index, (_, fifo, _) in enumerate(out_fifos):
                    m.d.comb += fifo.r_en.eq(sending == index)
                m.d.sync += left.eq(out_sizes[sending])
                m.next = "STREAM"
            with m.State("STREAM"):
                m.d.comb += [utx.i.payload.eq(sending), utx.i.valid.eq(1)]
                with m.If(utx.i.ready):
                    m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.comb += [utx.i.payload.eq(shift[:8]), utx.i.valid.eq(1)]
                with m.If(utx.i.ready):
                    m.d.sync += [shift.eq(shift >> 8), left.eq(left - 1)]
                    with m.If(left == 1):
                        m.next = "IDLE"
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
