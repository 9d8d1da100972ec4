"""Built-in self-test: a catalog block, its test vectors and its golden outputs on one chip.

Every input stream has a ROM of its input beats and every output stream a ROM of the golden
model's expected beats (the family descriptor's ``frame_model``: one frame, or one job per
stream). A run streams every input beat and compares every output beat, payload bits and
``last`` included; it fails on a mismatch, on a beat missing when the block goes quiet (a
watchdog) and on a beat too many. Inputs start in the order the family gives, each after the
previous one's first transfer. Runs repeat forever, each with the next of eight traffic settings
(run number mod 8; bit 0 random ``valid`` gaps, bit 1 random ``ready`` backpressure, each stream
its own 16-bit LFSR; bit 2 the last input stream starts ``SelfTest.LATE_CYCLES`` late), and the
block is held in reset between runs.

After each run one line goes out over the UART (8N1, hex numbers; beats counts output beats)::

    gelu_int8 PASS run=0003 traffic=3 errors=0000 beats=0040/0040

and the pass LED is lit while every run so far passed, the fail LED from the first failure on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings

import numpy as np
from amaranth.hdl import Cat, Const, Elaboratable, Module, Mux, ResetInserter, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from generators.axis import payload_shape, stream_members
from generators.families import FAMILIES
from generators.params import ParamValueError, check_int

__all__ = ["frame_model", "Vectors", "make_vectors", "check_supported", "check_selftest",
           "pack_payload", "UartTx", "SelfTest",
           "BoardTop", "summary_text", "BAUD"]

BAUD = 115200


def _self_testable():
    return [name for name, family in FAMILIES.items() if family.frame_model is not None]


def frame_model(entry):
    """The :class:`generators.family.FrameModel` of ``entry``'s family; refuse, naming the
    families that have one, a family without."""
    family = FAMILIES.get(entry.params.family)
    if family is None or family.frame_model is None:
        raise ParamValueError(
            f"{entry.name}: the self-test supports the families "
            f"{', '.join(map(repr, _self_testable()))}, not {entry.params.family!r} (it needs "
            f"the golden model of one frame: the frame_model of the family's descriptor)")
    return family.frame_model


_IN_FIELDS = {"data", "last", "mask", "keep"}
_OUT_FIELDS = {"data", "last", "keep"}


def check_supported(entry, core=None):
    """Refuse, with a message naming what is wrong, an entry the self-test cannot drive."""
    frame_model(entry)
    if core is None:
        core = entry.family.core(entry.params)
        core._MustUse__silence = True     # built only to read its signature here
    streams = stream_members(core.signature)
    shape = {name: ("in" if flow == In else "out") for name, (flow, _) in streams.items()}
    if shape != {"i": "in", "o": "out"}:
        raise ParamValueError(f"{entry.name}: the self-test needs exactly one input stream 'i' "
                              f"and one output stream 'o', not {shape}")
    for name, allowed in (("i", _IN_FIELDS), ("o", _OUT_FIELDS)):
        layout = payload_shape(streams[name][1])
        fields = set(getattr(layout, "members", {}))
        if "data" not in fields or not fields <= allowed or \
                not isinstance(layout.members["data"], data.ArrayLayout):
            raise ParamValueError(f"{entry.name}: stream {name!r} payload fields must be "
                                  f"{sorted(allowed)} with data an array of lanes, not "
                                  f"{sorted(fields)}")
    return core


def check_selftest(entry, core=None):
    """Refuse an entry the self-test cannot drive: a family without a frame model, or (for a
    frame model of one frame) a block not of the one-in/one-out shape; return the core."""
    model = frame_model(entry)
    if model.jobs is None:
        return check_supported(entry, core)
    if core is None:
        core = entry.family.core(entry.params)
        core._MustUse__silence = True     # built only to read its signature here
    return core


@dataclasses.dataclass(frozen=True)
class Vectors:
    """Test vectors of one self-test: per stream member, the packed payload of every beat as
    its ROM holds it; inputs in the order their streams start."""

    inputs: dict            # input member -> tuple of payload words
    outputs: dict           # output member -> tuple of expected payload words
    frames: tuple = ()      # one-in/one-out families: ((codes...), (mask bits...)) per frame
    expected: tuple = ()    # one-in/one-out families: output codes per frame

    @property
    def beats(self):
        """Input beats, all streams."""
        return sum(map(len, self.inputs.values()))

    @property
    def out_beats(self):
        """Expected output beats, all streams."""
        return sum(map(len, self.outputs.values()))

    @property
    def in_words(self):
        return next(iter(self.inputs.values()))

    @property
    def out_words(self):
        return next(iter(self.outputs.values()))


def _code_range(shape):
    shape = Shape.cast(shape)
    if shape.signed:
        return -(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1
    return 0, (1 << shape.width) - 1


def pack_payload(shape, value, where="payload"):
    """The bits of ``value`` (a payload dict as the harness writes it: dicts for structs, lists
    for arrays, integers for fields; an integer for a whole struct or array gives its raw bits)
    in the layout ``shape``; a field left out is 0. Generic: a field a layout gains (a ``keep``,
    say) becomes part of the word without code here."""
    if isinstance(value, int) or isinstance(value, np.integer):
        width = Shape.cast(shape).width if not isinstance(shape, data.Layout) else shape.size
        return int(value) & ((1 << width) - 1)
    if isinstance(shape, data.StructLayout):
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be a dict of {list(shape.members)}, not {value!r}")
        unknown = set(value) - set(shape.members)
        if unknown:
            raise ValueError(f"{where} has fields the layout does not: {sorted(unknown)} "
                             f"(fields: {list(shape.members)})")
        word = 0
        for name, field in shape:
            if name in value:
                word |= pack_payload(field.shape, value[name], f"{where}.{name}") << field.offset
        return word
    if isinstance(shape, data.ArrayLayout):
        if len(value) != shape.length:
            raise ValueError(f"{where} must have {shape.length} lanes, not {len(value)}")
        elem = Shape.cast(shape.elem_shape).width
        return sum(pack_payload(shape.elem_shape, v, f"{where}[{k}]") << (k * elem)
                   for k, v in enumerate(value))
    raise ValueError(f"{where}: cannot pack {value!r} into {shape!r}")


def _frame_vectors(entry, core, beats, rng):
    """One-in/one-out families: frames of 1..8 beats from the family's frame golden model."""
    streams = stream_members(core.signature)
    in_layout = payload_shape(streams["i"][1])
    lanes = in_layout.members["data"].length
    low, high = _code_range(in_layout.members["data"].elem_shape)
    model, longest = frame_model(entry)[:2]
    max_len = longest(entry.params)
    max_beats = max(1, min(8, (max_len // lanes) if max_len else 8))
    has_mask = "mask" in in_layout.members
    # tkeep (one bit per lane): every lane holds an element, in and out.
    keep = {"keep": (1 << lanes) - 1} if "keep" in in_layout.members else {}
    out_keep = keep if "keep" in payload_shape(streams["o"][1]).members else {}
    lengths, left = [], beats
    while left:
        n = min(left, int(rng.integers(1, max_beats + 1)))
        lengths.append(n)
        left -= n
    frames, expected, ins, outs = [], [], [], []
    for index, n in enumerate(lengths):
        size = n * lanes
        # The first frames hold the corner codes: bottom, top and zero of the input range.
        corner = (low, high, 0)
        x = (np.full(size, corner[index], dtype=np.int64) if index < len(corner)
             else rng.integers(low, high + 1, size))
        mask = (rng.random(size) < 0.2) if has_mask and index >= len(corner) else \
            np.zeros(size, dtype=bool)
        y = [int(v) for v in model(entry.params, x, mask)]
        frames.append((tuple(int(v) for v in x), tuple(bool(b) for b in mask)))
        expected.append(tuple(y))
        for beat in range(n):
            lane = slice(beat * lanes, (beat + 1) * lanes)
            last = int(beat == n - 1)
            fields = {"data": [int(v) for v in x[lane]], "last": last, **keep}
            if has_mask:
                fields["mask"] = sum(int(b) << k for k, b in enumerate(mask[lane]))
            ins.append(fields)
            outs.append({"data": y[lane], "last": last, **out_keep})
    return {"i": ins}, {"o": outs}, tuple(frames), tuple(expected)


def make_vectors(entry, core, *, beats=64, seed=1, corrupt=False):
    """Seeded vectors for ``entry`` and the golden outputs: ``beats`` input beats in frames
    (one-in/one-out families), or seeded jobs of the family's ``jobs`` model until the input
    streams hold at least ``beats`` beats (the first job small); ``corrupt`` flips one bit of
    one expected beat (the negative test)."""
    check_int("beats", beats, 1, 4096)
    model = frame_model(entry)
    rng = np.random.default_rng(seed)
    frames = expected = ()
    if model.jobs is None:
        inputs, outputs, frames, expected = _frame_vectors(entry, core, beats, rng)
    else:
        inputs, outputs = {}, {}
        while sum(map(len, inputs.values())) < beats or not inputs:
            job_in, job_out = model.jobs(entry.params, rng, 0.25 if not inputs else None)
            for store, job in ((inputs, job_in), (outputs, job_out)):
                for name, payloads in job.items():
                    store.setdefault(name, []).extend(payloads)
    streams = stream_members(core.signature)
    words = []
    for store in (inputs, outputs):
        words.append({name: tuple(pack_payload(payload_shape(streams[name][1]), p,
                                               f"{entry.name} stream {name} beat {n}")
                                  for n, p in enumerate(payloads))
                      for name, payloads in store.items()})
    if corrupt:
        name = next(iter(words[1]))
        out = list(words[1][name])
        out[len(out) // 2] ^= 1
        words[1][name] = tuple(out)
    return Vectors(words[0], words[1], frames, expected)


class UartTx(wiring.Component):
    """UART transmitter, 8N1, LSB first: one byte per ``i`` transfer, ``divisor`` cycles a bit.

    ``tx`` idles high and is registered (one cycle behind the bit timer). ``i.ready`` is high
    while no byte is being sent.

    Members
    -------
    i : In(stream.Signature(8))
    tx : Out(1)
    """

    def __init__(self, divisor):
        check_int("divisor", divisor, 2, 1 << 20)
        self._divisor = divisor
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    @property
    def divisor(self):
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        bits = Signal(10, init=0x3FF)          # stop bit, data, start bit: sent from bit 0
        left = Signal(range(11))
        timer = Signal(range(self._divisor))
        m.d.comb += self.i.ready.eq(left == 0)
        m.d.sync += self.tx.eq(Mux(left == 0, 1, bits[0]))
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [bits.eq(Cat(Const(0, 1), self.i.payload, Const(1, 1))), left.eq(10),
                         timer.eq(self._divisor - 1)]
        with m.Elif(left != 0):
            with m.If(timer == 0):
                m.d.sync += [bits.eq(bits >> 1), left.eq(left - 1), timer.eq(self._divisor - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m


def summary_text(name, passed, run, traffic, errors, received, beats):
    """The summary line the self-test sends (the testbench and README use this grammar)."""
    return (f"{name} {'PASS' if passed else 'FAIL'} run={run:04X} traffic={traffic:X} "
            f"errors={errors:04X} beats={received:04X}/{beats:04X}\r\n")


class SelfTest(wiring.Component):
    """Self-test of one catalog block; see the module docstring for what it does and reports.

    Parameters
    ----------
    entry : generators.catalog.Entry
    divisor : int
        UART clock cycles per bit.
    pause_cycles : int
        Idle cycles between runs (block held in reset).
    watchdog_cycles : int
        A run fails when no output beat arrives for this many cycles before the last one.
    beats, seed, corrupt :
        Passed to :func:`make_vectors`.

    Members
    -------
    tx : Out(1)
        UART output.
    passed, failed : Out(1)
        LEDs: every run so far passed (and one has finished) / a run failed.
    runs : Out(16)
        Finished runs.
    """

    #: Cycles the late stream waits in late runs (traffic bit 2).
    LATE_CYCLES = 64

    def __init__(self, entry, *, divisor, pause_cycles=1024, watchdog_cycles=4096, beats=64,
                 seed=1, corrupt=False):
        check_int("pause_cycles", pause_cycles, 1, 1 << 30)
        check_int("watchdog_cycles", watchdog_cycles, 16, 1 << 24)
        self._entry = entry
        self._core = check_selftest(entry)
        self._vectors = make_vectors(entry, self._core, beats=beats, seed=seed, corrupt=corrupt)
        self._uart = UartTx(divisor)
        self._pause = pause_cycles
        self._watchdog = watchdog_cycles
        super().__init__({"tx": Out(1, init=1), "passed": Out(1), "failed": Out(1),
                          "runs": Out(16)})

    @property
    def vectors(self):
        return self._vectors

    @property
    def core(self):
        return self._core

    def elaborate(self, platform):
        m = Module()
        v = self._vectors
        n = v.out_beats
        core_rst = Signal()
        # Held in reset between runs, so a block that hung in one run starts the next clean.
        m.submodules.core = ResetInserter(core_rst)(self._core)
        core = self._core
        m.submodules.uart = uart = self._uart
        m.d.comb += self.tx.eq(uart.tx)

        run = Signal(16)
        traffic = Signal(3)
        m.d.comb += [traffic.eq(run[:3]), self.runs.eq(run)]
        # traffic bit 0: random valid gaps; bit 1: random ready backpressure; bit 2: the last
        # input stream starts LATE_CYCLES after the others.
        late_run = traffic[2]
        streams = []         # (member, is input, rom read port, index, beats, lfsr)
        for k, (member, words) in enumerate([*v.inputs.items(), *v.outputs.items()]):
            is_input = member in v.inputs
            port = getattr(core, member)
            width = Shape.cast(port.payload.shape()).width
            rom = Memory(shape=width, depth=len(words), init=words)
            m.submodules[f"rom_{member}"] = rom
            # Each stream its own pattern: a 16-bit LFSR per stream, seeded apart.
            lfsr = Signal(16, init=(0xACE1 + 0x1F35 * k) & 0xFFFF or 1, name=f"lfsr_{member}")
            m.d.sync += lfsr.eq(Mux(lfsr[0], (lfsr >> 1) ^ 0xB400, lfsr >> 1))
            index = Signal(range(len(words) + 1), name=f"idx_{member}")
            streams.append((member, is_input, rom.read_port(), index, len(words), lfsr))

        errors = Signal(16)
        quiet = Signal(range(max(self._watchdog, self._pause, 256, self.LATE_CYCLES) + 1))
        since_start = Signal(range(self.LATE_CYCLES + 1))
        any_fail = Signal()
        finished = Signal()         # sticky: the run counter wraps after 65535 runs
        m.d.comb += [self.failed.eq(any_fail), self.passed.eq(finished & ~any_fail)]
        inputs = [s for s in streams if s[1]]
        outputs = [s for s in streams if not s[1]]
        src_valid = {member: Signal(name=f"src_valid_{member}") for member, *_ in inputs}
        started = {member: Signal(name=f"started_{member}") for member, *_ in inputs}
        fire = {}
        for member, is_input, rd, index, _, _ in streams:
            port = getattr(core, member)
            fire[member] = port.valid & port.ready
            # The ROM output register holds beat ``index``: address the next on a transfer.
            m.d.comb += rd.addr.eq(Mux(fire[member], index + 1, index))
            if is_input:
                m.d.comb += [port.valid.eq(src_valid[member]), port.payload.eq(rd.data)]
        in_done = Cat(*(index == count for _, _, _, index, count, _ in inputs)).all()
        out_done = Cat(*(index == count for _, _, _, index, count, _ in outputs)).all()
        received = sum(index for _, _, _, index, _, _ in outputs)
        mismatch = Cat(*(fire[member] & (getattr(core, member).payload.as_value() != rd.data)
                         for member, _, rd, _, _, _ in outputs)).any()
        any_out = Cat(*(fire[member] for member, *_ in outputs)).any()
        any_in = Cat(*(fire[member] for member, *_ in inputs)).any()

        def count_error():
            m.d.sync += errors.eq(Mux(errors == 0xFFFF, errors, errors + 1))

        # Summary line: one byte per position, numbers as hex digits of the latched result.
        def hexdigit(nibble):
            return Mux(nibble < 10, nibble + ord("0"), nibble + (ord("A") - 10))

        passed_run = Signal()
        r_run, r_traffic, r_errors, r_got = Signal(16), Signal(3), Signal(16), Signal(16)
        template = summary_text(self._entry.name, True, 0, 0, 0, 0, n)
        chars = []
        fields = {"run=": r_run, "traffic=": r_traffic, "errors=": r_errors, "beats=": r_got}
        k = 0
        while k < len(template):
            for key, value in fields.items():
                if template.startswith(key, k) and (k == 0 or template[k - 1] == " "):
                    chars += [Const(ord(c), 8) for c in key]
                    digits = 1 if key == "traffic=" else 4
                    chars += [hexdigit(value.as_unsigned()[4 * d:4 * d + 4])
                              for d in reversed(range(digits))]
                    k += len(key) + digits
                    break
            else:
                if template.startswith("PASS", k):
                    chars += [Mux(passed_run, ord(p), ord(f)) for p, f in zip("PASS", "FAIL")]
                    k += 4
                else:
                    chars.append(Const(ord(template[k]), 8))
                    k += 1
        char_idx = Signal(range(len(chars) + 1))
        char = Signal(8)
        with m.Switch(char_idx):
            for index, value in enumerate(chars):
                with m.Case(index):
                    m.d.comb += char.eq(value)

        with m.FSM():
            with m.State("START"):
                m.d.comb += core_rst.eq(1)
                m.d.sync += [errors.eq(0), quiet.eq(0), since_start.eq(0)]
                for member, _, _, index, _, _ in streams:
                    m.d.sync += index.eq(0)
                for member in src_valid:
                    m.d.sync += [src_valid[member].eq(0), started[member].eq(0)]
                m.next = "RUN"
            with m.State("RUN"):
                with m.If(since_start != self.LATE_CYCLES):
                    m.d.sync += since_start.eq(since_start + 1)
                for member, _, _, index, _, lfsr in outputs:
                    stall = traffic[1] & lfsr[3] & ~lfsr[11]      # ~25% of cycles not ready
                    m.d.comb += getattr(core, member).ready.eq(~stall)
                    with m.If(fire[member]):
                        m.d.sync += index.eq(index + 1)
                previous = None
                for position, (member, _, _, index, count, lfsr) in enumerate(inputs):
                    gap = traffic[0] & lfsr[0] & ~lfsr[7]         # ~25% of cycles idle
                    # Streams start in the order the family gives, each after the previous
                    # one's first transfer; in late runs the last one waits LATE_CYCLES more.
                    may_start = Const(1) if previous is None else started[previous]
                    if position == len(inputs) - 1 and len(inputs) > 1:
                        may_start = may_start & (~late_run | (since_start == self.LATE_CYCLES))
                    elif len(inputs) == 1:
                        may_start = ~late_run | (since_start == self.LATE_CYCLES)
                    in_next = index + fire[member]
                    with m.If(fire[member]):
                        m.d.sync += [index.eq(in_next), started[member].eq(1)]
                    # valid is held until its transfer (stream rule), then drops for a gap or
                    # the end.
                    with m.If(~src_valid[member] | fire[member]):
                        m.d.sync += src_valid[member].eq((in_next < count) & ~gap & may_start)
                    previous = member
                with m.If(mismatch):
                    count_error()
                with m.If(any_out | any_in):
                    m.d.sync += quiet.eq(0)
                with m.Else():
                    m.d.sync += quiet.eq(quiet + 1)
                    with m.If(quiet == self._watchdog - 1):
                        count_error()        # a beat is missing: the block went quiet
                        m.d.sync += quiet.eq(0)
                        m.next = "DRAIN"
                with m.If(out_done):
                    m.d.sync += quiet.eq(0)
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                # Ready throughout: any further beat is one too many.
                for member, *_ in outputs:
                    m.d.comb += getattr(core, member).ready.eq(1)
                    with m.If(fire[member]):
                        count_error()
                m.d.sync += quiet.eq(quiet + 1)
                for member in src_valid:
                    m.d.sync += src_valid[member].eq(0)
                with m.If(quiet == 255):
                    m.next = "LATCH"
            with m.State("LATCH"):
                ok = (errors == 0) & out_done & in_done
                m.d.sync += [passed_run.eq(ok), any_fail.eq(any_fail | ~ok), finished.eq(1),
                             r_run.eq(run + 1), r_traffic.eq(traffic), r_errors.eq(errors),
                             r_got.eq(received), run.eq(run + 1), char_idx.eq(0)]
                m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += core_rst.eq(1)
                m.d.comb += [uart.i.valid.eq(1), uart.i.payload.eq(char)]
                with m.If(uart.i.ready):
                    m.d.sync += char_idx.eq(char_idx + 1)
                    with m.If(char_idx == len(chars) - 1):
                        m.d.sync += quiet.eq(0)
                        m.next = "PAUSE"
            with m.State("PAUSE"):
                m.d.comb += core_rst.eq(1)
                m.d.sync += quiet.eq(quiet + 1)
                with m.If(quiet == self._pause - 1):
                    m.next = "START"
        return m


@contextlib.contextmanager
def _plain_pin_requests():
    """``platform.request`` with the platform's own buffers, its deprecation silenced: the
    ``dir="-"`` + ``io.Buffer`` form makes yosys 0.70 (yowasp) abort in ``synth_ecp5``'s ABC9
    step on the ULX3S build (``Assert GetSize(conn.first) == GetSize(conn.second)``)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning,
                                message=r"Using platform\.request without `dir=\"-\"`")
        yield


class BoardTop(Elaboratable):
    """The self-test on a board: clock and reset from the platform, LEDs and UART requested.

    Parameters
    ----------
    entry : generators.catalog.Entry
    board : fpga.boards.Board
    """

    def __init__(self, entry, board, **selftest_args):
        self._entry = entry
        self._board = board
        clock = board.clock_hz
        self.selftest = SelfTest(entry, divisor=round(clock / BAUD),
                                 pause_cycles=clock // 2, **selftest_args)

    def elaborate(self, platform):
        m = Module()
        m.submodules.selftest = st = self.selftest
        pins = {}       # one request per resource: both LEDs may be colours of one RGB LED
        with _plain_pin_requests():
            for (resource, number, sub), value in ((self._board.pass_led, st.passed),
                                                   (self._board.fail_led, st.failed)):
                if (resource, number) not in pins:
                    pins[resource, number] = platform.request(resource, number)
                port = getattr(pins[resource, number], sub) if sub else pins[resource, number]
                m.d.comb += port.o.eq(value)
            uart = platform.request("uart", 0)
        m.d.comb += uart.tx.o.eq(st.tx)
        return m
