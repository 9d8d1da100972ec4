"""Deformable 3x3 convolution engine family (issue 6), after CoDeNet's co-design.

Importing this package (or :mod:`.params`, :mod:`.model`, :mod:`.formats`) does not import
Amaranth; the RTL is in :mod:`.rtl`.
"""
