"""Parameter objects: declared fields, validation helpers, parameter tables.

Every family's frozen dataclass declares each parameter once with :func:`param`: its default, its
kind, its range or choices, the method or mode it applies to and a one-sentence doc.
:class:`BlockParams` runs those declared checks in field order, then the family's cross-field
``_check``; the same declarations give :func:`parameter_table` (the docs pages' tables and
``python -m generators params FAMILY``).

Messages follow one grammar, e.g. ``lanes must be between 1 and 16, not 17``; type problems raise
:class:`ParamTypeError` (a ``TypeError``), values outside the domain :class:`ParamValueError`.
Values in messages go through :func:`show`, which cuts long ones.
"""

import dataclasses
import difflib
import json
import math
import numbers
from fractions import Fraction
import typing

__all__ = ["ParamError", "ParamTypeError", "ParamValueError", "BlockParams",
           "check_int", "check_choice", "did_you_mean", "show",
           "Kind", "INT", "BOOL", "STR", "INT_LIST", "Derived", "When", "when", "param", "Param",
           "declared",
           "ParamRow", "parameter_table", "parameter_table_text", "parameter_table_markdown"]


class ParamError(Exception):
    """A user-facing parameter problem; the CLI prints it as one line."""


class ParamTypeError(ParamError, TypeError):
    pass


class ParamValueError(ParamError, ValueError):
    pass


# -- values in messages -------------------------------------------------------------------------

#: Longest value text in a message: a 20,000-character string is not echoed whole.
SHOWN_CHARS = 60

# Python refuses to print ints of more than 4300 digits; well before that they are unreadable.
_SHOWN_INT_BITS = 190


def _text(value, budget):
    """``repr`` that stops early on long containers and never prints a huge integer."""
    if isinstance(value, int) and not isinstance(value, bool):
        bits = value.bit_length()
        return repr(value) if bits <= _SHOWN_INT_BITS else f"<a {bits}-bit integer>"
    if isinstance(value, str):
        return repr(value[:budget + 1])
    if isinstance(value, (list, tuple, dict)):
        items = list(value.items()) if isinstance(value, dict) else value
        parts, used = [], 0
        for item in items:
            if used > budget:
                parts.append("...")
                break
            if isinstance(value, dict):
                part = f"{_text(item[0], budget)}: {_text(item[1], budget)}"
            else:
                part = _text(item, budget - used)
            parts.append(part)
            used += len(part) + 2
        inner = ", ".join(parts)
        if isinstance(value, dict):
            return "{" + inner + "}"
        if isinstance(value, list):
            return "[" + inner + "]"
        return "(" + inner + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def show(value):
    """``repr(value)`` for a message, cut to :data:`SHOWN_CHARS` characters."""
    text = _text(value, SHOWN_CHARS)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 3] + "..."


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def did_you_mean(name, choices):
    """``"; did you mean x?"`` for the closest of ``choices``, or an empty string.

    Strings are matched by spelling; numbers by value, and only when one choice is nearest.
    Values of any other type get no suggestion.
    """
    if isinstance(name, str):
        spelled = {c: c for c in choices if isinstance(c, str)}
        close = difflib.get_close_matches(name, sorted(spelled), n=1, cutoff=0.6)
        return f"; did you mean {close[0]!r}?" if close else ""
    if _is_number(name) and (isinstance(name, int) or math.isfinite(name)):
        numeric = sorted({c for c in choices if _is_number(c) and math.isfinite(c)})
        if numeric:
            # Fractions: exact, and no overflow between a huge int and a float.
            distances = sorted((abs(Fraction(c) - Fraction(name)), c) for c in numeric)
            if len(distances) == 1 or distances[0][0] < distances[1][0]:
                return f"; did you mean {distances[0][1]!r}?"
    return ""


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(name, value, low, high):
    if not _is_int(value):
        raise ParamTypeError(f"{name} must be an integer, not {show(value)}")
    if not low <= value <= high:
        raise ParamValueError(f"{name} must be between {low} and {high}, not {show(value)}")


def _same_kind(a, b):
    """Equal values of one kind: ``True == 1`` and ``4.0 == 4`` do not count."""
    return (isinstance(a, bool) == isinstance(b, bool)
            and isinstance(a, float) == isinstance(b, float))


def check_choice(name, value, choices, allowed=None):
    """``value`` must equal one of ``choices`` (of its own type: ``True`` is not ``1``).

    ``allowed`` replaces the ``one of a, b`` text of the message."""
    if not any(_same_kind(value, c) and value == c for c in choices):
        allowed = allowed or "one of " + ", ".join(repr(c) for c in choices)
        raise ParamValueError(f"{name} must be {allowed}, not {show(value)}"
                              f"{did_you_mean(value, choices)}")


# -- declarations -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Kind:
    """What a field holds: its name in tables, and the type check of a value."""

    name: str
    noun: str                       # "an integer": the message says "x must be <noun>, not v"
    accepts: typing.Callable

    def check(self, name, value):
        if not self.accepts(value):
            raise ParamTypeError(f"{name} must be {self.noun}, not {show(value)}")


INT = Kind("int", "an integer", _is_int)
BOOL = Kind("bool", "a bool", lambda v: isinstance(v, bool))
STR = Kind("str", "a string", lambda v: isinstance(v, str))
#: A non-empty list of integers (a tuple once frozen); a range applies to each entry.
INT_LIST = Kind("list of int", "a non-empty list of integers",
                lambda v: isinstance(v, tuple) and len(v) > 0 and all(_is_int(x) for x in v))


@dataclasses.dataclass(frozen=True)
class Derived:
    """A value computed from the fields before it: ``text`` says how, for tables."""

    text: str
    compute: typing.Callable

    def __str__(self):
        return self.text


def _value(bound, params):
    """A declared bound or default: a constant, the name of an earlier field, or Derived."""
    if isinstance(bound, Derived):
        return bound.compute(params)
    if isinstance(bound, str):
        return getattr(params, bound)
    return bound


@dataclasses.dataclass(frozen=True)
class When:
    """Where a method- or mode-specific field applies: ``field`` holds one of ``values``."""

    field: str
    values: tuple
    text: str = None                # overrides the "<field> 'a' or 'b'" wording

    def holds(self, params):
        return getattr(params, self.field) in self.values

    @property
    def flag(self):
        """Applies when a bool field is true."""
        return self.values == (True,)

    def __str__(self):
        if self.text:
            return self.text
        if self.flag:
            return f"{self.field} = true"
        return f"{self.field} " + " or ".join(repr(v) for v in self.values)

    def table_text(self):
        """As a config file spells it: ``mode = "full"``."""
        if self.text:
            return self.text
        if self.flag:
            return f"{self.field} = true"
        return f"{self.field} = " + " or ".join(_toml(v) for v in self.values)

    def refuse(self, name, params):
        if self.flag:
            return ParamValueError(f"{name} applies only with {self}")
        return ParamValueError(f"{name} applies only to {self}, "
                               f"not {show(getattr(params, self.field))}")


def when(field, *values, text=None):
    """``applies=when("method", "fitted_pwl")``: the field applies only there."""
    return When(field, values, text)


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter's declaration (see :func:`param`)."""

    default: typing.Any
    kind: Kind
    doc: str
    low: typing.Any = None
    high: typing.Any = None
    choices: tuple = None
    allowed: str = None
    power_of_two: bool = False
    multiple_of: str = None
    applies: When = None

    @property
    def off(self):
        """What the field holds where it does not apply: a flag is false, anything else None."""
        return False if self.kind is BOOL else None

    @property
    def field_default(self):
        """The dataclass default: None where ``__post_init__`` resolves it."""
        if self.applies is not None:
            return self.off
        return None if isinstance(self.default, Derived) else self.default

    def validate(self, name, params):
        value = getattr(params, name)
        if value is not None or self.field_default is not None:   # None: resolve the default
            self.kind.check(name, value)
        if self.applies is not None and not self.applies.holds(params):
            if value != self.off:
                raise self.applies.refuse(name, params)
            return
        if value is None:
            value = _value(self.default, params)
            if value is None:       # optional: unset means the feature is not used
                return
            object.__setattr__(params, name, value)
            self.kind.check(name, value)
        entries = value if self.kind is INT_LIST else (value,)
        label = f"{name} entries" if self.kind is INT_LIST else name
        for entry in entries:
            self._check_value(label, entry, params)

    def _check_value(self, name, value, params):
        if self.choices is not None:
            check_choice(name, value, _value(self.choices, params), self.allowed)
        if self.low is not None or self.high is not None:
            check_int(name, value, _value(self.low, params), _value(self.high, params))
        if self.power_of_two and value & (value - 1):
            raise ParamValueError(f"{name} must be a power of two, not {show(value)}")
        if self.multiple_of and value % getattr(params, self.multiple_of):
            raise ParamValueError(
                f"{name} must be a multiple of {self.multiple_of} "
                f"({getattr(params, self.multiple_of)}), not {show(value)}")

    def allowed_text(self):
        """The range or choices, as the table shows them."""
        if self.allowed:
            return self.allowed
        if isinstance(self.choices, Derived):
            parts = [self.choices.text]
        elif self.choices is not None:
            parts = [", ".join(_toml(c) for c in self.choices)]
        elif self.low is not None or self.high is not None:
            parts = [f"{self.low}..{self.high}"]
        else:
            parts = ["true, false"] if self.kind is BOOL else []
        if self.power_of_two:
            parts.append("a power of two")
        if self.multiple_of:
            parts.append(f"a multiple of {self.multiple_of}")
        return ", ".join(parts) or "-"


def param(default, *, kind, doc, low=None, high=None, choices=None, allowed=None,
          power_of_two=False, multiple_of=None, applies=None):
    """Declare a parameter field of a :class:`BlockParams` dataclass.

    ``default`` is a constant, a :class:`Derived` value of earlier fields, or None for an
    optional field (unset: the feature is not used); ``kind`` one of :data:`INT`, :data:`BOOL`,
    :data:`STR`, :data:`INT_LIST` (or a family's own :class:`Kind`). ``low``/``high``
    (inclusive) and ``choices`` may be constants, the name of an earlier field or
    :class:`Derived`; ``power_of_two`` and ``multiple_of`` (an earlier field's name) add those
    rules; ``allowed`` replaces the table's text of the allowed values (and the message's, for a
    choice). ``applies`` (see :func:`when`) limits the field to a method or mode: elsewhere it
    must stay unset (a flag false) and ``to_dict`` leaves it out. ``doc`` is one sentence.
    The checks run in this order: kind, applies, range or choices, power of two, multiple.
    """
    if applies is not None and kind is BOOL and default is not False:
        # Where it does not apply a flag holds false; a default of true could never be set.
        raise TypeError("a method-specific flag must default to False")
    spec = Param(default, kind, doc, low, high, choices, allowed, power_of_two, multiple_of,
                 applies)
    return dataclasses.field(default=spec.field_default, metadata={"param": spec})


def declared(params_class):
    """``(name, Param)`` of every declared field, in field order."""
    return [(f.name, f.metadata["param"]) for f in dataclasses.fields(params_class)
            if "param" in f.metadata]


# -- the base class ------------------------------------------------------------------------------

def _plain(value):
    """Tuples (frozen dataclass fields) to lists, so JSON and TOML round-trip."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _frozen(value):
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


@dataclasses.dataclass(frozen=True)
class BlockParams:
    """Base of the per-family parameter dataclasses.

    Subclasses set ``family``, declare every field with :func:`param` and put the checks that
    relate several fields in ``_check``. Method-specific fields hold ``None`` where they do not
    apply, and ``to_dict`` leaves them out.
    """

    family: typing.ClassVar[str] = ""

    def __post_init__(self):
        for name, spec in declared(type(self)):
            spec.validate(name, self)
        self._check()

    def _check(self):
        """Cross-field checks, run once every field has passed its declared checks."""

    @classmethod
    def field_names(cls):
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values):
        """Build from plain data (TOML/JSON), refusing unknown names with a suggestion."""
        names = cls.field_names()
        for key in values:
            if key not in names:
                raise ParamValueError(
                    f"{cls.family} has no parameter {show(key)}{did_you_mean(key, names)} "
                    f"(parameters: {', '.join(names)})")
        return cls(**{k: _frozen(v) for k, v in values.items()})

    def to_dict(self):
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None}

    def to_json(self):
        return json.dumps({"family": self.family, **self.to_dict()}, sort_keys=True)

    def _resolve(self, name, value):
        """Set a derived or defaulted field from ``__post_init__`` of a frozen dataclass."""
        object.__setattr__(self, name, value)


# -- parameter tables ----------------------------------------------------------------------------

class ParamRow(typing.NamedTuple):
    name: str
    kind: str
    default: str
    allowed: str
    applies: str
    doc: str


def _toml(value):
    """A plain value as a TOML config file spells it (``true``, ``"ram"``, ``[1, 2]``)."""
    return json.dumps(_plain(value))


def _default_text(spec):
    if spec.default is None:
        return "unset"
    if isinstance(spec.default, Derived):
        return spec.default.text
    return _toml(spec.default)


def parameter_table(params_class):
    """One :class:`ParamRow` per declared parameter of ``params_class``, in field order."""
    return [ParamRow(name, spec.kind.name, _default_text(spec), spec.allowed_text(),
                     spec.applies.table_text() if spec.applies else "all", spec.doc)
            for name, spec in declared(params_class)]


_HEADINGS = ParamRow("parameter", "kind", "default", "allowed", "applies to", "description")


def parameter_table_text(params_class):
    """The table as aligned plain text, the description last (one line per parameter)."""
    rows = [_HEADINGS, *parameter_table(params_class)]
    widths = [max(len(row[k]) for row in rows) for k in range(len(_HEADINGS) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1]
             for row in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _markdown_text(text):
    return text.replace("|", "\\|").replace("*", "\\*").replace("<", "&lt;")


def parameter_table_markdown(params_class):
    """The table in GitHub markdown, as the docs pages embed it: names, defaults and allowed
    values as code."""
    def code(text):
        return "`" + text.replace("|", "\\|") + "`"

    lines = ["| " + " | ".join(_HEADINGS) + " |", "|" + "---|" * len(_HEADINGS)]
    for row in parameter_table(params_class):
        cells = [code(row.name), row.kind, code(row.default), code(row.allowed),
                 _markdown_text(row.applies), _markdown_text(row.doc)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
