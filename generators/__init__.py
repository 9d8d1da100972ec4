"""Parameterised generators of verified ML-accelerator blocks (Amaranth HDL -> Verilog)."""

__version__ = "0.1.0"
