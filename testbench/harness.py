"""Tier-2 testbench built from a block's manifest: one cocotbext-axi source or sink per stream.

The manifest (the JSON dict ``python -m generators build`` writes beside the Verilog) says every
stream's signals and field table; this class packs and unpacks payload dicts from it, so family
code never shifts bits::

    tb = ManifestTB(dut, manifest)
    await tb.reset()
    tb.set_traffic("random", m_axis="heavy")          # per-stream tvalid gaps / tready pauses
    tb.send("s_axis", [{"data": [1, 2, 3, 4], "mask": 0, "last": 1}])
    tb.expect("m_axis", [{"data": [5, 6, 7, 8], "last": 1}])
    await tb.wait()                                    # in-order checks of every output
    await tb.drain()                                   # nothing left over

Payload dicts mirror the stream's layout: a field ``data[]`` is ``{"data": [lane values]}``,
``data[].w0`` is ``{"data": [{"w0": ...}, ...]}``, ``data.values[]`` is
``{"data": {"values": [...]}}``; values are integer codes (signed fields in two's complement
range). An expected dict may leave fields out: only the fields it gives are compared; a ``keep``
(tkeep, one bit per lane) left out of a sent dict is all ones. A stream with tkeep goes to
cocotbext-axi one lane per frame item (its byte size is the lane's width), whole beats always.
:attr:`transfers` holds, per stream, the clock edge (counted from reset release) of each beat's
transfer, from which :meth:`latency` measures the manifest's latency.
"""

from __future__ import annotations

import logging
import random
import re
from collections import deque
from dataclasses import dataclass

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import (
    ClockCycles,
    Event,
    FallingEdge,
    RisingEdge,
    SimTimeoutError,
    with_timeout,
)
from cocotbext.axi import AxiStreamFrame

from generators.streams import evaluate
from testbench.axis import set_pauses, stream_sink, stream_source

__all__ = ["ManifestTB", "Beat", "field_range", "put_field"]

_TOKEN = re.compile(r"\.?([A-Za-z_]\w*)|\[(\d*)\]")
LANE = object()     # the lane position in a field name's path


def _path(name):
    tokens, at = [], 0
    for match in _TOKEN.finditer(name):
        if match.start() != at:
            raise ValueError(f"cannot read field name {name!r}")
        at = match.end()
        ident, index = match.groups()
        tokens.append(ident if ident is not None else LANE if index == "" else int(index))
    if at != len(name):
        raise ValueError(f"cannot read field name {name!r}")
    return tokens


def put_field(node, name, lane, value):
    """Set field ``name`` (dotted, ``[]`` the lane, ``[k]`` an index) of a nested payload
    dict to ``value``; ``lane`` is the lane of a ``[]`` field."""
    parts = name.replace("[", ".[").split(".")
    parts = [p for p in parts if p]
    for part, following in zip(parts, parts[1:] + [None]):
        key = lane if part == "[]" else int(part[1:-1]) if part.startswith("[") else part
        if following is None:
            if isinstance(node, list):
                node.extend([None] * (key + 1 - len(node)))
            node[key] = value
            return
        empty = [] if following.startswith("[") else {}
        if isinstance(node, list):
            node.extend([None] * (key + 1 - len(node)))
            if node[key] is None:
                node[key] = empty
        else:
            node.setdefault(key, empty)
        node = node[key]


def field_range(field):
    """``(lowest, highest)`` code of a field."""
    if field["signed"]:
        return -(1 << (field["width"] - 1)), (1 << (field["width"] - 1)) - 1
    return 0, (1 << field["width"]) - 1


@dataclass(frozen=True)
class Beat:
    """One packed beat: the words of its AXI4-Stream signals."""

    tdata: int
    tuser: int = 0
    tlast: int = 0
    tkeep: int = -1     # one bit per lane (the manifest's tkeep is lane-granular); -1: all


class _Layout:
    """A field table, compiled: pack dicts into signal words and back."""

    def __init__(self, stream, fields):
        self.stream = stream
        self.fields = [(f, _path(f["name"])) for f in fields]

    def pack(self, payload):
        words = {"tdata": 0, "tuser": 0, "tlast": 0, "tkeep": 0}
        for field, path in self.fields:
            lanes = field.get("lanes", 1)
            low, high = field_range(field)
            for lane in range(lanes):
                value = self._get(payload, path, lane, field)
                if not isinstance(value, int) or not low <= value <= high:
                    raise ValueError(f"{self.stream} field {field['name']} lane {lane} must be "
                                     f"an integer in {low}..{high}, not {value!r}")
                shift = field["offset"] + lane * field.get("stride", 0)
                words[field["signal"]] |= (value & ((1 << field["width"]) - 1)) << shift
        unknown = set(payload) - {path[0] for _f, path in self.fields}
        if unknown:
            raise ValueError(f"{self.stream} payload has keys the stream does not: "
                             f"{', '.join(sorted(unknown))} (fields: "
                             f"{', '.join(f['name'] for f, _ in self.fields)})")
        return Beat(**words)

    def _get(self, payload, path, lane, field):
        node = payload
        for token in path:
            key = lane if token is LANE else token
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                if field["signal"] == "tkeep" and path[0] not in payload:
                    return (1 << field["width"]) - 1    # an absent keep keeps every lane
                if field["signal"] == "tlast" or path[0] not in payload:
                    return 0    # an absent last or sideband is 0
                raise ValueError(f"{self.stream} payload has no {field['name']} "
                                 f"(lane {lane})") from None
        return node

    def unpack(self, beat):
        out = {}
        for field, path in self.fields:
            word = getattr(beat, field["signal"])
            lanes = field.get("lanes", 1)
            for lane in range(lanes):
                shift = field["offset"] + lane * field.get("stride", 0)
                value = (word >> shift) & ((1 << field["width"]) - 1)
                if field["signed"] and value >> (field["width"] - 1):
                    value -= 1 << field["width"]
                self._set(out, path, lane, lanes, value)
        return out

    @staticmethod
    def _set(node, path, lane, lanes, value):
        for token, following in zip(path, path[1:] + [None]):
            key = lane if token is LANE else token
            if following is None:
                node[key] = value
                return
            empty = [None] * lanes if following is LANE else [] if isinstance(following, int) \
                else {}
            if isinstance(node, list):
                while len(node) <= key:
                    node.append(None)
                if node[key] is None:
                    node[key] = empty
            else:
                node.setdefault(key, empty)
            node = node[key]


def _matches(expected, got):
    """Whether every field ``expected`` gives equals ``got``'s (expected may leave some out)."""
    if isinstance(expected, dict):
        return isinstance(got, dict) and all(k in got and _matches(v, got[k])
                                             for k, v in expected.items())
    if isinstance(expected, list):
        return (isinstance(got, list) and len(expected) == len(got)
                and all(_matches(e, g) for e, g in zip(expected, got)))
    return expected == got


class ManifestTB:
    """Clock, reset, one source or sink per manifest stream, traffic shaping per stream,
    in-order checks of every output stream and a drain check.

    ``seed`` (default: cocotb's per-test seed) drives only the traffic shaping.
    """

    def __init__(self, dut, manifest, *, seed=None, period_ns=10):
        self.dut, self.manifest, self.period_ns = dut, manifest, period_ns
        self.seed = cocotb.RANDOM_SEED % 2**32 if seed is None else seed
        self.rng = random.Random(self.seed)
        self.log = logging.getLogger("cocotb.manifesttb")
        self.streams = manifest["streams"]
        self.layouts = {}
        self.sources, self.sinks = {}, {}
        for name, stream in self.streams.items():
            self.layouts[name] = {"payload": _Layout(name, stream["fields"])}
            for alt, fields in stream.get("layouts", {}).items():
                self.layouts[name][alt] = _Layout(f"{name} ({alt})", fields)
            width = stream["signals"]["tdata"]
            if len(getattr(dut, f"{name}_tdata")) != width:
                raise ValueError(f"{name}_tdata is {len(getattr(dut, f'{name}_tdata'))} bits, "
                                 f"the manifest says {width}")
            # With tkeep, cocotbext-axi's frame items are tkeep's "bytes": here lanes.
            lanes = stream["signals"].get("tkeep")
            if lanes is not None and width % lanes:
                raise ValueError(f"{name}: tdata ({width} bits) is not {lanes} lanes of tkeep")
            item = width // lanes if lanes else width
            if stream["direction"] == "input":
                self.sources[name] = stream_source(dut, name, item)
            else:
                self.sinks[name] = stream_sink(dut, name, item)
        Clock(dut.aclk, period_ns, unit="ns").start()
        self.transfers = {name: [] for name in self.streams}
        self._expected = {name: deque() for name in self.sinks}
        self._received = {name: 0 for name in self.sinks}
        self._errors = []
        self._progress = Event()
        self.patterns = {name: "none" for name in self.streams}

    # -- setup ---------------------------------------------------------------------------------
    async def reset(self, cycles=5):
        """Hold aresetn low for ``cycles`` edges, release, and start the monitors."""
        self.dut.aresetn.value = 0
        await ClockCycles(self.dut.aclk, cycles)
        self.dut.aresetn.value = 1
        await RisingEdge(self.dut.aclk)
        cocotb.start_soon(self._monitor())
        for name in self.sinks:
            cocotb.start_soon(self._receive(name))

    def set_traffic(self, default="none", **patterns):
        """Pause pattern (``testbench.axis.pause_generator``) per stream: ``default`` for
        every stream not named; an input's pattern gaps tvalid, an output's drops tready."""
        unknown = set(patterns) - set(self.streams)
        if unknown:
            raise ValueError(f"no stream {', '.join(sorted(unknown))} (streams: "
                             f"{', '.join(self.streams)})")
        for name in self.streams:
            pattern = patterns.get(name, default)
            self.patterns[name] = pattern
            set_pauses((self.sources | self.sinks)[name], pattern, self.rng)

    # -- payloads ----------------------------------------------------------------------------------
    def pack(self, stream, payload, layout="payload"):
        """The :class:`Beat` of a payload dict (``layout``: ``payload`` or a named layout of
        the stream, e.g. a header); its ``last`` field gives tlast."""
        return self.layouts[stream][layout].pack(payload)

    def unpack(self, stream, beat, layout="payload"):
        return self.layouts[stream][layout].unpack(beat)

    # -- stimulus and checks ---------------------------------------------------------------------
    def send(self, stream, beats):
        """Queue beats (payload dicts or :class:`Beat`) on input ``stream``. Frames end at
        beats with tlast; a tail without one goes out as a frame whose final beat has tlast
        high (cocotbext-axi always ends a frame so), refused on streams whose tlast delimits."""
        packed = [b if isinstance(b, Beat) else self.pack(stream, b) for b in beats]
        frame = []
        for beat in packed:
            frame.append(beat)
            if beat.tlast:
                self._send_frame(stream, frame)
                frame = []
        if frame:
            if self.streams[stream]["tlast"]["role"] == "delimits":
                raise ValueError(f"{stream}: the beats end without tlast, which delimits frames")
            self._send_frame(stream, frame)

    def _send_frame(self, stream, beats):
        signals = self.streams[stream]["signals"]
        lanes = signals.get("tkeep", 1)
        size = signals["tdata"] // lanes
        # One frame item per tkeep lane (every beat whole: a beat's pad lanes go out with their
        # data and tkeep low); every item of a beat carries the beat's tuser.
        tdata = [(b.tdata >> (lane * size)) & ((1 << size) - 1) for b in beats
                 for lane in range(lanes)]
        tkeep = [(b.tkeep >> lane) & 1 for b in beats for lane in range(lanes)]
        tuser = [b.tuser for b in beats for _ in range(lanes)]
        self.sources[stream].send_nowait(AxiStreamFrame(
            tdata, tkeep=tkeep if "tkeep" in signals else None,
            tuser=tuser if "tuser" in signals else None))

    def expect(self, stream, beats):
        """Queue expected payload dicts (fields left out are not compared) on output
        ``stream``; they are checked in order as beats arrive."""
        if stream not in self.sinks:
            raise ValueError(f"{stream} is not an output stream (outputs: "
                             f"{', '.join(self.sinks)})")
        self._expected[stream].extend(beats)

    async def wait(self, timeout_cycles=None):
        """Until every expected beat has arrived; raises on the first mismatch, an extra beat or
        a timeout (naming what did arrive)."""
        pending = sum(map(len, self._expected.values()))
        timeout_cycles = timeout_cycles or 40 * pending + 5000

        async def until_done():
            while not self._errors and any(self._expected.values()):
                self._progress.clear()
                await self._progress.wait()

        try:
            await with_timeout(until_done(), timeout_cycles * self.period_ns, "ns")
        except SimTimeoutError:
            left = {n: len(q) for n, q in self._expected.items() if q}
            partial = [n for n, s in self.sinks.items() if s.active]
            raise AssertionError(
                f"timeout after {timeout_cycles} cycles: beats still expected {left}, received "
                f"{self._received}; mid-frame: {partial or 'none'}; idle sources: "
                f"{[n for n, s in self.sources.items() if s.idle()]} (seed {self.seed})") from None
        if self._errors:
            raise AssertionError(self._errors[0])

    async def drain(self, cycles=64):
        """With every tready high, wait ``cycles`` and check no output beat or partial frame
        appeared and every source has sent all it was given."""
        saved = dict(self.patterns)
        self.set_traffic("none", **{n: p for n, p in saved.items() if n in self.sources})
        await ClockCycles(self.dut.aclk, cycles)
        if self._errors:
            raise AssertionError(self._errors[0])
        busy = [n for n, s in self.sources.items() if not s.idle()]
        assert not busy, f"inputs not taken after all outputs arrived: {busy}"
        partial = [n for n, s in self.sinks.items() if s.active or s.count()]
        assert not partial, f"extra output on {partial} after all expected beats"
        self.set_traffic(**saved)

    def mark(self):
        """Beats transferred so far per stream: call while the block is idle, before a job
        whose latency :meth:`latency` is to measure."""
        return {name: len(log) for name, log in self.transfers.items()}

    def latency(self, env, mark=None):
        """``(measured, manifest)`` latency of a job with variables and derived values ``env``
        that started on an idle block after :meth:`mark` gave ``mark`` (None: after reset),
        sent at full rate with every tready high."""
        spec, mark = self.manifest["latency"], mark or {name: 0 for name in self.streams}

        def edge(event):
            return self.transfers[event["stream"]][mark[event["stream"]]
                                                   + evaluate(event["beat"], env)]

        return (edge(spec["to"]) - max(edge(e) for e in spec["from"]),
                evaluate(spec["cycles"], env))

    # -- internals ---------------------------------------------------------------------------------
    async def _monitor(self):
        """Record the edge of every transfer: sampled mid-cycle, at the falling edge, the
        values the next rising edge takes (no race with the edge's own updates)."""
        handshakes = [(name, getattr(self.dut, f"{name}_tvalid"),
                       getattr(self.dut, f"{name}_tready"), self.transfers[name])
                      for name in self.streams]
        edge = 0
        falling = FallingEdge(self.dut.aclk)
        while True:
            await falling
            edge += 1
            for _name, valid, ready, log in handshakes:
                if valid.value == 1 and ready.value == 1:
                    log.append(edge)

    async def _receive(self, name):
        sink, layout, queue = self.sinks[name], self.layouts[name]["payload"], \
            self._expected[name]
        signals = self.streams[name]["signals"]
        has_user = "tuser" in signals
        lanes = signals.get("tkeep", 1)
        size = signals["tdata"] // lanes
        while True:
            frame = await sink.recv(compact=False)      # keep the lanes with tkeep low
            items = list(frame.tdata)
            users = frame.tuser if isinstance(frame.tuser, list) else [frame.tuser or 0] * \
                len(items)
            keeps = frame.tkeep if isinstance(frame.tkeep, list) and frame.tkeep else \
                [1] * len(items)
            words = [(sum(items[k + lane] << (lane * size) for lane in range(lanes)),
                      sum((keeps[k + lane] & 1) << lane for lane in range(lanes)))
                     for k in range(0, len(items), lanes)]
            for k, (word, keep) in enumerate(words):
                beat = Beat(word, int(users[k * lanes] or 0) if has_user else 0,
                            int(k == len(words) - 1), keep if "tkeep" in signals else 0)
                got = layout.unpack(beat)
                index = self._received[name]
                self._received[name] += 1
                if not queue:
                    self._errors.append(f"{name} beat {index}: not expected (extra output) "
                                        f"{got} (seed {self.seed})")
                else:
                    want = queue.popleft()
                    if not _matches(want, got):
                        self._errors.append(f"{name} beat {index}: expected {want}, got {got} "
                                            f"(seed {self.seed})")
            self._progress.set()
