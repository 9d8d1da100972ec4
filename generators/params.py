"""Parameter objects: validation helpers and the base every family's frozen dataclass builds on.

Messages follow one grammar, e.g. ``lanes must be between 1 and 16, not 17``; type problems raise
:class:`ParamTypeError` (a ``TypeError``), values outside the domain :class:`ParamValueError`.
"""

import dataclasses
import difflib
import json
import typing

__all__ = ["ParamError", "ParamTypeError", "ParamValueError", "BlockParams",
           "check_int", "check_choice", "did_you_mean"]


class ParamError(Exception):
    """A user-facing parameter problem; the CLI prints it as one line."""


class ParamTypeError(ParamError, TypeError):
    pass


class ParamValueError(ParamError, ValueError):
    pass


def did_you_mean(name, choices):
    """``"; did you mean 'x'?"`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(str(name), sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_int(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamTypeError(f"{name} must be an integer, not {value!r}")
    if not low <= value <= high:
        raise ParamValueError(f"{name} must be between {low} and {high}, not {value!r}")


def check_choice(name, value, choices):
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ParamValueError(f"{name} must be one of {allowed}, not {value!r}"
                              f"{did_you_mean(value, choices)}")


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

    Subclasses set ``family`` and validate every field in ``__post_init__``. Fields whose default
    is ``None`` are method-specific: ``__post_init__`` resolves them, and ``to_dict`` leaves out
    those that stay ``None``.
    """

    family: typing.ClassVar[str] = ""

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
                    f"{cls.family} has no parameter {key!r}{did_you_mean(key, names)} "
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
