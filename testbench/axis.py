"""Reusable AXI4-Stream testbench around cocotbext-axi for our generated blocks.

Every block has ``aclk``, ``aresetn`` (active-low, synchronous) and ``s_axis_*`` / ``m_axis_*``
with tdata/tvalid/tready/tlast; lanes pack little-endian (lane 0 in the low bits). With
``byte_size`` = lane width, cocotbext-axi's frame items are whole lane words.

    tb = AxisTB(dut, lanes=4, in_width=8)
    await tb.reset()
    tb.set_traffic(idle="random", backpressure="heavy")
    stats = await tb.run_vectors(frames, expected)   # send + scoreboard + drain check
"""

from __future__ import annotations

import itertools
import logging
import random
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, SimTimeoutError, with_timeout
from cocotb.utils import get_sim_steps, get_sim_time
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

# cocotbext-axi 0.1.28 still uses cocotb 1.x calls (setimmediatevalue, Edge); not ours to fix.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"cocotbext\.axi")

# Pause probability per cycle (source: tvalid gap, sink: tready low).
PATTERNS: dict[str, float] = {"none": 0.0, "light": 0.1, "random": 0.3, "heavy": 0.7}
# "bursty": alternating runs of 1..32 paused/unpaused cycles; "cycle": rotates through CYCLE.
CYCLE = ("none", "random", "bursty", "heavy")
# (idle, backpressure) combinations a test can loop over to cover the handshake corners.
TRAFFIC_MATRIX = [("none", "none"), ("random", "none"), ("none", "random"), ("random", "random"),
                  ("heavy", "light"), ("light", "heavy"), ("cycle", "cycle"), ("bursty", "bursty")]


def set_pauses(endpoint, pattern: str | float, rng: random.Random) -> None:
    """Pause a cocotbext-axi source or sink by ``pattern`` (see ``pause_generator``)."""
    gen = pause_generator(pattern, rng)
    endpoint.set_pause_generator(gen)
    if gen is None:
        endpoint.pause = False  # a killed generator may have left the flag set


def pause_generator(pattern: str | float, rng: random.Random,
                    period: int = 64) -> Iterator[bool] | None:
    """Per-cycle pause flags for ``set_pause_generator``; None means never pause (no per-cycle
    cost).

    ``pattern`` is a PATTERNS name, a probability, "bursty", or "cycle" (switches pattern every
    ``period`` cycles). All randomness comes from ``rng`` so a seed reproduces the traffic exactly.
    """
    if pattern == "bursty":
        def gen():
            while True:
                yield from itertools.repeat(rng.random() < 0.5, rng.randint(1, 32))
        return gen()
    if pattern == "cycle":
        def gen():
            for name in itertools.cycle(CYCLE):
                yield from itertools.islice(pause_generator(name, rng) or itertools.repeat(False),
                                            period)
        return gen()
    p = PATTERNS[pattern] if isinstance(pattern, str) else float(pattern)
    if p <= 0.0:
        return None
    def gen():
        while True:
            yield rng.random() < p
    return gen()


def to_unsigned(values: Sequence[int], width: int) -> list[int]:
    """Two's-complement encode (also fine for already-unsigned values that fit)."""
    mask = (1 << width) - 1
    return [v & mask for v in values]


def to_signed(words: Sequence[int], width: int) -> list[int]:
    """Interpret ``width``-bit words as two's complement."""
    sign, full = 1 << (width - 1), 1 << width
    return [w - full if w & sign else w for w in words]


def _endpoint(kind, dut, prefix, lane_width):
    bus = AxiStreamBus.from_prefix(dut, prefix)
    # cocotbext-axi takes the byte size from tkeep when the bus has one (one tkeep bit per frame
    # item): our tkeep is lane-granular, so its "bytes" are lanes.
    byte_size = None if hasattr(bus, "tkeep") else lane_width
    endpoint = kind(bus, dut.aclk, dut.aresetn, reset_active_level=False, byte_size=byte_size)
    if endpoint.byte_size != lane_width:
        raise ValueError(f"{prefix}: tkeep has {endpoint.byte_lanes} bits, so its lanes are "
                         f"{endpoint.byte_size} bits, not {lane_width}")
    endpoint.log.setLevel(logging.WARNING)  # cocotbext-axi logs every frame's repr at INFO
    return endpoint


def stream_source(dut, prefix: str, lane_width: int) -> AxiStreamSource:
    """A quiet AXI4-Stream source on ``<prefix>_*`` (e.g. ``s_axis_w`` for a weight stream) whose
    frame items are ``lane_width``-bit lane words (with a tkeep, one tkeep bit per lane)."""
    return _endpoint(AxiStreamSource, dut, prefix, lane_width)


def stream_sink(dut, prefix: str, lane_width: int) -> AxiStreamSink:
    """A quiet AXI4-Stream sink on ``<prefix>_*`` with ``lane_width``-bit frame items."""
    return _endpoint(AxiStreamSink, dut, prefix, lane_width)


@dataclass
class Stats:
    """Throughput of one ``run_vectors`` call (cycles from first input beat to last output beat)."""
    frames: int
    in_beats: int
    out_beats: int
    cycles: int
    wall_s: float

    @property
    def beats_per_cycle(self) -> float:
        return self.out_beats / self.cycles if self.cycles else 0.0

    @property
    def beats_per_s(self) -> float:
        """Simulation speed (output beats per wall-clock second)."""
        return self.out_beats / self.wall_s if self.wall_s else 0.0

    def __str__(self) -> str:
        return (f"{self.frames} frames, {self.in_beats} in / {self.out_beats} out beats in "
                f"{self.cycles} cycles ({self.beats_per_cycle:.3f} beats/cycle); "
                f"sim {self.wall_s:.2f}s wall = "
                f"{self.beats_per_s:.0f} beats/s")


class AxisTB:
    """Clock, reset, AXI-Stream source/sink, traffic shaping and an in-order frame scoreboard.

    Values are lists of lane words, signed two's complement unless ``signed=False``
    (``out_signed`` defaults to ``signed``). ``seed`` (default: cocotb's per-test seed, derived
    from RANDOM_SEED) drives only the traffic shaping, so data and traffic vary independently.
    """

    def __init__(self, dut, *, lanes: int, in_width: int, out_width: int | None = None,
                 signed: bool = True, out_signed: bool | None = None, seed: int | None = None,
                 period_ns: int = 10):
        self.dut, self.lanes, self.period_ns = dut, lanes, period_ns
        self.in_width, self.out_width = in_width, out_width or in_width
        self.signed = signed
        self.out_signed = signed if out_signed is None else out_signed
        # per-test seed is a 160-bit hash
        self.seed = cocotb.RANDOM_SEED % 2**32 if seed is None else seed
        self.rng = random.Random(self.seed)
        self.log = logging.getLogger("cocotb.axistb")
        self.log.info("AxisTB traffic seed %d (rerun with RANDOM_SEED=<run seed> to reproduce)",
                      self.seed)

        for port, w in (("s_axis_tdata", self.in_width), ("m_axis_tdata", self.out_width)):
            if len(getattr(dut, port)) != lanes * w:
                raise ValueError(f"{port} is {len(getattr(dut, port))} bits, expected {lanes}x{w}")

        # Default GPI (C++) clock: 2x the sim speed of impl="py". (A stall at t=0 seen with it came
        # from -DVL_TIME_CONTEXT in an early runner.py draft, not the clock; see
        # runner._make_overrides.)
        Clock(dut.aclk, period_ns, unit="ns").start()
        self.source = stream_source(dut, "s_axis", self.in_width)
        self.sink = stream_sink(dut, "m_axis", self.out_width)
        self.idle = self.backpressure = "none"

    # -- setup ---------------------------------------------------------------------------------
    async def reset(self, cycles: int = 5) -> None:
        """Hold aresetn low for ``cycles`` clock edges (synchronous reset), then release."""
        self.dut.aresetn.value = 0
        await ClockCycles(self.dut.aclk, cycles)
        self.dut.aresetn.value = 1
        await RisingEdge(self.dut.aclk)

    def set_traffic(self, idle: str | float = "none", backpressure: str | float = "none") -> None:
        """Shape tvalid gaps (``idle``) and tready backpressure; see ``pause_generator`` for
        patterns."""
        self.idle, self.backpressure = idle, backpressure
        for ext, pattern in ((self.source, idle), (self.sink, backpressure)):
            set_pauses(ext, pattern, self.rng)

    # -- stimulus --------------------------------------------------------------------------------
    def send_vectors(self, frames: Sequence[Sequence[int]],
                     masks: Sequence[Sequence[bool]] | None = None,
                     keeps: Sequence[Sequence[bool]] | None = None) -> None:
        """Queue frames (lane values, len a multiple of ``lanes``); tlast marks each frame's last
        beat.

        ``masks`` (per element, optional) go out on tuser, one bit per lane (lane 0 in bit 0);
        ``keeps`` (per element, optional; default all true) on tkeep, one bit per lane.
        """
        if keeps is not None and not hasattr(self.source.bus, "tkeep"):
            raise ValueError("keeps given, but s_axis has no tkeep")
        lo, hi = ((-(1 << (self.in_width - 1)), 1 << (self.in_width - 1)) if self.signed
                  else (0, 1 << self.in_width))
        for n, frame in enumerate(frames):
            if not frame or len(frame) % self.lanes:
                raise ValueError(f"frame {n}: length {len(frame)} is not a positive multiple of "
                                 f"{self.lanes} lanes")
            if not all(lo <= v < hi for v in frame):  # masking would silently hide test bugs
                bad = next(v for v in frame if not lo <= v < hi)
                raise ValueError(f"frame {n}: value {bad} does not fit {self.in_width}-bit lane")
            tuser = None
            if masks is not None:
                words = [sum(int(bool(b)) << k for k, b in enumerate(masks[n][i:i + self.lanes]))
                         for i in range(0, len(frame), self.lanes)]
                # the beat's word per lane
                tuser = [words[i // self.lanes] for i in range(len(frame))]
            tkeep = None if keeps is None else [int(bool(b)) for b in keeps[n]]
            self.source.send_nowait(AxiStreamFrame(to_unsigned(frame, self.in_width),
                                                   tkeep=tkeep, tuser=tuser))

    # -- checking --------------------------------------------------------------------------------
    async def expect_vectors(self, expected: Sequence[Sequence[int]],
                             inputs: Sequence[Sequence[int]] | None = None,
                             timeout_cycles: int | None = None,
                             keeps: Sequence[Sequence[bool]] | None = None
                             ) -> list[AxiStreamFrame]:
        """Receive exactly ``len(expected)`` frames in order and compare them element by element;
        with a tkeep on m_axis, its bits too (``keeps`` per element; default all ones).

        Frame boundaries come from tlast, so a lost/duplicated/reordered beat or a missing tlast
        shows up as a value or length mismatch. Fails on the first mismatch with its frame,
        element, beat/lane, input (if ``inputs`` given and elementwise) and expected/got values.
        """
        beats = sum(len(e) for e in expected) // self.lanes
        timeout_cycles = timeout_cycles or 40 * beats + 2000  # "heavy" both ways is ~10 cycles/beat
        got: list[AxiStreamFrame] = []

        async def receive() -> None:
            for _ in expected:
                got.append(await self.sink.recv(compact=False))  # lanes with tkeep low too

        timed_out = False
        try:
            await with_timeout(receive(), timeout_cycles * self.period_ns, "ns")
        except SimTimeoutError:
            # first report what did arrive: a merged frame explains a "missing" one
            timed_out = True

        for n, (frame, exp) in enumerate(zip(got, expected)):
            words = list(frame.tdata)
            vals = to_signed(words, self.out_width) if self.out_signed else words
            if hasattr(self.sink.bus, "tkeep") and len(vals) == len(exp):
                want = [1] * len(exp) if keeps is None else [int(bool(b)) for b in keeps[n]]
                if list(frame.tkeep) != want:
                    i = next(i for i, (g, w) in enumerate(zip(frame.tkeep, want)) if g != w)
                    raise AssertionError(f"frame {n} element {i} (beat {i // self.lanes}, lane "
                                         f"{i % self.lanes}): tkeep expected {want[i]} got "
                                         f"{frame.tkeep[i]} (seed {self.seed})")
            if vals == list(exp):
                continue
            inp = inputs[n] if inputs is not None and len(inputs[n]) == len(exp) else None
            for i, (g, e) in enumerate(zip(vals, exp)):
                if g != e:
                    src = f" input={inp[i]}" if inp is not None else ""
                    raise AssertionError(f"frame {n} element {i} (beat {i // self.lanes}, "
                                         f"lane {i % self.lanes}):"
                                         f"{src} expected={e} got={g} (seed {self.seed})")
            raise AssertionError(f"frame {n}: got {len(vals)} elements "
                                 f"({len(vals) // self.lanes} beats), expected "
                                 f"{len(exp)} - tlast misplaced or beats lost/duplicated "
                                 f"(seed {self.seed})")
        if timed_out:
            raise AssertionError(
                f"timeout after {timeout_cycles} cycles: received {len(got)} of "
                f"{len(expected)} frames "
                f"(sink mid-frame: {self.sink.active}; source idle: {self.source.idle()}; "
                f"seed {self.seed})")
        return got

    async def check_drained(self, cycles: int = 64) -> None:
        """With tready forced high, wait ``cycles`` and assert no output beat or partial frame
        appeared."""
        idle, bp = self.idle, self.backpressure
        self.set_traffic(idle, "none")
        await ClockCycles(self.dut.aclk, cycles)
        extra = self.sink.count()
        assert self.source.idle(), "source still has queued input after all expected frames arrived"
        assert extra == 0 and not self.sink.active, (
            f"DUT produced extra output after all expected frames: {extra} whole frame(s)"
            f"{' plus a partial frame' if self.sink.active else ''} (queue not empty)")
        self.set_traffic(idle, bp)

    async def run_vectors(self, frames: Sequence[Sequence[int]], expected: Sequence[Sequence[int]],
                          timeout_cycles: int | None = None, drain_cycles: int = 64,
                          masks: Sequence[Sequence[bool]] | None = None,
                          keeps: Sequence[Sequence[bool]] | None = None) -> Stats:
        """Send ``frames`` (with ``masks`` on tuser, ``keeps`` on tkeep), check ``expected`` (in
        order; the output tkeep is the input's), check nothing extra comes out; return Stats."""
        first_beat = cocotb.start_soon(self._first_input_beat())
        t0 = time.perf_counter()
        self.send_vectors(frames, masks, keeps)
        got = await self.expect_vectors(expected, inputs=frames, timeout_cycles=timeout_cycles,
                                        keeps=keeps)
        wall = time.perf_counter() - t0
        start = await first_beat
        cycles = (round((got[-1].sim_time_end - start) / get_sim_steps(self.period_ns, "ns")) + 1
                  if got else 0)
        await self.check_drained(drain_cycles)
        stats = Stats(len(got), sum(map(len, frames)) // self.lanes,
                      sum(map(len, got)) // self.lanes, cycles, wall)
        self.log.info("run_vectors [idle=%s backpressure=%s seed=%d]: %s",
                      self.idle, self.backpressure, self.seed, stats)
        return stats

    # -- internals ---------------------------------------------------------------------------------
    async def _first_input_beat(self) -> int:
        """Sim time (steps) of the first accepted input beat: polls only until it happens."""
        clk = RisingEdge(self.dut.aclk)
        valid, ready = self.dut.s_axis_tvalid, self.dut.s_axis_tready
        while True:
            await clk
            if valid.value == 1 and ready.value == 1:
                return get_sim_time()
