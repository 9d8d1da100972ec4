"""The default catalog of named configurations (every registered family's entries, in registry
order) and user TOML configs.

A config file holds one table per block; the table's name becomes the module and file name, its
``family`` key picks the family and every other key is a parameter::

    [my_gelu]
    family = "gelu"
    method = "fitted_pwl"
    lanes = 8

A table with a ``layer`` key instead of ``family`` is a composed layer
(:mod:`generators.compose`, docs/composition.md).
"""

import tomllib
from pathlib import Path

from .families import FAMILIES
from .family import ConfigError, Entry, Family, check_name
from .params import ParamError, ParamValueError, did_you_mean, show

__all__ = ["Family", "Entry", "FAMILIES", "DEFAULT_CATALOG", "ConfigError", "load_config",
           "entry_from_table", "select", "params_from_json"]


def _default_catalog():
    entries = tuple(entry for family in FAMILIES.values() for entry in family.entries)
    seen = set()
    for entry in entries:
        if entry.name in seen:
            raise ValueError(f"the catalog names {entry.name!r} twice: names become file names")
        seen.add(entry.name)
    return entries


#: Every family's entries, in registry order.
DEFAULT_CATALOG = _default_catalog()


def entry_from_table(name, table):
    """One config-file table (``family`` plus parameters) to an :class:`Entry`."""
    check_name(name)
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] must be a table of parameters, not {show(table)}")
    if "layer" in table:
        # A composed layer (generators/compose/, the layer above the families), by name.
        from .compose import layer_entry

        return layer_entry(name, table)
    values = dict(table)
    family = values.pop("family", None)
    if family is None:
        raise ConfigError(f"[{name}] needs a family key (families: {', '.join(FAMILIES)})")
    if not isinstance(family, str) or family not in FAMILIES:
        raise ConfigError(f"[{name}] family must be one of {', '.join(map(repr, FAMILIES))}, "
                          f"not {show(family)}{did_you_mean(family, FAMILIES)}")
    try:
        return Entry(name, FAMILIES[family].params_class.from_dict(values))
    except ParamError as error:
        raise type(error)(f"[{name}] {error}") from None


def load_config(path):
    """Entries of a TOML config file, in file order."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read config {str(path)!r}: {error.strerror}") from None
    try:
        text = data.decode("utf-8-sig")     # a byte-order mark is allowed
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path.name}: not UTF-8 text (byte 0x{data[error.start]:02x} at "
                          f"offset {error.start}); TOML files are UTF-8") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path.name}: invalid TOML: {error}") from None
    except ValueError as error:     # Python's limit on integer digits, raised by tomllib
        raise ConfigError(f"{path.name}: invalid TOML: {str(error).split(':')[0]}") from None
    except RecursionError:
        raise ConfigError(f"{path.name}: invalid TOML: arrays or tables nested too deeply") \
            from None
    if not document:
        raise ConfigError(f"{path.name}: no blocks defined (add a [name] table with a family)")
    return [entry_from_table(name, table) for name, table in document.items()]


def select(entries, only):
    """The entries named in ``only`` (all when empty), refusing unknown names."""
    by_name = {e.name: e for e in entries}
    for name in only or ():
        if name not in by_name:
            raise ParamValueError(f"no block named {name!r}{did_you_mean(name, by_name)} "
                                  f"(see --list)")
    return [by_name[n] for n in only] if only else list(entries)


def params_from_json(text):
    """Rebuild a parameter object from :meth:`BlockParams.to_json` (testbenches use this)."""
    import json

    values = json.loads(text)
    return FAMILIES[values.pop("family")].params_class.from_dict(values)
