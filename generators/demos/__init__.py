"""Demos: whole networks built from the families' blocks (issue 18).

Each demo is a sub-package with its integer model (pure NumPy, every op a call of a family's
golden model plus the adapters), its shipped quantised weights and the trainer that makes them.
Nothing here imports Amaranth.
"""
