"""The AXI4-Stream top's port mapping for cores with several streams and plain ports."""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from generators.axis import AxisTop


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


def test_multi_stream_top_passes_data():
    top = AxisTop(TwoInputs())
    m = Module()
    m.submodules.top = top
    sim = Simulator(m)
    results = []

    async def bench(ctx):
        ctx.set(top.aresetn, 1)
        ctx.set(top.m_axis_tready, 1)
        ctx.set(top.s_axis_tdata, 200)
        ctx.set(top.s_axis_tlast, 1)
        ctx.set(top.s_axis_w_tdata, 100)
        ctx.set(top.s_axis_tvalid, 1)
        ctx.set(top.s_axis_w_tvalid, 1)
        for _ in range(3):
            ctx.set(top.aclk, 1)
            await ctx.delay(5e-9)
            ctx.set(top.aclk, 0)
            await ctx.delay(5e-9)
            results.append((ctx.get(top.m_axis_tvalid), ctx.get(top.m_axis_tdata),
                            ctx.get(top.m_axis_tlast), ctx.get(top.busy)))

    sim.add_testbench(bench)
    sim.run()
    assert results[0] == (1, 300, 1, 1)
