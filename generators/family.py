"""The family descriptor: everything the rest of the library needs to know about one family.

Each family package exports ``FAMILY``, a :class:`Family`; :mod:`generators.families` lists
them, one line each. Nothing here (nor in a family's ``__init__``, ``params`` or ``model``)
imports Amaranth: the core is named as a ``"module:callable"`` string and imported on first use.
"""

import dataclasses
import importlib
import re
import typing

from .params import BlockParams, ParamError, show

__all__ = ["Family", "FrameModel", "Entry", "ConfigError", "check_name"]


class ConfigError(ParamError, ValueError):
    """A problem with a config file or a name on the command line."""


_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}\Z")


def check_name(name):
    """Names become module and file names: refuse anything but ``[a-z][a-z0-9_]*``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"block name {show(name)} is not allowed: use 1 to 63 lowercase "
                          f"letters, digits and underscores, starting with a letter")


@dataclasses.dataclass(frozen=True)
class Entry:
    """A named configuration: the module name and the parameters."""

    name: str
    params: BlockParams

    def __post_init__(self):
        check_name(self.name)

    @property
    def family(self):
        from .families import FAMILIES     # the registry imports the packages that build Entries

        return FAMILIES[self.params.family]


class FrameModel(typing.NamedTuple):
    """The golden model of one frame or job, for the board self-test and the UART bridge.

    One-in/one-out families give ``golden`` and ``longest``; any family may give ``jobs``
    instead: ``(params, rng, size) -> (inputs, outputs)``, each ``{stream member: [payload
    dicts]}`` of one seeded job (inputs in the order they must start; ``size`` None, or < 0.5
    for a small job), the outputs the golden model's."""

    #: ``(params, codes, mask) -> codes`` for one frame of elements.
    golden: typing.Callable = None
    #: ``params -> elements``: the longest frame the block takes, or None (any length).
    longest: typing.Callable = None
    #: ``(params, rng, size) -> (inputs, outputs)``: one job's beats per stream.
    jobs: typing.Callable = None


@dataclasses.dataclass(frozen=True)
class Family:
    name: str
    params_class: type
    core_builder: str       # "module:callable", imported on first use so models stay Amaranth-free
    entries: tuple          # the default catalog's Entries of this family, in catalog order
    summary: str
    tlast: str              # what tlast delimits, for the manifest
    latency: str            # what the manifest's latency_cycles counts
    #: The self-test's golden model of one frame; None when the family's streams are not the
    #: self-test's one-in/one-out shape.
    frame_model: FrameModel | None = None
    #: ``"module:callable"``, ``params -> generators.guards.Estimate``: the memories and Verilog
    #: size of a block from its parameters alone, for the resource guards. Amaranth-free and
    #: fast (it runs before every build); an upper bound, calibrated on real builds.
    estimator: str | None = None

    def __post_init__(self):
        for entry in self.entries:
            if entry.params.family != self.name:
                raise ValueError(f"family {self.name!r}: entry {entry.name!r} has parameters of "
                                 f"family {entry.params.family!r}")

    @property
    def docs_page(self):
        """The family's documentation page, relative to the repository root."""
        return f"docs/families/{self.name}.md"

    def estimate(self, params):
        """The resource estimate (a :class:`generators.guards.Estimate`) of ``params``."""
        if self.estimator is None:
            raise ValueError(f"family {self.name!r} names no estimator")
        module, estimator = self.estimator.split(":")
        return getattr(importlib.import_module(module), estimator)(params)

    def core(self, params):
        """Build the family's core (a ``wiring.Component``) for ``params``."""
        module, builder = self.core_builder.split(":")
        return getattr(importlib.import_module(module), builder)(params)
