"""Tier-1 simulation kit: drive and check ``amaranth.lib.stream`` interfaces in Amaranth's
simulator (the 0.5 async testbench API).

Payloads are plain Python values that mirror the stream's payload shape: a ``StructLayout``
is a dict of its fields, an ``ArrayLayout`` a list of its elements, anything else an int (signed
shapes as signed ints). :func:`to_bits` and :func:`from_bits` convert both ways.

A test puts and gets beats (:func:`stream_put`, :func:`stream_get`, or whole sequences with
:func:`put_many` / :func:`get_many`, or as testbenches of their own with :func:`add_producer` /
:func:`add_consumer`), with pauses drawn from a seeded generator (:func:`random_pauses`): idle
cycles with ``valid`` low before a put, with ``ready`` low before a get. A
:class:`StreamMonitor` watches one stream on every clock edge: it raises
:class:`StreamRuleError` when ``valid`` drops before ``ready`` or the payload changes while
``valid`` is high and ``ready`` low, and records the cycle of every transfer (for latency and
throughput figures)::

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    monitors = monitor_streams(sim, dut)
    add_producer(sim, dut.i, [{"data": [1, -2], "last": 1}], pauses=random_pauses(0.3, "i"))
    outputs = add_consumer(sim, dut.o, 1, pauses=random_pauses(0.3, "o"))
    sim.run()
    monitors["o"].transfers   # [cycle of each output transfer]

Cycles are clock edges counted from the start of the simulation, the first edge being 1; a
transfer's cycle is the edge at which ``valid`` and ``ready`` were both high.
"""

import operator
import random
from collections.abc import Mapping, Sequence

from amaranth.hdl import Shape, Value
from amaranth.lib import data, stream, wiring

__all__ = [
    "StreamMonitor",
    "StreamRuleError",
    "add_consumer",
    "add_producer",
    "from_bits",
    "get_many",
    "monitor_streams",
    "put_many",
    "random_pauses",
    "stream_get",
    "stream_put",
    "to_bits",
]


def to_bits(shape, value, name="payload"):
    """The bit pattern (an int) of the Python value ``value`` of ``shape``.

    Every field of a struct must be given, and nothing else; every integer must fit its shape.
    ``name`` names the value in error messages.
    """
    if isinstance(shape, data.StructLayout):
        if not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a dict of the fields {_names(shape.members)}, "
                            f"not {value!r}")
        unknown = [key for key in value if key not in shape.members]
        if unknown:
            raise ValueError(f"{name} has no field {unknown[0]!r} "
                             f"(fields: {_names(shape.members)})")
        bits = 0
        for key, field in shape:
            if key not in value:
                raise ValueError(f"{name} is missing the field {key!r}")
            bits |= to_bits(field.shape, value[key], f"{name}.{key}") << field.offset
        return bits
    if isinstance(shape, data.ArrayLayout):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) and \
                not hasattr(value, "__array__"):
            raise TypeError(f"{name} must be a list of {shape.length} elements, not {value!r}")
        if len(value) != shape.length:
            raise ValueError(f"{name} must have {shape.length} elements, not {len(value)}")
        width = Shape.cast(shape.elem_shape).width
        bits = 0
        for index, element in enumerate(value):
            bits |= to_bits(shape.elem_shape, element, f"{name}[{index}]") << (index * width)
        return bits
    if isinstance(shape, data.Layout):
        raise TypeError(f"{name}: layout {shape!r} is not supported (struct and array layouts "
                        f"are)")
    shape = Shape.cast(shape)
    if getattr(getattr(value, "dtype", None), "kind", None) == "b":
        value = int(value)                  # NumPy booleans have no __index__
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {value!r}") from None
    low = -(1 << (shape.width - 1)) if shape.signed else 0
    high = (1 << (shape.width - 1 if shape.signed else shape.width)) - 1
    if not low <= number <= high:
        raise ValueError(f"{name} must be an integer between {low} and {high}, not {number}")
    return number & ((1 << shape.width) - 1)


def from_bits(shape, bits):
    """The Python value (int, dict or list) of the bit pattern ``bits`` of ``shape``."""
    if isinstance(shape, data.StructLayout):
        return {key: from_bits(field.shape, (bits >> field.offset) & ((1 << field.width) - 1))
                for key, field in shape}
    if isinstance(shape, data.ArrayLayout):
        width = Shape.cast(shape.elem_shape).width
        mask = (1 << width) - 1
        return [from_bits(shape.elem_shape, (bits >> (index * width)) & mask)
                for index in range(shape.length)]
    if isinstance(shape, data.Layout):
        raise TypeError(f"layout {shape!r} is not supported (struct and array layouts are)")
    shape = Shape.cast(shape)
    bits &= (1 << shape.width) - 1
    if shape.signed and bits >> (shape.width - 1):
        bits -= 1 << shape.width
    return bits


def _names(members):
    return ", ".join(repr(name) for name in members)


def random_pauses(probability, seed):
    """Idle cycles before each beat, forever: every cycle idles with ``probability``
    (a geometric count per beat, from ``random.Random(seed)``; 0 means never)."""
    if not 0 <= probability < 1:
        raise ValueError(f"probability must be at least 0 and below 1, not {probability!r}")
    rng = random.Random(seed)
    while True:
        idle = 0
        while probability and rng.random() < probability:
            idle += 1
        yield idle


# The waits iterate one tick trigger (``async for``) instead of awaiting a new one per cycle,
# which costs several times more, and do not use ``tick().until()`` / ``repeat()``: those close
# their generator in a ``finally`` that fails ("aclose(): asynchronous generator is already
# running") when a simulation ends with the testbench still waiting (a ``run_until`` deadline,
# or a StreamRuleError) and the coroutine is collected.


async def _idle(ctx, cycles):
    if cycles:
        async for _ in ctx.tick():
            cycles -= 1
            if not cycles:
                return


async def _wait_for(ctx, condition, *sampled):
    """Tick until an edge where ``condition`` is high; return ``sampled`` at that edge."""
    async for _clk, _rst, done, *values in ctx.tick().sample(condition, *sampled):
        if done:
            return values


class _Port:
    """The signals of a stream, looked up once (interface attribute access is slow)."""

    def __init__(self, port):
        self.valid, self.ready = port.valid, port.ready
        self.bits = Value.cast(port.payload)
        self.shape = port.payload.shape()


async def _put(ctx, port, bits, pauses):
    if pauses is not None:
        await _idle(ctx, next(pauses))
    ctx.set(port.bits, bits)
    ctx.set(port.valid, 1)
    await _wait_for(ctx, port.ready)
    ctx.set(port.valid, 0)


async def _get(ctx, port, pauses):
    if pauses is not None:
        await _idle(ctx, next(pauses))
    ctx.set(port.ready, 1)
    bits, = await _wait_for(ctx, port.valid, port.bits)
    ctx.set(port.ready, 0)
    return from_bits(port.shape, bits)


async def stream_put(ctx, port, payload, *, pauses=None):
    """Offer one beat on the stream ``port`` and return after the clock edge that takes it.

    ``pauses``: an iterator of idle cycles (``valid`` low) to wait first, one drawn per beat.
    """
    port = _Port(port)
    await _put(ctx, port, to_bits(port.shape, payload), pauses)


async def stream_get(ctx, port, *, pauses=None):
    """Take one beat from the stream ``port``; return its payload as a Python value.

    ``pauses``: an iterator of cycles with ``ready`` low to wait first, one drawn per beat.
    """
    return await _get(ctx, _Port(port), pauses)


async def put_many(ctx, port, payloads, *, pauses=None):
    """:func:`stream_put` each of ``payloads`` in order (back to back unless paused)."""
    port = _Port(port)
    for bits in [to_bits(port.shape, payload) for payload in payloads]:
        await _put(ctx, port, bits, pauses)


async def get_many(ctx, port, count, *, pauses=None, into=None):
    """:func:`stream_get` ``count`` beats; return their payloads in order (appended to the list
    ``into`` as they arrive, if given)."""
    port = _Port(port)
    received = [] if into is None else into
    for _ in range(count):
        received.append(await _get(ctx, port, pauses))
    return received


def add_producer(sim, port, payloads, *, pauses=None):
    """Add a testbench to ``sim`` that puts ``payloads`` on ``port``."""
    payloads = list(payloads)

    async def produce(ctx):
        await put_many(ctx, port, payloads, pauses=pauses)

    sim.add_testbench(produce)


def add_consumer(sim, port, count, *, pauses=None):
    """Add a testbench to ``sim`` that gets ``count`` beats from ``port``; return the list the
    payloads are appended to as they arrive (complete once the simulation has finished)."""
    received = []

    async def consume(ctx):
        await get_many(ctx, port, count, pauses=pauses, into=received)

    sim.add_testbench(consume)
    return received


class StreamRuleError(AssertionError):
    """A stream broke the valid/ready rules (raised by :class:`StreamMonitor`)."""


class StreamMonitor:
    """Check the stream rules of ``port`` on every clock edge and record its transfers.

    Rules: once ``valid`` is high, it stays high and the payload stays the same until a clock
    edge where ``ready`` is high too. A broken rule raises :class:`StreamRuleError` naming the
    stream, the cycle and what changed.

    Attributes: ``transfers``, the cycle of every transfer; ``stalls``, the number of edges with
    ``valid`` high and ``ready`` low; ``cycles``, the edges seen so far. A reset is not special:
    one that withdraws a stalled beat is reported as a dropped ``valid``.
    """

    def __init__(self, port, name):
        self.name = name
        self.transfers = []
        self.stalls = 0
        self.cycles = 0
        self._port = _Port(port)
        self._held = None            # (bits, cycle first offered) of a stalled beat

    def attach(self, sim, *, domain="sync"):
        """Run the monitor in ``sim`` (in the background: it never keeps the simulation going);
        return the monitor."""
        _watch(sim, [self], domain)
        return self

    def _edge(self, valid, ready, bits):
        self.cycles += 1
        if self._held is not None:
            self._check(valid, bits)
        if valid and ready:
            self.transfers.append(self.cycles)
            self._held = None
        elif valid:
            self.stalls += 1
            self._held = self._held or (bits, self.cycles)
        else:
            self._held = None

    def _check(self, valid, bits):
        old, since = self._held
        shape = self._port.shape
        if not valid:
            raise StreamRuleError(
                f"stream {self.name!r}: valid dropped at cycle {self.cycles} before the beat "
                f"offered since cycle {since} was taken (payload {from_bits(shape, old)!r})")
        if bits != old:
            changes = "; ".join(f"{path} {a!r} -> {b!r}" for path, a, b in
                                _differences(from_bits(shape, old), from_bits(shape, bits)))
            raise StreamRuleError(
                f"stream {self.name!r}: payload changed at cycle {self.cycles} while valid and "
                f"not ready (offered since cycle {since}): {changes}")


def _watch(sim, monitors, domain):
    """One background testbench sampling every monitor's stream at each edge of ``domain``
    (one wake-up a cycle for all of them)."""
    signals = [s for m in monitors for s in (m._port.valid, m._port.ready, m._port.bits)]

    async def watch(ctx):
        async for _clk, _rst, *values in ctx.tick(domain).sample(*signals):
            for k, monitor in enumerate(monitors):
                monitor._edge(*values[3 * k:3 * k + 3])

    sim.add_testbench(watch, background=True)


def _differences(old, new, path="payload"):
    """``[(path, old, new)]`` of the leaves that differ between two payload values."""
    if isinstance(old, dict):
        return [d for key in old for d in _differences(old[key], new[key], f"{path}.{key}")]
    if isinstance(old, list):
        return [d for index, (a, b) in enumerate(zip(old, new))
                for d in _differences(a, b, f"{path}[{index}]")]
    return [(path, old, new)] if old != new else []


def monitor_streams(sim, component, *, domain="sync"):
    """Attach a :class:`StreamMonitor` to every stream member of ``component``; return
    ``{member name: monitor}``."""
    monitors = {}
    for name, member in component.signature.members.items():
        if not member.is_signature:
            continue
        signature = member.signature
        if isinstance(signature, wiring.FlippedSignature):
            signature = signature.flip()
        if isinstance(signature, stream.Signature):
            monitors[name] = StreamMonitor(getattr(component, name), name)
    _watch(sim, list(monitors.values()), domain)
    return monitors
