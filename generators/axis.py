"""AXI4-Stream top: the port names users' tools expect, around a core with ``i``/``o`` streams.

Ports: ``aclk``, ``aresetn`` (active low, synchronous), ``s_axis_tdata/tvalid/tready/tlast`` in
(plus ``s_axis_tuser``, one bit per lane, for cores with a ``mask``), ``m_axis_tdata/tvalid/
tready/tlast`` out. Lanes pack little-endian into ``tdata`` (lane 0 in the
low bits), exactly the core's payload layout, so the wrapper adds no logic and no latency.
"""

from amaranth.hdl import ClockDomain, Module, Shape
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AxisTop"]


class AxisTop(wiring.Component):
    """Wrap ``core`` (members ``i`` and ``o``, payload ``data`` and ``last``) in AXI4-Stream ports.

    Parameters
    ----------
    core : wiring.Component
    """

    def __init__(self, core):
        self._core = core
        in_bits = Shape.cast(core.i.p.data.shape()).width
        out_bits = Shape.cast(core.o.p.data.shape()).width
        # A core whose input payload has a ``mask`` (one bit per lane) takes it from tuser.
        self._has_mask = "mask" in core.i.p.shape().members
        members = {
            "aclk": In(1), "aresetn": In(1),
            "s_axis_tdata": In(in_bits), "s_axis_tvalid": In(1), "s_axis_tready": Out(1),
            "s_axis_tlast": In(1),
            "m_axis_tdata": Out(out_bits), "m_axis_tvalid": Out(1), "m_axis_tready": In(1),
            "m_axis_tlast": Out(1),
        }
        if self._has_mask:
            members["s_axis_tuser"] = In(Shape.cast(core.i.p.mask.shape()).width)
        super().__init__(members)

    @property
    def core(self):
        return self._core

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = sync = ClockDomain("sync")
        m.d.comb += [sync.clk.eq(self.aclk), sync.rst.eq(~self.aresetn)]
        m.submodules.core = core = self._core
        m.d.comb += [
            core.i.p.data.eq(self.s_axis_tdata), core.i.p.last.eq(self.s_axis_tlast),
            core.i.valid.eq(self.s_axis_tvalid), self.s_axis_tready.eq(core.i.ready),
            self.m_axis_tdata.eq(core.o.p.data), self.m_axis_tlast.eq(core.o.p.last),
            self.m_axis_tvalid.eq(core.o.valid), core.o.ready.eq(self.m_axis_tready),
        ]
        if self._has_mask:
            m.d.comb += core.i.p.mask.eq(self.s_axis_tuser)
        return m
