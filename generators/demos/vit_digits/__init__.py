"""Demo 1: a small ViT classifier of the 8x8 handwritten digits, on our blocks (issue 18).

:mod:`.spec` (shapes and the family params of every block), :mod:`.requant` (the adapters),
:mod:`.model` (the bit-exact integer model), :mod:`.train` (the NumPy trainer that makes the
shipped ``weights.json`` and ``float_params.json``). No Amaranth.
"""
