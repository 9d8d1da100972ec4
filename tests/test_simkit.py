"""The tier-1 simulation kit on tiny components: payload conversion, put/get with pauses on both
sides, transfer cycles, and the monitor catching components that break the stream rules."""

import numpy as np
import pytest
from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from generators.simkit import (
    StreamMonitor,
    StreamRuleError,
    add_consumer,
    add_producer,
    from_bits,
    get_many,
    monitor_streams,
    put_many,
    random_pauses,
    stream_get,
    stream_put,
    to_bits,
)

PIXEL = data.StructLayout({"level": signed(5), "flag": 1})
LAYOUT = data.StructLayout({"data": data.ArrayLayout(signed(6), 3), "pixel": PIXEL,
                            "tag": unsigned(4), "last": 1})


class Register(wiring.Component):
    """One register stage: takes a beat whenever its output is empty or being taken.

    ``broken``: "valid" offers each beat for one cycle only; "payload" changes a stalled beat.
    """

    def __init__(self, shape, broken=None):
        self._broken = broken
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        take = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(take)
        with m.If(take):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        if self._broken == "valid":
            with m.Else():
                m.d.sync += self.o.valid.eq(0)
        elif self._broken == "payload":
            with m.Else():
                m.d.sync += self.o.payload.eq(self.o.payload.as_value() ^ 1)
        return m


def beats(rng, count):
    return [{"data": [int(v) for v in rng.integers(-32, 32, 3)],
             "pixel": {"level": int(rng.integers(-16, 16)), "flag": int(rng.integers(0, 2))},
             "tag": int(rng.integers(0, 16)), "last": int(n == count - 1)}
            for n in range(count)]


def run(dut, payloads, in_pause=0.0, out_pause=0.0, seed=1):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    monitors = monitor_streams(sim, dut)
    add_producer(sim, dut.i, payloads, pauses=random_pauses(in_pause, f"{seed}-i"))
    got = add_consumer(sim, dut.o, len(payloads), pauses=random_pauses(out_pause, f"{seed}-o"))
    sim.run_until(1e-8 * (20 * len(payloads) + 50))
    return got, monitors


def test_bits_round_trip_struct_array_and_signed_fields():
    value = {"data": [-32, 31, -1], "pixel": {"level": -16, "flag": 1}, "tag": 15, "last": 0}
    bits = to_bits(LAYOUT, value)
    # Fields at their layout offsets, signed values in two's complement.
    assert bits & 0x3F == 0b100000 and (bits >> 12) & 0x3F == 0b111111
    assert bits == LAYOUT.const(value).as_bits()
    assert from_bits(LAYOUT, bits) == value
    assert from_bits(signed(4), 0b1000) == -8 and from_bits(unsigned(4), 0b1000) == 8
    assert to_bits(data.ArrayLayout(1, 2), np.array([True, False])) == 1


@pytest.mark.parametrize("value, error, message", [
    ([1], TypeError, (r"^payload must be a dict of the fields 'data', 'pixel', 'tag', 'last', "
                     r"not \[1\]$")),
    ({"data": [0, 0, 0], "pixel": {"level": 0, "flag": 0}, "tag": 0}, ValueError,
     r"^payload is missing the field 'last'$"),
    ({"data": [0, 0, 0], "pixel": {"level": 0, "flag": 0}, "tag": 0, "last": 0, "lst": 1},
     ValueError, r"^payload has no field 'lst' \(fields: 'data', 'pixel', 'tag', 'last'\)$"),
    ({"data": [0, 0], "pixel": {"level": 0, "flag": 0}, "tag": 0, "last": 0}, ValueError,
     r"^payload\.data must have 3 elements, not 2$"),
    ({"data": [0, 32, 0], "pixel": {"level": 0, "flag": 0}, "tag": 0, "last": 0}, ValueError,
     r"^payload\.data\[1\] must be an integer between -32 and 31, not 32$"),
    ({"data": [0, 0, 0], "pixel": {"level": 0, "flag": 0}, "tag": -1, "last": 0}, ValueError,
     r"^payload\.tag must be an integer between 0 and 15, not -1$"),
    ({"data": [0, 0, 0], "pixel": {"level": 0.5, "flag": 0}, "tag": 0, "last": 0}, TypeError,
     r"^payload\.pixel\.level must be an integer, not 0\.5$"),
])
def test_bad_payloads_name_the_field(value, error, message):
    with pytest.raises(error, match=message):
        to_bits(LAYOUT, value)


def test_random_pauses_are_seeded_and_refuse_bad_rates():
    first, again = random_pauses(0.5, 7), random_pauses(0.5, 7)
    drawn = [next(first) for _ in range(200)]
    assert drawn == [next(again) for _ in range(200)]
    assert 0 in drawn and max(drawn) > 1
    assert all(next(random_pauses(0.0, 1)) == 0 for _ in range(5))
    with pytest.raises(ValueError, match=r"^probability must be at least 0 and below 1, not 1$"):
        next(random_pauses(1, 0))


@pytest.mark.parametrize("in_pause, out_pause", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.6),
                                                 (0.4, 0.5)])
def test_round_trip_with_pauses(in_pause, out_pause):
    payloads = beats(np.random.default_rng(3), 60)
    got, monitors = run(Register(LAYOUT), payloads, in_pause, out_pause)
    assert got == payloads
    i, o = monitors["i"], monitors["o"]
    assert len(i.transfers) == len(o.transfers) == 60
    # One register: each beat leaves at least one cycle after it entered.
    assert all(b > a for a, b in zip(i.transfers, o.transfers))
    if not (in_pause or out_pause):
        # Back to back: one beat a cycle on both sides, one cycle apart.
        assert i.transfers == list(range(1, 61)) and o.transfers == list(range(2, 62))
    if out_pause:
        assert o.stalls > 10, "the consumer never stalled the output"
    if in_pause:
        assert i.transfers[-1] - i.transfers[0] > 70, "the producer never paused"


def test_plain_shape_payload_and_hand_written_bench():
    """A payload that is not a layout is an int; the coroutines compose in one testbench."""
    dut = Register(signed(8))
    seen = {}

    async def bench(ctx):
        # One register holds one beat: a single bench must take each beat before the next.
        await put_many(ctx, dut.i, [-128])
        seen["first"] = await stream_get(ctx, dut.o)
        await stream_put(ctx, dut.i, 127)
        seen["rest"] = await get_many(ctx, dut.o, 1)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    monitors = monitor_streams(sim, dut)
    sim.add_testbench(bench)
    sim.run()
    assert seen == {"first": -128, "rest": [127]}
    assert monitors["i"].transfers == [1, 3] and monitors["o"].transfers == [2, 4]


@pytest.mark.parametrize("broken, message", [
    ("valid", (r"^stream 'o': valid dropped at cycle \d+ before the beat offered since cycle "
              r"\d+ was taken \(payload \{'data': \[-?\d+, -?\d+, -?\d+\], 'pixel'")),
    ("payload", (r"^stream 'o': payload changed at cycle \d+ while valid and not ready "
                r"\(offered since cycle \d+\): payload\.data\[0\] -?\d+ -> -?\d+$")),
])
def test_monitor_catches_broken_components(broken, message):
    payloads = beats(np.random.default_rng(4), 20)
    with pytest.raises(StreamRuleError, match=message):
        run(Register(LAYOUT, broken=broken), payloads, out_pause=0.5)


@pytest.mark.parametrize("broken", ["valid", "payload"])
def test_broken_components_pass_without_stalls(broken):
    """The broken behaviour shows only under backpressure: the monitor does not cry wolf."""
    payloads = beats(np.random.default_rng(5), 20)
    got, monitors = run(Register(LAYOUT, broken=broken), payloads)
    assert got == payloads and monitors["o"].stalls == 0


def test_monitor_names_what_it_watches():
    dut = Register(8)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    monitor = StreamMonitor(dut.o, "m_axis").attach(sim)
    add_producer(sim, dut.i, [1, 2, 3])
    assert add_consumer(sim, dut.o, 0) == []
    sim.run_until(1e-8 * 10)
    # Nobody takes the output: the first beat is offered forever, never taken.
    assert monitor.name == "m_axis" and monitor.transfers == [] and monitor.stalls == 9
    assert monitor.cycles == 10
