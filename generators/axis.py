"""AXI4-Stream top: the port names users' tools expect, around a core with stream members.

Every ``stream.Signature`` member of the core becomes one AXI4-Stream port group: ``i`` is
``s_axis_*`` and ``o`` is ``m_axis_*``; any other input stream ``w`` is ``s_axis_w_*`` and any
other output stream ``y`` is ``m_axis_y_*``. Payload fields map by name: ``data`` to ``tdata``,
``keep`` to ``tkeep`` (one bit per lane: lane-granular), ``last`` to ``tlast``, ``mask`` or
``user`` to ``tuser`` (:data:`generators.streams.SIGNALS`); a payload that is not such a structure
is ``tdata`` whole. Members that are not streams (status flags, say) keep their names.
Ports: ``aclk``, ``aresetn`` (active low, synchronous). Lanes pack little-endian into ``tdata``
(lane 0 in the low bits), exactly the core's payload layout, so the wrapper adds no logic and no
latency.
"""

from amaranth.hdl import ClockDomain, Module, Shape
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .streams import SIGNALS

__all__ = ["AxisTop", "axis_prefix", "stream_members", "payload_shape"]

#: Payload field -> AXI4-Stream signal suffix: the manifest's mapping, in one place.
_FIELDS = SIGNALS


def axis_prefix(name, flow):
    """AXI4-Stream port prefix of the core stream member ``name`` with flow ``flow``."""
    if name == "i":
        return "s_axis"
    if name == "o":
        return "m_axis"
    return f"{'s' if flow == In else 'm'}_axis_{name}"


def stream_members(signature):
    """``{member name: (flow, stream signature)}`` of the stream members of ``signature``."""
    found = {}
    for name, member in signature.members.items():
        if member.is_signature:
            sig = member.signature
            sig = sig.flip() if isinstance(sig, wiring.FlippedSignature) else sig
            if isinstance(sig, stream.Signature):
                found[name] = (member.flow, sig)
    return found


def payload_shape(signature):
    """The payload shape of a stream signature (the field is private in Amaranth 0.5)."""
    return signature.members["payload"].shape


def _payload_fields(shape):
    """``[(field or None for the whole payload, axis suffix, width)]`` of a stream payload."""
    if isinstance(shape, data.StructLayout) and "data" in shape.members:
        fields = []
        for field, field_shape in shape.members.items():
            if field not in _FIELDS:
                raise ValueError(f"stream payload field {field!r} has no AXI4-Stream mapping "
                                 f"(allowed: {', '.join(_FIELDS)})")
            fields.append((field, _FIELDS[field], Shape.cast(field_shape).width))
        return fields
    return [(None, "tdata", Shape.cast(shape).width)]


class AxisTop(wiring.Component):
    """Wrap ``core`` (stream members such as ``i`` and ``o``) in AXI4-Stream ports.

    Parameters
    ----------
    core : wiring.Component
    """

    def __init__(self, core):
        self._core = core
        self._streams = {}     # member -> (flow, prefix, fields)
        members = {"aclk": In(1), "aresetn": In(1)}
        streams = stream_members(core.signature)
        for name, (flow, sig) in streams.items():
            prefix = axis_prefix(name, flow)
            fields = _payload_fields(payload_shape(sig))
            self._streams[name] = (flow, prefix, fields)
            forward, backward = (In, Out) if flow == In else (Out, In)
            # AXI4-Stream order: tdata, tvalid, tready, then the sideband signals.
            ordered = sorted(fields, key=lambda f: f[1] != "tdata")
            members[f"{prefix}_{ordered[0][1]}"] = forward(ordered[0][2])
            members[f"{prefix}_tvalid"] = forward(1)
            members[f"{prefix}_tready"] = backward(1)
            for _field, suffix, width in ordered[1:]:
                members[f"{prefix}_{suffix}"] = forward(width)
        for name, member in core.signature.members.items():
            if name not in streams:
                if member.is_signature:
                    raise ValueError(f"core member {name!r} is an interface but not a stream")
                members[name] = member
        super().__init__(members)

    @property
    def core(self):
        return self._core

    def prefix_of(self, member):
        """The AXI4-Stream prefix of the core's stream member ``member``."""
        return self._streams[member][1]

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = sync = ClockDomain("sync")
        m.d.comb += [sync.clk.eq(self.aclk), sync.rst.eq(~self.aresetn)]
        m.submodules.core = core = self._core
        for name, (flow, prefix, fields) in self._streams.items():
            port = getattr(core, name)
            for field, suffix, _width in fields:
                inner = port.payload if field is None else getattr(port.payload, field)
                outer = getattr(self, f"{prefix}_{suffix}")
                m.d.comb += inner.eq(outer) if flow == In else outer.eq(inner)
            valid, ready = getattr(self, f"{prefix}_tvalid"), getattr(self, f"{prefix}_tready")
            if flow == In:
                m.d.comb += [port.valid.eq(valid), ready.eq(port.ready)]
            else:
                m.d.comb += [valid.eq(port.valid), port.ready.eq(ready)]
        for name, member in core.signature.members.items():
            if name not in self._streams:
                inner, outer = getattr(core, name), getattr(self, name)
                m.d.comb += inner.eq(outer) if member.flow == In else outer.eq(inner)
        return m
