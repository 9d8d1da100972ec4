"""cocotb test of a self-test top (fpga/selftest.py) emitted as Verilog: the UART text decides.

GEN_PARAMS: {"entry": name, "divisor": cycles per UART bit, "beats": n, "runs": runs to watch,
"expect": "PASS" or "FAIL"}. The testbench decodes the UART line by line (8N1, sampled mid-bit)
and checks each line against :func:`fpga.selftest.summary_text` and the LEDs after it. "FAIL" is
the run of a top whose expected-output ROM has one flipped bit: every run must report exactly one
error, and the fail LED must light while the pass LED stays dark.
"""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout

from fpga.selftest import summary_text

P = json.loads(os.environ["GEN_PARAMS"])
DIVISOR, BEATS, RUNS = P["divisor"], P["beats"], P["runs"]


async def uart_lines(dut, count):
    """The first ``count`` lines sent on ``dut.tx``, each with the LEDs (pass, fail) after it."""
    lines, line = [], ""
    while len(lines) < count:
        await RisingEdge(dut.clk)
        if int(dut.tx.value):
            continue
        await ClockCycles(dut.clk, DIVISOR // 2)      # middle of the start bit
        assert int(dut.tx.value) == 0, "start bit shorter than half a bit"
        byte = 0
        for bit in range(8):
            await ClockCycles(dut.clk, DIVISOR)
            byte |= int(dut.tx.value) << bit
        await ClockCycles(dut.clk, DIVISOR)
        assert int(dut.tx.value) == 1, f"missing stop bit after {byte:#04x}"
        line += chr(byte)
        if line.endswith("\r\n"):
            lines.append((line, (int(dut.passed.value), int(dut.failed.value))))
            dut._log.info("UART: %r (LEDs pass, fail = %s)", line, lines[-1][1])
            line = ""
    return lines


@cocotb.test()
async def test_summary_lines(dut):
    """Each run's line is exactly the expected text; the LEDs agree with it."""
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    assert int(dut.tx.value) == 1, "UART must idle high"
    lines = await with_timeout(uart_lines(dut, RUNS), 200 * RUNS * (BEATS + 60 * 10 * DIVISOR),
                               "ns")
    with open("selftest_lines.json", "w") as out:      # for the docs' figures
        json.dump([line for line, _ in lines], out)
    passing = P["expect"] == "PASS"
    for run, (line, leds) in enumerate(lines, start=1):
        errors = 0 if passing else 1
        assert line == summary_text(P["entry"], passing, run, (run - 1) % 8, errors, BEATS,
                                    BEATS), f"run {run}: {line!r}"
        assert leds == ((1, 0) if passing else (0, 1)), f"run {run}: LEDs (pass, fail) = {leds}"
    assert int(dut.runs.value) >= RUNS
