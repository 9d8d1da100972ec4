"""GELU approximator family: Edge-MoE's table, our fitted non-uniform table, I-BERT's i-GELU.

Importing this package (or :mod:`.params`, :mod:`.model`) does not import Amaranth; the RTL is in
:mod:`.rtl`.
"""
