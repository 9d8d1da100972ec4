"""The registry of block families: one line per family, in catalog order.

A name here is a package ``generators/<name>/`` whose ``__init__`` exports ``FAMILY`` (a
:class:`generators.family.Family`); everything else that spans families reads this table.
"""

import importlib

__all__ = ["REGISTERED", "FAMILIES"]

REGISTERED = (
    "gelu",
    "softmax",
    "deform",
    "lut_tc",
    "sparse_dsp",
)


def _load(name):
    family = importlib.import_module(f"{__package__}.{name}").FAMILY
    if family.name != name:
        raise ValueError(f"generators/{name}/ exports the family {family.name!r}: a family's "
                         f"package is named after it")
    return family


FAMILIES = {name: _load(name) for name in REGISTERED}
