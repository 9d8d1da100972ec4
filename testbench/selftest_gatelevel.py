"""cocotb wrapper of the gate-level regression (fpga/gatelevel.py): runs one test of a family's
testbench unchanged on a netlist and counts the output beats it received.

Environment: ``GATELEVEL_TB`` (the testbench module), ``GATELEVEL_TEST`` (its test),
``GATELEVEL_OUTPUTS`` (comma-separated output stream prefixes, e.g. ``m_axis``),
``GATELEVEL_CLOCK``. The count (``{"beats": {stream: n}, "sim_s": wall seconds}``) is written to
``gatelevel_beats.json`` in the working directory (the simulator's build folder). The family test
checks every beat against its golden model; this module only counts them, so a passing run with
zero beats is refused here.
"""

import importlib
import json
import os
import time

import cocotb
from cocotb.triggers import RisingEdge

FAMILY_TB = importlib.import_module(os.environ["GATELEVEL_TB"])
# The coroutine function, not the registered test: cocotb would collect that one here too.
FAMILY_TEST = getattr(FAMILY_TB, os.environ["GATELEVEL_TEST"]).func
OUTPUTS = [name for name in os.environ["GATELEVEL_OUTPUTS"].split(",") if name]


async def _count(dut, counts):
    clock = getattr(dut, os.environ["GATELEVEL_CLOCK"])
    handshakes = {name: (getattr(dut, f"{name}_tvalid"), getattr(dut, f"{name}_tready"))
                  for name in OUTPUTS}
    while True:
        await RisingEdge(clock)
        for name, (valid, ready) in handshakes.items():
            if valid.value == 1 and ready.value == 1:
                counts[name] += 1


@cocotb.test()
async def test_family_testbench_on_netlist(dut):
    """The family's test, with a passive counter of output handshakes beside it."""
    assert OUTPUTS, "the netlist has no m_*_tvalid output"
    counts = dict.fromkeys(OUTPUTS, 0)
    counter = cocotb.start_soon(_count(dut, counts))
    started = time.monotonic()
    await FAMILY_TEST(dut)
    counter.cancel()
    assert all(counts.values()), f"an output stream received no beat: {counts}"
    with open("gatelevel_beats.json", "w") as out:
        json.dump({"beats": counts, "sim_s": time.monotonic() - started}, out)
    dut._log.info("netlist: %s checked by %s.%s", counts, os.environ["GATELEVEL_TB"],
                  os.environ["GATELEVEL_TEST"])
