"""Joining two blocks' streams: ``wiring.connect`` after a check that names what differs."""

from amaranth.hdl import Shape
from amaranth.lib import data, wiring

from ..params import CompositionError

__all__ = ["join", "describe_payload", "payload_difference"]


def _payload(interface):
    return interface.signature.members["payload"].shape


def describe_payload(shape):
    """A short text of a stream payload: ``8 x s18 + last``."""
    if isinstance(shape, data.StructLayout):
        parts = [describe_payload(field.shape) if name == "data" else name
                 for name, field in shape]
        return " + ".join(parts)
    if isinstance(shape, data.ArrayLayout):
        return f"{shape.length} x {describe_payload(shape.elem_shape)}"
    cast = Shape.cast(shape)
    return f"{'s' if cast.signed else 'u'}{cast.width}"


def payload_difference(up, down):
    """What differs between two payload shapes (None when they are the same)."""
    if up == down:
        return None
    if isinstance(up, data.StructLayout) and isinstance(down, data.StructLayout):
        if set(up.members) != set(down.members):
            return (f"fields {', '.join(sorted(up.members))} against "
                    f"{', '.join(sorted(down.members))}")
        for name in up.members:
            diff = payload_difference(up[name].shape, down[name].shape)
            if diff:
                return f"{name}: {diff}"
    if isinstance(up, data.ArrayLayout) and isinstance(down, data.ArrayLayout):
        if up.length != down.length:
            return f"lane counts {up.length} and {down.length} differ"
        return payload_difference(up.elem_shape, down.elem_shape)
    a, b = Shape.cast(up), Shape.cast(down)
    if a.width != b.width:
        return f"element widths {a.width} and {b.width} differ"
    if a.signed != b.signed:
        return "signedness differs"
    return f"{describe_payload(up)} against {describe_payload(down)}"


def join(m, upstream, downstream, names):
    """Connect stream ``upstream`` (an output) to ``downstream`` (an input) in module ``m``;
    ``names``: ``(upstream name, downstream name)`` for the message when their payloads do
    not meet."""
    diff = payload_difference(_payload(upstream), _payload(downstream))
    if diff:
        raise CompositionError(f"stream {names[0]} ({describe_payload(_payload(upstream))}) "
                               f"cannot feed {names[1]} "
                               f"({describe_payload(_payload(downstream))}): {diff}")
    wiring.connect(m, upstream, downstream)
