"""Activation buffer: takes a GEMM block's activations in one order and replays them, K-group
by K-group, as often as the block's column tiles need them; two banks, so the next job is
written while the current one is replayed."""

from amaranth.hdl import Cat, Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ...fixedpoint import Fixed
from ...hw import index_range, lanes_stream

__all__ = ["ActivationBuffer"]


class ActivationBuffer(wiring.Component):
    """``rows`` x ``k`` activations a job, written in tile order and replayed ``repeats``
    times as the LUT tensor core's ``a`` stream.

    Write order: for each tile of ``tile_width`` columns, each row, ``tile_width // in_lanes``
    beats of ``in_lanes`` elements (a row-major input is one tile of ``k`` columns; a GEMM
    block's output is tiles of its ``n`` columns). Read order: ``repeats`` times, for each
    K-group G, one beat of ``rows * g`` elements (element ``r * g + j`` is row r, column
    ``G * g + j``), ``last`` on the final group. One memory a row, one word a K-group (``g``
    elements, written element-wise), two banks.

    Members
    -------
    i : In(stream)
        ``in_lanes`` signed elements and ``last`` (not read: the job's size is fixed).
    o : Out(stream)
        ``rows * g`` signed elements and ``last``.
    """

    #: Cycles from the transfer of a job's last input beat to its first output beat (idle
    #: buffer): the bank's full flag, the read register, the FIFO's write and output register.
    LATENCY = 4
    #: Entries of the output FIFO (see :class:`RomStream`: 4 keep a beat leaving every cycle).
    FIFO_DEPTH = 4

    def __init__(self, *, rows, k, g, in_lanes, tile_width, repeats, width=8):
        if g & (g - 1) or g % in_lanes or tile_width % in_lanes or k % tile_width or k % g:
            raise ValueError(f"buffer shape: g {g} a power of two, in_lanes {in_lanes} dividing "
                             f"g and tile_width {tile_width}, which divides k {k}, g dividing k")
        self._rows, self._k, self._g = rows, k, g
        self._in_lanes, self._tile_width, self._repeats = in_lanes, tile_width, repeats
        self._width = width
        super().__init__({
            "i": In(lanes_stream(in_lanes, Fixed(width, 0))),
            "o": Out(stream.Signature(data.StructLayout({
                "data": data.ArrayLayout(signed(width), rows * g), "last": 1}))),
        })

    @property
    def words(self):
        """Words (K-groups) of one bank."""
        return self._k // self._g

    def elaborate(self, platform):
        m = Module()
        rows, g, lanes, words = self._rows, self._g, self._in_lanes, self.words
        full = [Signal(name=f"full{b}") for b in range(2)]
        w_bank, r_bank = Signal(), Signal()

        # --- write side: tile, row, offset counters -----------------------------------------
        tile_base = Signal(index_range(self._k))
        offset = Signal(index_range(self._tile_width))
        row = Signal(index_range(rows))
        column = Signal(range(self._k + self._tile_width))
        m.d.comb += [column.eq(tile_base + offset),
                     self.i.ready.eq(~Cat(*full).bit_select(w_bank, 1))]
        fire = Signal()
        m.d.comb += fire.eq(self.i.valid & self.i.ready)
        end_offset = offset == self._tile_width - lanes
        end_row = row == rows - 1
        end_job = end_offset & end_row & (tile_base == self._k - self._tile_width)
        with m.If(fire):
            m.d.sync += offset.eq(offset + lanes)
            with m.If(end_offset):
                m.d.sync += [offset.eq(0), row.eq(row + 1)]
                with m.If(end_row):
                    m.d.sync += [row.eq(0), tile_base.eq(tile_base + self._tile_width)]
                    with m.If(end_job):
                        m.d.sync += [tile_base.eq(0), w_bank.eq(~w_bank)]

        # --- read side: repeat and group counters --------------------------------------------
        group = Signal(index_range(words))
        repeat = Signal(index_range(self._repeats))
        have = Signal()
        m.d.comb += have.eq(Cat(*full).bit_select(r_bank, 1))
        # The memories' read data only fills a small FIFO whose output register drives the
        # stream (a block RAM's clock-to-output never meets the GEMM block's table adders):
        # a read is issued while the FIFO has room for it beside the read in flight.
        width = rows * g * self._width
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=width + 1, depth=self.FIFO_DEPTH)
        in_flight, in_flight_last = Signal(), Signal()
        advance = Signal()
        m.d.comb += advance.eq(have & (fifo.level + in_flight < self.FIFO_DEPTH))
        end_group = group == words - 1
        end_repeat = repeat == self._repeats - 1
        m.d.sync += in_flight.eq(advance)
        with m.If(advance):
            m.d.sync += [in_flight_last.eq(end_group), group.eq(group + 1)]
            with m.If(end_group):
                m.d.sync += [group.eq(0), repeat.eq(repeat + 1)]
                with m.If(end_repeat):
                    m.d.sync += [repeat.eq(0), r_bank.eq(~r_bank)]

        # A bank fills as its job's last element is written and empties as its last replay
        # leaves; the two never touch the same bank in one cycle.
        for b in range(2):
            with m.If(advance & end_group & end_repeat & (r_bank == b)):
                m.d.sync += full[b].eq(0)
            with m.If(fire & end_job & (w_bank == b)):
                m.d.sync += full[b].eq(1)

        # --- memories: one a row, a word a K-group ---------------------------------------------
        shift = g.bit_length() - 1
        word = column >> shift
        lane = column[:shift] if shift else 0
        replicated = Cat(*([self.i.p.data.as_value()] * (g // lanes)))
        reads = []
        for r in range(rows):
            mem = Memory(shape=unsigned(g * self._width), depth=2 * words, init=[])
            m.submodules[f"row{r}"] = mem
            wp = mem.write_port(granularity=self._width)
            rp = mem.read_port(domain="sync")
            m.d.comb += [wp.addr.eq(w_bank * words + word), wp.data.eq(replicated),
                         rp.addr.eq(r_bank * words + group), rp.en.eq(advance)]
            for j in range(g):
                m.d.comb += wp.en[j].eq(fire & (row == r) & (lane == j // lanes * lanes))
            reads.append(rp.data)
        m.d.comb += [fifo.w_en.eq(in_flight), fifo.w_data.eq(Cat(*reads, in_flight_last)),
                     self.o.valid.eq(fifo.r_rdy), fifo.r_en.eq(self.o.ready),
                     self.o.p.data.as_value().eq(fifo.r_data[:width]),
                     self.o.p.last.eq(fifo.r_data[width])]
        return m
