"""The AXI4-Stream top's port mapping for cores with several streams and plain ports."""

from types import SimpleNamespace

from amaranth.hdl import Cat, Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from generators.axis import AxisTop
from generators.simkit import StreamMonitor, add_consumer, add_producer, put_many


class TwoInputs(wiring.Component):
    """o.data = i.data + w (one weight word per beat), with a plain status output."""

    def __init__(self):
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"data": 8, "last": 1}))),
            "w": In(stream.Signature(8)),
            "o": Out(stream.Signature(data.StructLayout({"data": 9, "last": 1}))),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        fire = self.i.valid & self.w.valid & (~self.o.valid | self.o.ready)
        m.d.comb += [self.i.ready.eq(fire), self.w.ready.eq(fire), self.busy.eq(self.o.valid)]
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(fire):
            m.d.sync += [self.o.valid.eq(1), self.o.p.data.eq(self.i.p.data + self.w.payload),
                         self.o.p.last.eq(self.i.p.last)]
        return m


def test_ports_of_a_multi_stream_core():
    top = AxisTop(TwoInputs())
    Module().submodules.top = top        # elaborated by no one: only its ports are checked
    names = list(top.signature.members)
    assert names == ["aclk", "aresetn",
                     "s_axis_tdata", "s_axis_tvalid", "s_axis_tready", "s_axis_tlast",
                     "s_axis_w_tdata", "s_axis_w_tvalid", "s_axis_w_tready",
                     "m_axis_tdata", "m_axis_tvalid", "m_axis_tready", "m_axis_tlast", "busy"]
    assert top.prefix_of("w") == "s_axis_w"


def axis_stream(top, prefix, layout=None):
    """The AXI4-Stream ports ``prefix_*`` of ``top`` as a stream the simkit drives: ``tdata``
    and, with ``layout``, ``tlast`` after it, as the payload."""
    payload = getattr(top, f"{prefix}_tdata")
    if layout is not None:
        payload = data.View(layout, Cat(payload, getattr(top, f"{prefix}_tlast")))
    return SimpleNamespace(valid=getattr(top, f"{prefix}_tvalid"),
                           ready=getattr(top, f"{prefix}_tready"), payload=payload)


def test_multi_stream_top_passes_data():
    top = AxisTop(TwoInputs())
    m = Module()
    m.submodules.top = top
    sim = Simulator(m)
    i = axis_stream(top, "s_axis", data.StructLayout({"data": 8, "last": 1}))
    w = axis_stream(top, "s_axis_w")
    o = axis_stream(top, "m_axis", data.StructLayout({"data": 9, "last": 1}))
    monitors = [StreamMonitor(port, name).attach(sim) for port, name in
                ((i, "s_axis"), (w, "s_axis_w"), (o, "m_axis"))]

    async def clock(ctx):
        # aclk is a port: the top's sync domain runs on it, so the bench toggles it.
        ctx.set(top.aresetn, 1)
        while True:
            ctx.set(top.aclk, 1)
            await ctx.delay(5e-9)
            ctx.set(top.aclk, 0)
            await ctx.delay(5e-9)

    busy = []

    async def bench(ctx):
        await put_many(ctx, i, [{"data": 200, "last": 1}, {"data": 7, "last": 0}])
        busy.append(ctx.get(top.busy))

    sim.add_process(clock)
    add_producer(sim, w, [100, 1])
    sim.add_testbench(bench)
    outputs = add_consumer(sim, o, 2)
    sim.run_until(1e-7)
    assert outputs == [{"data": 300, "last": 1}, {"data": 8, "last": 0}]
    # Both inputs taken on the first two edges, each sum out one cycle later; busy while it is.
    assert [m.transfers for m in monitors] == [[1, 2], [1, 2], [2, 3]]
    assert busy == [1]


def test_keep_maps_to_a_lane_granular_tkeep():
    """A payload's ``keep`` is ``tkeep``, one bit per lane, in AXI4-Stream's signal order."""
    from generators.softmax.params import SoftmaxParams
    from generators.softmax.rtl import softmax_core

    top = AxisTop(softmax_core(SoftmaxParams(lanes=4, max_len=16)))
    Module().submodules.top = top
    assert list(top.signature.members) == [
        "aclk", "aresetn",
        "s_axis_tdata", "s_axis_tvalid", "s_axis_tready", "s_axis_tkeep", "s_axis_tuser",
        "s_axis_tlast",
        "m_axis_tdata", "m_axis_tvalid", "m_axis_tready", "m_axis_tkeep", "m_axis_tlast"]
    assert len(top.s_axis_tkeep) == len(top.m_axis_tkeep) == 4
    assert len(top.s_axis_tdata) == 32
