"""Composed layers: blocks of the catalog joined by their streams into a layer that is itself a
block (params, golden model, Verilog with AXI4-Stream ports, manifest, cocotb test).

The composition layer sits above the families: it imports their public parameters, models and
``FAMILY`` descriptors, never the other way round. Composed layers register in :data:`LAYERS`,
one line each, beside the families' ``FAMILIES``; a config table names one with ``layer =``
where a block names its family with ``family =``::

    [my_ffn]
    layer = "ffn"
    rows = 2
    d_in = 32
    hidden = 128
    d_out = 32

Importing this package (or :mod:`.params`, :mod:`.model`, :mod:`.adapters`) does not import
Amaranth; the RTL is in :mod:`.rtl`.
"""

import dataclasses
import importlib

from ..family import check_name
from ..params import ParamError, did_you_mean, show
from .params import CompositionError, FfnParams, Requant

__all__ = ["Layer", "LayerEntry", "LAYERS", "layer_entry", "params_from_json",
           "CompositionError", "FfnParams", "Requant"]


@dataclasses.dataclass(frozen=True)
class Layer:
    """A composed layer: what :mod:`generators.emit` and the CLI need, as :class:`Family` gives
    it for a family (``core`` and ``estimate``)."""

    name: str
    params_class: type
    core_builder: str       # "module:callable", imported on first use
    estimator: str
    summary: str
    docs_page: str = "docs/composition.md"
    #: No board self-test model yet (the self-test's one-in/one-out frames; see Family).
    frame_model: object = None

    def core(self, params):
        module, builder = self.core_builder.split(":")
        return getattr(importlib.import_module(module), builder)(params)

    def estimate(self, params):
        module, estimator = self.estimator.split(":")
        return getattr(importlib.import_module(module), estimator)(params)


@dataclasses.dataclass(frozen=True)
class LayerEntry:
    """A named composed layer: the module name and the parameters (an :class:`Entry` for
    :func:`generators.emit.render` and the resource guards)."""

    name: str
    params: object

    def __post_init__(self):
        check_name(self.name)

    @property
    def family(self):
        return LAYERS[self.params.layer]


LAYERS = {layer.name: layer for layer in (
    Layer("ffn", FfnParams, "generators.compose.rtl.ffn:ffn_core",
          "generators.compose.estimate:estimate",
          "transformer FFN half: LUT-TC linear, requantise, GELU, requantise, LUT-TC linear, "
          "requantise; weights in ROM"),
)}


def layer_entry(name, table):
    """One config table with a ``layer`` key to a :class:`LayerEntry`."""
    values = dict(table)
    layer = values.pop("layer")
    if not isinstance(layer, str) or layer not in LAYERS:
        raise ParamError(f"[{name}] layer must be one of {', '.join(map(repr, LAYERS))}, not "
                         f"{show(layer)}{did_you_mean(layer, LAYERS)}")
    if "family" in values:
        raise ParamError(f"[{name}] names a layer and a family: give one")
    try:
        return LayerEntry(name, LAYERS[layer].params_class.from_dict(values))
    except ParamError as error:
        raise type(error)(f"[{name}] {error}") from None


def params_from_json(text):
    """Rebuild a composed layer's parameters from its ``to_json`` (testbenches use this)."""
    import json

    values = json.loads(text)
    return LAYERS[values.pop("layer")].params_class.from_dict(values)
