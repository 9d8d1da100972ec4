"""Amaranth building blocks shared by the families: stall pipelines, rounding, saturation.

The arithmetic helpers mirror :mod:`generators.fixedpoint` one for one, so an RTL datapath reads
like its model.
"""

from amaranth.hdl import Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .fixedpoint import Fixed, Rounding

__all__ = ["Pipeline", "rounding_bias", "shift_round", "saturate", "lanes_stream",
           "ElementwisePipeline", "registered_head", "max_tree", "index_range", "memory",
           "shape_bounds", "clamp"]


# -- no zero-width signals, no constant comparisons ------------------------------------------
# Amaranth declares a zero-width signal as `wire [-1:0]`: Verilator refuses it (ASCRANGE) and
# other tools read it as two bits. A comparison that holds (or fails) for every value of its
# operand's shape is refused too (CMPCONST). Both only arise at a parameter's extreme, so these
# helpers change nothing elsewhere.

def index_range(count):
    """The shape of an index (a counter, an address) of ``count`` values: ``range(count)``, but
    at least one bit. An index of one value stays 0: its extra bit is never set."""
    return range(max(count, 2))


def memory(*, shape, depth, init):
    """A :class:`Memory` of ``depth`` words, but at least two, so that its address has a bit.

    A one-word ROM repeats its word, so every address reads it as before; a one-word RAM is
    addressed by an :func:`index_range` of one value, which stays 0.
    """
    init = list(init)
    if depth == 1 and init:
        init = init * 2
    return Memory(shape=shape, depth=max(depth, 2), init=init)


def shape_bounds(value):
    """The least and the greatest value of ``value``'s shape."""
    shape = Value.cast(value).shape()
    if shape.signed:
        return -(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1
    return 0, (1 << shape.width) - 1


def clamp(value, low=None, high=None):
    """``value`` limited to ``low``..``high`` (constants, either optional). A bound that no
    value of the shape passes needs no compare, and gets none."""
    least, most = shape_bounds(value)
    clamped = value
    if low is not None and low > least:
        clamped = Mux(value < low, low, clamped)
    if high is not None and high < most:
        clamped = Mux(value > high, high, clamped)
    return clamped


class Pipeline:
    """Registers of one lane of a fixed-latency pipeline that advances as a whole on ``ce``.

    :meth:`stage` registers values; :attr:`depth` counts the stages so the owner can check every
    lane has the latency it announces.
    """

    def __init__(self, m, ce, prefix):
        self._m = m
        self.ce = ce
        self.prefix = prefix
        self.depth = 0

    def stage(self, **values):
        """Register each keyword's value; return the registers in the same order."""
        self.depth += 1
        regs = []
        for name, value in values.items():
            value = Value.cast(value)
            reg = Signal(value.shape(), name=f"{self.prefix}_s{self.depth}_{name}")
            with self._m.If(self.ce):
                self._m.d.sync += reg.eq(value)
            regs.append(reg)
        return regs[0] if len(regs) == 1 else tuple(regs)


def rounding_bias(shift, rounding):
    """What :func:`shift_round` adds before a right shift of ``shift`` bits (an int)."""
    return 1 << (shift - 1) if shift > 0 and Rounding(rounding) is Rounding.HALF_UP else 0


def shift_round(value, shift, rounding):
    """Scale by ``2**-shift`` as :func:`generators.fixedpoint.shift_round` does."""
    if shift <= 0:
        return value << -shift
    return (value + rounding_bias(shift, rounding)) >> shift


def saturate(value, fmt: Fixed):
    """Clamp into ``fmt`` as :func:`generators.fixedpoint.saturate` does.

    Tested on the bits, not with comparators: a value fits when every bit from the format's top
    bit upward equals the sign, a reduction that needs no carry chain.
    """
    value = Value.cast(value)
    if value.shape().width <= fmt.width and value.shape().signed == fmt.signed:
        return value
    value = value.as_signed() if fmt.signed else value
    top = value[fmt.width - 1 if fmt.signed else fmt.width:]
    fits = (top.all() | ~top.any()) if value.shape().signed else ~top.any()
    negative = value[-1] if value.shape().signed else 0
    clamped = Mux(fits, value[:fmt.width], Mux(negative, fmt.min_code, fmt.max_code))
    clamped = clamped[:fmt.width]          # exactly the format's bits, whatever Mux widened to
    return clamped.as_signed() if fmt.signed else clamped


def lanes_stream(lanes, fmt: Fixed):
    """Stream of ``lanes`` elements of ``fmt`` per beat (lane 0 in the low bits) with ``last``."""
    element = signed(fmt.width) if fmt.signed else unsigned(fmt.width)
    return stream.Signature(data.StructLayout({"data": data.ArrayLayout(element, lanes),
                                               "last": 1}))


def max_tree(values, register, name):
    """The largest of ``values`` by a tree of pairwise compares with one ``register`` stage per
    level (one compare per cycle): ``(maximum, levels)``."""
    level, levels = list(values), 0
    while len(level) > 1:
        levels += 1
        pairs = [level[j:j + 2] for j in range(0, len(level), 2)]
        level = [register(Mux(pair[0] > pair[-1], pair[0], pair[-1]), f"{name}{levels}_{j}")
                 for j, pair in enumerate(pairs)]
    return level[0], levels


def add_tree(values):
    """The sum of ``values`` as a balanced tree of adders (``sum`` builds a chain, whose depth,
    not the tree's log2, would set the path)."""
    level = list(values)
    while len(level) > 1:
        level = [level[j] + level[j + 1] if j + 1 < len(level) else level[j]
                 for j in range(0, len(level), 2)]
    return level[0]


def registered_head(m, fifo, layout, name):
    """The oldest entry of ``fifo`` held in registers: ``(valid, head, pop)``.

    Consumers decide from ``head`` and drive ``pop`` to take it; the FIFO's read data (a block
    RAM output, slow to appear after the clock) only feeds these registers, never logic. The
    head is refilled on the cycle it is popped, so one entry per cycle still flows.
    """
    valid = Signal(name=f"{name}_valid")
    head = Signal(layout, name=f"{name}_head")
    pop = Signal(name=f"{name}_pop")
    load = Signal(name=f"{name}_load")
    m.d.comb += [load.eq(fifo.r_rdy & (~valid | pop)), fifo.r_en.eq(load)]
    with m.If(load):
        m.d.sync += [valid.eq(1), head.eq(fifo.r_data)]
    with m.Elif(pop):
        m.d.sync += valid.eq(0)
    return valid, head, pop


class ElementwisePipeline(wiring.Component):
    """Base of element-wise blocks: ``lanes`` independent lane datapaths behind one stream.

    The whole pipeline advances when its last stage is empty or the consumer is ready, so a beat
    enters every cycle the output is not stalled: initiation interval 1, latency
    :attr:`latency` cycles, ``last`` delayed with its beat. ``i.ready`` depends combinationally on
    ``o.ready`` (allowed by the stream rules: ``valid`` never depends on ``ready``).

    Subclasses implement :meth:`lane` and :attr:`latency`.

    Members
    -------
    i : In(stream.Signature(...))
        Input beats: ``data`` (``lanes`` elements of :attr:`in_format`) and ``last``.
    o : Out(stream.Signature(...))
        Output beats in the same order and framing.
    """

    def __init__(self, lanes, in_format: Fixed, out_format: Fixed):
        self._lanes = lanes
        self._in_format = in_format
        self._out_format = out_format
        super().__init__({"i": In(lanes_stream(lanes, in_format)),
                          "o": Out(lanes_stream(lanes, out_format))})

    @property
    def lanes(self):
        return self._lanes

    @property
    def in_format(self):
        return self._in_format

    @property
    def out_format(self):
        return self._out_format

    @property
    def latency(self):
        raise NotImplementedError

    def lane(self, m, pipe, x):
        """Build one lane's datapath on ``pipe``; return its output value."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        ce = Signal()
        m.d.comb += [ce.eq(~self.o.valid | self.o.ready), self.i.ready.eq(ce)]

        for k in range(self._lanes):
            pipe = Pipeline(m, ce, f"lane{k}")
            y = self.lane(m, pipe, self.i.p.data[k])
            if pipe.depth != self.latency:
                raise RuntimeError(f"lane {k} has {pipe.depth} stages, expected {self.latency}")
            m.d.comb += self.o.p.data[k].eq(y)

        valid, last = self.i.valid, self.i.p.last
        for stage in range(self.latency):
            next_valid = Signal(name=f"valid_s{stage + 1}")
            next_last = Signal(name=f"last_s{stage + 1}")
            with m.If(ce):
                m.d.sync += [next_valid.eq(valid), next_last.eq(last)]
            valid, last = next_valid, next_last
        m.d.comb += [self.o.valid.eq(valid), self.o.p.last.eq(last)]
        return m
