"""Boards the bitstream flow builds for: amaranth-boards platforms plus where the self-test reports.

Each board names its platform class, the LEDs that show pass and fail, and the UART its summary
text goes to. The platforms are subclassed only to drop tools that program a board or post-process
the bitstream for a loader (openFPGALoader on ULX3S, dfu-suffix on OrangeCrab): building never
needs them, and the user's own loader programs the file we write.
"""

from __future__ import annotations

import dataclasses

from amaranth.build import Attrs, Pins, Resource, Subsignal
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.orangecrab_r0_2 import OrangeCrabR0_2_25FPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from generators.params import ParamValueError, did_you_mean

__all__ = ["Board", "BOARDS", "board"]


class _ULX3S85F(ULX3S_85F_Platform):
    @property
    def required_tools(self):
        # openFPGALoader only programs the board; the build itself never calls it.
        return [t for t in super().required_tools if t != "openFPGALoader"]


class _OrangeCrab25F(OrangeCrabR0_2_25FPlatform):
    # The board has no UART (its console is USB, which would need a USB-CDC core): the summary
    # goes out on header pin 0 for a 3.3 V USB-serial adapter, pin 1 is the bridge's RX.
    resources = [*OrangeCrabR0_2_25FPlatform.resources,
                 Resource("uart", 0,
                          Subsignal("rx", Pins("1", dir="i", conn=("io", 0))),
                          Subsignal("tx", Pins("0", dir="o", conn=("io", 0))),
                          Attrs(IO_TYPE="LVCMOS33"))]

    @property
    def required_tools(self):
        return [t for t in super().required_tools if t != "dfu-suffix"]

    @property
    def command_templates(self):
        # Drop the dfu-suffix step (a DFU loader's file trailer, not part of the bitstream).
        return [t for t in super().command_templates if "dfu-suffix" not in t]


@dataclasses.dataclass(frozen=True)
class Board:
    """A board: its platform, the pass/fail LEDs and the console.

    ``pass_led`` and ``fail_led`` are ``(resource, number, subsignal or None)``.
    """

    name: str
    platform_class: type
    part: str               # device as the reports name it
    family: str             # "ice40" or "ecp5": which nextpnr and packer
    pass_led: tuple
    fail_led: tuple
    console: str            # where a user reads the summary text
    leds: str               # what the user sees, in words

    def platform(self):
        return self.platform_class()

    @property
    def clock_hz(self):
        return int(self.platform().default_clk_frequency)


BOARDS = {b.name: b for b in (
    Board("icebreaker", ICEBreakerPlatform, "iCE40 UP5K (SG48)", "ice40",
          ("led_g", 0, None), ("led_r", 0, None),
          "FTDI channel B (/dev/ttyUSB1 on Linux), 115200 8N1",
          "green LED: every run passed; red LED: a run failed"),
    Board("ulx3s", _ULX3S85F, "ECP5 LFE5U-85F (CABGA381)", "ecp5",
          ("led", 0, None), ("led", 1, None),
          "FTDI US1 port (/dev/ttyUSB0 on Linux), 115200 8N1",
          "LED D0: every run passed; LED D1: a run failed"),
    Board("orangecrab", _OrangeCrab25F, "ECP5 LFE5U-25F (CSFBGA285)", "ecp5",
          ("rgb_led", 0, "g"), ("rgb_led", 0, "r"),
          "header pin 0 (TX) to a 3.3 V USB-serial adapter, 115200 8N1 (no on-board UART)",
          "RGB LED green: every run passed; red: a run failed"),
)}


def board(name):
    """The :class:`Board` called ``name``; a clear message for anything else."""
    if name not in BOARDS:
        raise ParamValueError(f"board must be one of {', '.join(map(repr, BOARDS))}, "
                              f"not {name!r}{did_you_mean(name, BOARDS)}")
    return BOARDS[name]
