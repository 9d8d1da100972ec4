"""Resource guards: refuse, before elaboration, a block that would blow up.

Every family names an estimator (:attr:`generators.family.Family.estimator`): from the parameters
alone, in microseconds and without Amaranth, it lists the memories the core will hold and bounds
the Verilog of everything else. From that :func:`check` derives three figures -- memory bits,
emitted Verilog bytes (Amaranth's Verilog writes one initialisation line per memory word, zero or
not) and an elaboration-time proxy -- and refuses, in one line with the figures, any block above
:data:`LIMITS` unless the user passes ``--force``.

The estimates are upper bounds, calibrated on this machine class (see each family's
``estimate`` module and ``tests/test_guards.py``); the elaboration figure is a proxy in seconds,
not a promise. Should emission stop writing zero words, :func:`init_line_bytes` (and the
per-word cost) must follow: the calibration tests, which bound the estimate from above too, say
so.
"""

import dataclasses
import math

from .params import ParamError

__all__ = ["Memory", "Estimate", "Limits", "LIMITS", "ResourceError", "check", "check_entries",
           "init_line_bytes", "over_limits"]

#: The largest board's block RAM: the ECP5 LFE5U-85F (ulx3s in fpga/boards.py), 208 DP16KD
#: blocks of 18 Kbit.
LARGEST_BOARD_BRAM_BITS = 208 * 18 * 1024

# Elaboration proxy, measured on the catalog and growing configs of every family (2-core
# machine, Amaranth 0.5 + yosys write_verilog): each memory word costs ~150 us and each of its
# bits ~2 us (its init line through RTLIL and yosys), each byte of other Verilog ~10 us unless
# the family says more.
SECONDS_BASE = 0.5
SECONDS_PER_WORD = 150e-6
SECONDS_PER_MEMORY_BIT = 2e-6
SECONDS_PER_LOGIC_BYTE = 10e-6


def init_line_bytes(name, depth, width, zero=True):
    """Bytes of one memory word's initialisation line, as yosys writes it, at most:
    ``    name[index] = W'hXXXX;\n``; a 32-bit word is written in decimal, ``32'd0`` when zero."""
    index = len(str(max(depth - 1, 0)))
    value = (1 if zero else 10) if width == 32 else math.ceil(width / 4)
    return 4 + len(name) + 2 + index + 3 + len(str(width)) + 2 + value + 2


@dataclasses.dataclass(frozen=True)
class Memory:
    """``copies`` identical memories of ``depth`` words of ``width`` bits.

    ``what`` says what it is in messages ("line buffer"); ``name`` is the Verilog name of one
    copy (the longest if copies are numbered), for the size of its initialisation lines;
    ``zero``: initialised to zeros (a RAM), not a ROM's contents."""

    what: str
    name: str
    depth: int
    width: int
    copies: int = 1
    zero: bool = True

    @property
    def words(self):
        return self.copies * self.depth

    @property
    def bits(self):
        return self.words * self.width

    @property
    def verilog_bytes(self):
        return self.words * init_line_bytes(self.name, self.depth, self.width, self.zero)

    def describe(self):
        if self.copies == 1:
            return f"{self.what} {self.depth} words x {self.width} bit"
        return f"{self.copies} {self.what}s x {self.depth} words x {self.width} bit"


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A family's estimate of one block: its memories, a bound on the rest of its Verilog and
    the seconds that rest takes to elaborate (by default :data:`SECONDS_PER_LOGIC_BYTE` a byte;
    multiplexer arrays and wide adder trees cost more)."""

    memories: tuple
    logic_bytes: int
    logic_seconds: float | None = None

    @property
    def memory_bits(self):
        return sum(memory.bits for memory in self.memories)

    @property
    def memory_words(self):
        return sum(memory.words for memory in self.memories)

    @property
    def verilog_bytes(self):
        return self.logic_bytes + sum(memory.verilog_bytes for memory in self.memories)

    @property
    def elaboration_seconds(self):
        logic = self.logic_seconds
        if logic is None:
            logic = SECONDS_PER_LOGIC_BYTE * self.logic_bytes
        return (SECONDS_BASE + SECONDS_PER_WORD * self.memory_words
                + SECONDS_PER_MEMORY_BIT * self.memory_bits + logic)


@dataclasses.dataclass(frozen=True)
class Limits:
    verilog_bytes: int = 20_000_000
    memory_bits: int = 8 * LARGEST_BOARD_BRAM_BITS      # ~30 Mbit: room for bigger parts
    elaboration_seconds: float = 60.0


LIMITS = Limits()


class ResourceError(ParamError):
    """A block above the resource limits (refused unless ``--force``)."""


def _size(count, unit):
    """``count`` (bytes or bits) in the largest decimal unit that keeps it at least 1."""
    for factor, prefix in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if count >= factor:
            value = count / factor
            return f"{value:.0f} {prefix}{unit}" if value >= 10 else f"{value:.1f} {prefix}{unit}"
    return f"{count} {unit}"


def _duration(seconds):
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def over_limits(estimate, limits=None):
    """The phrases of every figure of ``estimate`` above ``limits`` (default :data:`LIMITS`),
    empty when within."""
    limits = limits or LIMITS
    over = []
    if estimate.verilog_bytes > limits.verilog_bytes:
        over.append(f"emit about {_size(estimate.verilog_bytes, 'B')} of Verilog (limit "
                    f"{_size(limits.verilog_bytes, 'B')})")
    if estimate.memory_bits > limits.memory_bits:
        over.append(f"hold {_size(estimate.memory_bits, 'bit')} of memory (limit "
                    f"{_size(limits.memory_bits, 'bit')})")
    if estimate.elaboration_seconds > limits.elaboration_seconds:
        over.append(f"take about {_duration(estimate.elaboration_seconds)} to elaborate (limit "
                    f"{_duration(limits.elaboration_seconds)})")
    return over


def check(entry, limits=None):
    """Raise :class:`ResourceError` if ``entry`` is estimated above ``limits``; return the
    :class:`Estimate` otherwise."""
    estimate = entry.family.estimate(entry.params)
    over = over_limits(estimate, limits)
    if over:
        figures = ", ".join(over[:-1]) + (" and " if len(over) > 1 else "") + over[-1]
        largest = sorted(estimate.memories, key=lambda memory: -memory.bits)[:2]
        memory = "; memory: " + ", ".join(m.describe() for m in largest) if largest else ""
        raise ResourceError(f"[{entry.name}] would {figures}{memory}; pass --force to build "
                            f"it anyway")
    return estimate


def check_entries(entries, limits=None):
    """:func:`check` every entry, in order: the first above the limits is refused."""
    for entry in entries:
        check(entry, limits)
    return entries
