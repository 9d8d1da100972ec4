"""Sparse DSP chain family (issue 4): FlightLLM's configurable N:M chain of multiplier lanes.

Importing this package (or :mod:`.params`, :mod:`.model`, :mod:`.compress`) does not import
Amaranth; the RTL is in :mod:`.rtl`.
"""
