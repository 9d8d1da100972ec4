"""The LUT4 attribution of scripts.lut_tc_breakdown on a hand-made netlist (no yosys)."""

from scripts.lut_tc_breakdown import breakdown


def _cell(kind, inputs, outputs):
    connections = {**inputs, **outputs}
    directions = {**{p: "input" for p in inputs}, **{p: "output" for p in outputs}}
    return {"type": kind, "connections": connections, "port_directions": directions}


def test_lut4s_go_to_the_signal_or_register_they_feed():
    netlist = {"modules": {"top": {
        "netnames": {"core.lane_0_0_p0_sel0": {"bits": [10]}, "core.acc_0_0": {"bits": [20]},
                     "core.tab_0_1": {"bits": [30]}, "$abc$7": {"bits": [11, 12]}},
        "cells": {
            # A kept select level: named by its output.
            "sel": _cell("LUT4", {"A": [1], "B": [2], "C": [3], "D": [4]}, {"Z": [10]}),
            # An unnamed LUT4 feeding an adder that feeds the accumulator register.
            "gate": _cell("LUT4", {"A": [10], "B": [2], "C": [3], "D": [4]}, {"Z": [11]}),
            "add": _cell("CCU2C", {"A0": [11], "B0": [20]}, {"S0": [12], "S1": [], "COUT": []}),
            "acc": _cell("TRELLIS_FF", {"DI": [12], "CLK": [5]}, {"Q": [20]}),
            # A LUT4 whose output reaches nothing named: control.
            "ctl": _cell("LUT4", {"A": [1], "B": [2], "C": [3], "D": [4]}, {"Z": [40]}),
        }}}}
    assert breakdown(netlist, "top") == {"select": 1, "accumulator": 3, "control": 1}
