"""Streaming softmax family (issue 3): parameters and golden models; the RTL is still to come.

Importing this package does not import Amaranth.
"""
