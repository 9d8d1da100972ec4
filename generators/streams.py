"""Stream specs: each stream described once, from its payload layout, for the manifest.

The payload ``StructLayout`` of a core's stream member is the single source of every field's
name, AXI4-Stream signal, bit offset, width and signedness (:func:`layout_fields`). A family adds
only what a layout cannot say, once per core, in a :class:`BlockSpec`: fixed-point fraction bits
and meanings of fields (:class:`Note`), what ``tlast`` delimits (:class:`Tlast`), beat counts per
job and which beat carries what (:class:`Segment`, alternative layouts such as a header), padding
rules, the run-time sizes a job is made of (:class:`Var`) and the latency (:class:`Latency`).

Run-time sizes enter the manifest as expressions (:func:`evaluate`; the grammar is in
``docs/manifest.md``): integers, names, ``+ - * // %``, comparisons, ``and or not``,
``min(a, b)``, ``max(a, b)`` and ``cdiv(a, b)`` (ceiling division).
"""

import ast
import dataclasses
import re

from amaranth.hdl import Shape
from amaranth.lib import data

__all__ = ["SCHEMA_VERSION", "LATENCY_CONVENTION", "Note", "Tlast", "Segment", "Padding",
           "Stream", "Var", "Latency", "Function", "BlockSpec", "layout_fields", "evaluate",
           "check_expression", "describe_streams"]

#: Version of the manifest's JSON Schema (``generators/manifest.schema.json``).
SCHEMA_VERSION = "1.1.0"

LATENCY_CONVENTION = (
    "L = e_out - e_in in clock cycles, where e_in is the rising edge of aclk at which the "
    "trigger input beat is transferred (tvalid and tready both high; with several trigger "
    "beats, the latest of their transfers) and e_out the first rising "
    "edge at which the response output beat has tvalid high; every input stream offers its "
    "beats without gaps and every output's tready is held high. L = 0 would mean the same edge; "
    "a register between input and output gives L = 1.")

#: Payload member -> AXI4-Stream signal (as :mod:`generators.axis` maps them).
#: ``keep`` is a lane-granular ``tkeep``: one bit per lane, not per byte.
SIGNALS = {"data": "tdata", "keep": "tkeep", "last": "tlast", "mask": "tuser", "user": "tuser"}


@dataclasses.dataclass(frozen=True)
class Note:
    """What a family says about one field of a layout (by its name, e.g. ``data[]``)."""

    frac_bits: int = 0
    meaning: str = None
    choices: tuple = None       # the only values a sender may use
    value: str = None           # expression of job variables the field must carry
    used_when: str = None       # expression: the field is read only on beats where it holds


@dataclasses.dataclass(frozen=True)
class Tlast:
    """``role``: ``delimits`` (tlast ends every ``every`` beats: a frame), ``ignored`` (the
    block does not read it; any value), or ``none`` (the stream has no tlast)."""

    role: str
    meaning: str
    every: str = None

    def __post_init__(self):
        if self.role not in ("delimits", "ignored", "none"):
            raise ValueError(f"tlast role must be delimits, ignored or none, not {self.role!r}")
        if (self.role == "delimits") != (self.every is not None):
            raise ValueError("tlast 'every' is given exactly when the role is 'delimits'")


@dataclasses.dataclass(frozen=True)
class Segment:
    """A run of beats of one job with one layout: ``payload`` or a name in ``layouts``.

    ``index``: ``((name, count), ...)`` loop variables over the segment's beats, outer first
    (their counts multiply to ``beats``); field notes' ``used_when`` may name them."""

    name: str
    beats: str
    meaning: str
    layout: str = "payload"
    index: tuple = ()


@dataclasses.dataclass(frozen=True)
class Padding:
    """The last beat of a frame may hold fewer than ``lanes`` elements: ``valid`` is an
    expression for the number of valid lanes of beat ``beat``. Pad lanes are marked by
    ``keep_field`` (a ``tkeep`` field: bit k is 0 for a pad lane k, 1 for a valid one), or by
    ``mask_field`` bit k set to ``mask_value``, or both."""

    valid: str
    meaning: str
    keep_field: str = None
    mask_field: str = None
    mask_value: int = None

    def __post_init__(self):
        if self.keep_field is None and self.mask_field is None:
            raise ValueError("padding needs a keep_field or a mask_field")
        if (self.mask_field is None) != (self.mask_value is None):
            raise ValueError("padding mask_value is given exactly when mask_field is")
        if self.mask_value not in (None, 0, 1):
            raise ValueError(f"padding mask_value must be 0 or 1, not {self.mask_value!r}")


@dataclasses.dataclass(frozen=True)
class Stream:
    """A family's description of one stream member beyond its layout."""

    meaning: str
    beats: str                          # beats per job
    tlast: Tlast
    notes: dict = dataclasses.field(default_factory=dict)      # field name -> Note
    layouts: dict = dataclasses.field(default_factory=dict)    # name -> (StructLayout, notes)
    segments: tuple = ()
    padding: Padding = None


@dataclasses.dataclass(frozen=True)
class Var:
    """A run-time size or choice of one job: a range ``min..max`` in steps of ``step`` from
    ``min`` (``max`` None: unbounded), or ``choices``."""

    name: str
    meaning: str
    min: int = None
    max: int = None
    step: int = 1
    choices: tuple = None

    def __post_init__(self):
        if (self.choices is None) == (self.min is None):
            raise ValueError(f"variable {self.name}: give either min (and max) or choices")


@dataclasses.dataclass(frozen=True)
class Latency:
    """``cycles`` (an expression) from the transfer of the latest of the ``start`` beats to
    the first valid of the ``end`` beat; each a ``(stream member, beat index expression within
    the job, meaning)``."""

    cycles: str
    start: tuple
    end: tuple

    def __post_init__(self):
        if not self.start or any(len(event) != 3 for event in self.start) or len(self.end) != 3:
            raise ValueError("latency start is one or more (member, beat, meaning), end one")


@dataclasses.dataclass(frozen=True)
class Function:
    """What the block computes: a formula and its named quantities with their formats."""

    formula: str
    quantities: tuple = ()      # (name, meaning, format dict or None)


@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """Everything a core says about its streams beyond their layouts."""

    job: str                        # what one job is
    variables: tuple                # Var
    streams: dict                   # member -> Stream
    latency: Latency
    derived: tuple = ()             # (name, expression), in evaluation order
    function: Function = None
    rules: tuple = ()               # statements a sender must know that fit nowhere else
    initiation_interval: int = 1
    initiation_meaning: str = "cycles per output beat at full rate"


# -- layouts to field tables ---------------------------------------------------------------------

def _leaves(shape, name, offset, lane):
    """Yield ``(name, offset, width, signed, lanes, stride)`` of the leaf fields of ``shape``.

    The first array met on the way down is the lane array (``name[]``, lanes and stride); any
    array inside a lane is unrolled with explicit indices, so one name carries one ``[]``."""
    if isinstance(shape, data.StructLayout):
        for member, field in shape:
            yield from _leaves(field.shape, f"{name}.{member}" if name else member,
                               offset + field.offset, lane)
    elif isinstance(shape, data.ArrayLayout):
        elem = Shape.cast(shape.elem_shape).width
        if lane is None:
            for leaf in _leaves(shape.elem_shape, f"{name}[]", offset, (shape.length, elem)):
                yield leaf
        else:
            for k in range(shape.length):
                yield from _leaves(shape.elem_shape, f"{name}[{k}]", offset + k * elem, lane)
    else:
        cast = Shape.cast(shape)
        lanes, stride = lane if lane is not None else (1, 0)
        yield name, offset, cast.width, cast.signed, lanes, stride


def layout_fields(layout, notes, signal_of=None):
    """The field table of ``layout``: one dict per leaf field.

    ``signal_of``: top-level member -> AXI4-Stream signal (a payload's ``data``, ``mask``,
    ``user``, ``last``); None for a layout that fills one signal (a header in ``tdata``).
    ``notes``: field name -> :class:`Note`; a note naming no field is an error."""
    notes = dict(notes)
    table = []
    if signal_of is None:
        members = [(None, layout, "tdata", 0)]
    else:
        members = [(member, field.shape, signal_of[member], 0) for member, field in layout]
    for member, shape, signal, base in members:
        for name, offset, width, signed, lanes, stride in _leaves(shape, member or "", base,
                                                                   None):
            note = notes.pop(name, Note())
            row = {"name": name, "signal": signal, "offset": offset, "width": width,
                   "signed": signed, "int_bits": width - note.frac_bits,
                   "frac_bits": note.frac_bits}
            if "[]" in name:
                row.update(lanes=lanes, stride=stride)
            for key in ("meaning", "choices", "value", "used_when"):
                if getattr(note, key) is not None:
                    value = getattr(note, key)
                    row[key] = list(value) if key == "choices" else value
                    if key in ("value", "used_when"):
                        check_expression(value)
            table.append(row)
    if notes:
        raise ValueError(f"notes name fields the layout does not have: {', '.join(notes)} "
                         f"(fields: {', '.join(r['name'] for r in table)})")
    return table


# -- expressions ---------------------------------------------------------------------------------

_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.FloorDiv: lambda a, b: a // b,
           ast.Mod: lambda a, b: a % b}
_COMPARE = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
            ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
            ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b}
_CALLS = {"min": min, "max": max, "cdiv": lambda a, b: -(-a // b)}


def _eval(node, env):
    if isinstance(node, ast.Expression):
        return _eval(node.body, env)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise ValueError(f"unknown name {node.id!r} (known: {', '.join(sorted(env))})")
        return env[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_eval(node.left, env), _eval(node.right, env))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        value = _eval(node.operand, env)
        return -value if isinstance(node.op, ast.USub) else int(not value)
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, env) for v in node.values]
        return int(all(values) if isinstance(node.op, ast.And) else any(values))
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left = _eval(node.left, env)
        for op, right in zip(node.ops, node.comparators):
            right = _eval(right, env)
            if not _COMPARE[type(op)](left, right):
                return 0
            left = right
        return 1
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in _CALLS and len(node.args) == 2 and not node.keywords):
        return _CALLS[node.func.id](*(_eval(a, env) for a in node.args))
    raise ValueError(f"not allowed in a manifest expression: {ast.unparse(node)!r}")


def _parse(expression):
    if not isinstance(expression, str) or not re.fullmatch(r"[\w\s+\-*/%()<>=!,]+", expression):
        raise ValueError(f"a manifest expression must be a string of names, integers and "
                         f"+ - * // % ( ) , comparisons, not {expression!r}")
    return ast.parse(expression, mode="eval")


def evaluate(expression, env):
    """The integer value of a manifest expression with names bound by ``env``."""
    return _eval(_parse(expression), env)


def check_expression(expression):
    """Raise ValueError unless ``expression`` is in the grammar (names are not checked)."""

    class Anything(dict):
        def __contains__(self, key):
            return True

        def __getitem__(self, key):
            return 1

    try:
        _eval(_parse(expression), Anything())
    except ZeroDivisionError:
        pass
    return expression


# -- the manifest's streams, latency and job -------------------------------------------------------

def _tlast(spec):
    out = {"role": spec.role, "meaning": spec.meaning}
    if spec.every is not None:
        out["every"] = check_expression(spec.every)
    return out


def describe_streams(spec: BlockSpec, layouts, prefix_of, directions):
    """The manifest's ``job``, ``streams``, ``latency`` and ``function`` of a core.

    ``layouts``: member -> payload StructLayout; ``prefix_of``: member -> AXI4-Stream prefix;
    ``directions``: member -> ``input`` or ``output``."""
    if set(spec.streams) != set(layouts):
        raise ValueError(f"the spec describes streams {sorted(spec.streams)}, the core has "
                         f"{sorted(layouts)}")
    streams = {}
    for member, layout in layouts.items():
        described = spec.streams[member]
        signal_of = {name: SIGNALS[name] for name, _ in layout}
        fields = layout_fields(layout, described.notes, signal_of)
        signals = {SIGNALS[name]: Shape.cast(field.shape).width for name, field in layout}
        if (described.tlast.role == "none") != ("tlast" not in signals):
            raise ValueError(f"stream {member}: tlast role {described.tlast.role!r} but the "
                             f"layout {'has' if 'tlast' in signals else 'has no'} last")
        entry = {"direction": directions[member], "meaning": described.meaning,
                 "signals": dict(sorted(signals.items(), key=lambda s: _SIGNAL_ORDER[s[0]])),
                 "fields": fields, "beats": check_expression(described.beats),
                 "tlast": _tlast(described.tlast)}
        if described.layouts:
            entry["layouts"] = {name: layout_fields(alt, notes)
                                for name, (alt, notes) in described.layouts.items()}
        if described.segments:
            entry["segments"] = []
            for seg in described.segments:
                if seg.layout != "payload" and seg.layout not in described.layouts:
                    raise ValueError(f"stream {member}: segment {seg.name} has unknown layout "
                                     f"{seg.layout!r}")
                row = {"name": seg.name, "beats": check_expression(seg.beats),
                       "layout": seg.layout, "meaning": seg.meaning}
                if seg.index:
                    row["index"] = [{"name": n, "count": check_expression(c)}
                                    for n, c in seg.index]
                entry["segments"].append(row)
        if described.padding is not None:
            pad = described.padding
            entry["padding"] = {"valid": check_expression(pad.valid)}
            for key, signal in (("keep_field", "tkeep"), ("mask_field", None)):
                name = getattr(pad, key)
                if name is None:
                    continue
                if not any(f["name"] == name and signal in (None, f["signal"]) for f in fields):
                    raise ValueError(f"stream {member}: padding {key} {name!r} is not a field"
                                     f"{' on ' + signal if signal else ''} of the payload")
                entry["padding"][key] = name
            if pad.mask_field is not None:
                entry["padding"]["mask_value"] = pad.mask_value
            entry["padding"]["meaning"] = pad.meaning
        streams[prefix_of[member]] = entry
    variables = []
    for var in spec.variables:
        row = {"name": var.name, "meaning": var.meaning}
        if var.choices is not None:
            row["choices"] = list(var.choices)
        else:
            row.update(min=var.min, max=var.max, step=var.step)
        variables.append(row)
    lat = spec.latency
    job = {"meaning": spec.job, "variables": variables,
           "derived": [{"name": n, "expr": check_expression(e)} for n, e in spec.derived]}

    def event(member, beat, meaning):
        return {"stream": prefix_of[member], "beat": check_expression(beat), "meaning": meaning}

    latency = {"convention": LATENCY_CONVENTION, "cycles": check_expression(lat.cycles),
               "from": [event(*e) for e in lat.start], "to": event(*lat.end)}
    out = {"job": job, "streams": streams, "latency": latency}
    if spec.function is not None:
        out["function"] = {"formula": spec.function.formula, "quantities": [
            {"name": n, "meaning": m, **({"format": f} if f else {})}
            for n, m, f in spec.function.quantities]}
    return out


# AXI4-Stream's order of the signals (tdata, tkeep, tuser, tlast).
_SIGNAL_ORDER = {"tdata": 0, "tkeep": 1, "tuser": 2, "tlast": 3}


def fixed_format(width, frac_bits, signed):
    """A quantity's format as the manifest writes it (the fields' one convention)."""
    return {"signed": signed, "width": width, "int_bits": width - frac_bits,
            "frac_bits": frac_bits}
