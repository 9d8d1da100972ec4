"""The sparse DSP chain: ``lanes`` multipliers with sparse MUXes, an adder tree with
configurable links (the reduction nodes), and per-slot accumulators (the arithmetic of
:mod:`.model`).

Ref: FlightLLM (Zeng et al., FPGA'24, arXiv 2401.03868), CSD-Chain (sparse MUX, reduction node,
overflow adjust unit); seeds.md §1.3.

Pipeline, all of it advancing on one enable (``ce``: the output register is empty or taken):

* load: a vector goes into whichever of two buffers is free, so it overlaps the previous
  matrix.
* accept: a weight beat is taken while its vector's buffer is loaded; its block of K (the beat's
  number in its tile) and, with ``sparse_mux="ram"``, each lane's index address the buffer.
* read: the buffer's output is registered (block RAM clock-to-output).
* mux: ``sparse_mux="ram"``: none, each lane read its own copy of the vector at (block, index);
  ``"fabric"``: each lane's M:1 multiplexer picks from the block by its index (dense-only: a
  fixed wire). Packed mode forms (a << 18) + b.
* multiply: one product per lane (a DSP block on both targets).
* tree: log2(lanes) registered adder levels whose links open by N (a link that is open adds 0),
  so the node at a row's first lane holds the row's sum at any N.
* accumulate: each output slot adds one fixed tree node; at a tile's end the slot's output
  register takes the sum (0 in slots that are not rows) and the accumulator restarts.

A cascade of DSP48s is not available on the open flows' targets, so the chain is a tree of
fabric adders; its results are identical (integer sums) and every lane multiplies every cycle.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..hw import index_range
from ..streams import BlockSpec, Function, Latency, Note, Segment, Stream, Tlast, Var, fixed_format
from .params import LOW_LANE_BITS, PACK_SHIFT, SparseDspParams

__all__ = ["SparseDspChain"]


def _split(m, value, name):
    """Packed value -> (high, low) as :func:`.model.split_lanes` (combinational)."""
    low = Signal(signed(LOW_LANE_BITS), name=f"{name}_lo")
    m.d.comb += low.eq(value[:LOW_LANE_BITS])
    high = Signal(signed(max(value.shape().width - PACK_SHIFT + 1, 2)), name=f"{name}_hi")
    m.d.comb += high.eq((value - low) >> PACK_SHIFT)
    return high, low


class SparseDspChain(wiring.Component):
    """``W @ x`` for N:M-sparse ``W`` with N chosen per tile at run time (see :mod:`.model`).

    Latency: :attr:`latency` cycles from a tile's last weight beat to its output beat; a weight
    beat enters every cycle while the output is not stalled (initiation interval 1, every lane
    busy); the whole pipeline stalls while ``o`` is stalled. Vectors and matrices pair up in
    order: a vector ends at ``last`` (or at ``max_k``), its matrix at the weight beat with
    ``last``. There are two vector buffers, so the next vector loads while the current matrix
    streams; ``x`` waits only while both hold vectors whose matrices have not ended.

    Members
    -------
    x : In(stream.Signature(...))
        Activations, ``x_per_beat`` per beat (packed: the low vector's, then the high
        vector's).
    w : In(stream.Signature(...))
        Weight beats: ``data.values``, ``data.index`` (not when dense-only), ``user`` = log2 N
        (read on a tile's first beat), ``last`` on the matrix's final beat.
    o : Out(stream.Signature(...))
        One beat per tile: ``data`` slot results, ``user`` bit j = slot j is a row of the tile,
        ``last`` on the matrix's last tile.
    """

    def __init__(self, params: SparseDspParams):
        if not isinstance(params, SparseDspParams):
            raise TypeError(f"params must be a SparseDspParams, not {params!r}")
        self._params = p = params
        vectors = 2 if p.packed else 1
        w_fields = {"values": data.ArrayLayout(signed(p.weight_bits), p.lanes)}
        if not p.dense_only:
            w_fields["index"] = data.ArrayLayout(unsigned(p.index_bits), p.lanes)
        super().__init__({
            "x": In(stream.Signature(data.StructLayout({
                "data": data.ArrayLayout(signed(p.act_bits), p.x_per_beat * vectors),
                "last": 1}))),
            "w": In(stream.Signature(data.StructLayout({
                "data": data.StructLayout(w_fields), "user": p.n_code_bits, "last": 1}))),
            "o": Out(stream.Signature(data.StructLayout({
                "data": data.ArrayLayout(signed(p.acc_bits), p.max_groups * vectors),
                "user": p.max_groups, "last": 1}))),
        })

    @property
    def params(self):
        return self._params

    @property
    def tree_levels(self):
        return self._params.lanes.bit_length() - 1

    @property
    def latency(self):
        """Cycles from a tile's last weight beat (accepted) to its output beat (valid): accept,
        read, registered read, (fabric MUX,) product, the tree's levels, accumulator."""
        return (4 if self._params.ram_mux else 5) + self.tree_levels

    initiation_interval = 1

    @property
    def block_spec(self):
        """The streams beyond their layouts (see :mod:`generators.streams`)."""
        p = self._params
        packed = " (low vector first, then the high vector)" if p.packed else ""
        blocks = f"(k // {p.m})"
        w_notes = {"data.values[]": Note(meaning="lanes g*N..g*N+N-1: the N non-zero weights "
                                                 "of the tile's row g in the beat's M-block of K")}
        if not p.dense_only:
            w_notes["data.index[]"] = Note(meaning="position in the M-block of the lane's "
                                                   "weight (a non-zero's column mod m)")
        w_notes["user"] = Note(
            meaning="log2 N of the tile (N non-zeros per M-block of each of its lanes/N rows)",
            choices=tuple(n.bit_length() - 1 for n in p.supported_n), used_when="block == 0")
        rows = "lanes/N rows per tile"
        return BlockSpec(
            job=f"one activation vector of k elements and one matrix of `tiles` tiles ({rows}, "
                f"N chosen per tile), W @ x",
            variables=(Var("k", "length K of the vector and of the matrix rows", min=p.m,
                           max=p.max_k, step=p.m),
                       Var("tiles", "tiles of the matrix", min=1, max=None)),
            streams={
                "x": Stream(f"{p.x_per_beat} activation(s) of K per beat{packed}; the next "
                            f"vector may load while the current matrix streams (two buffers)",
                            f"k // {p.x_per_beat}",
                            Tlast("delimits", "end of the activation vector",
                                  f"k // {p.x_per_beat}"),
                            {"data[]": Note(meaning="activation")}),
                "w": Stream("beat (tile, block) holds M-block `block` of K of the tile's rows",
                            f"tiles * {blocks}",
                            Tlast("delimits", "the matrix's last weight beat",
                                  f"tiles * {blocks}"),
                            w_notes,
                            segments=(Segment("tiles", f"tiles * {blocks}", "tile-major: the "
                                              "k/m blocks of tile 0, then of tile 1, ...",
                                              index=(("tile", "tiles"), ("block", blocks))),)),
                "o": Stream("one beat per tile", "tiles",
                            Tlast("delimits", "the matrix's last tile", "tiles"),
                            {"data[]": Note(meaning=f"row g of the tile in lane "
                                                    f"g*N/{p.supported_n[0]}, other lanes 0"
                                                    + packed),
                             "user": Note(meaning="bit j: lane j holds a row of the tile")}),
            },
            latency=Latency(str(self.latency),
                            (("w", f"k // {p.m} - 1", "the first tile's last weight beat"),),
                            ("o", "0", "the tile's output beat")),
            function=Function(
                "o = W @ x in exact integer arithmetic (accumulators cannot overflow at "
                "K <= max_k)" + ("; packed: two vectors, each with the same W" if p.packed
                                 else ""),
                (("acc", "one row's sum", fixed_format(p.acc_bits, 0, True)),)),
            initiation_interval=1,
            initiation_meaning="one weight beat per cycle at full rate (every lane busy)")

    def elaborate(self, platform):
        p = self._params
        m = Module()
        vectors = 2 if p.packed else 1
        depth = p.max_k // p.m
        levels = self.tree_levels
        low_level = p.supported_n[0].bit_length() - 1
        split_outputs = p.packed and p.oau

        ce = Signal()
        m.d.comb += ce.eq(~self.o.valid | self.o.ready)

        def clear_or_load(reg, clear, load, value):
            # Written as a reset that wins over the enable, so yosys maps it onto the flip-flops'
            # synchronous reset (ORed with aresetn): an enable-gated reset is not native on
            # ECP5 and costs a LUT per bit.
            with m.If(clear):
                m.d.sync += reg.eq(0)
            with m.Elif(load):
                m.d.sync += reg.eq(value)

        def stage(value, name, enable=ce, keep=None):
            """A pipeline register; with ``keep``, one that loads 0 instead while ``keep`` is
            low."""
            if isinstance(value, tuple):
                return tuple(stage(v, f"{name}_{h}", enable, keep) for h, v in enumerate(value))
            reg = Signal(value.shape(), name=name)
            if keep is None:
                with m.If(enable):
                    m.d.sync += reg.eq(value)
            else:
                clear_or_load(reg, enable & ~keep, enable, value)
            return reg

        # --- activation buffers: two, so the next vector loads while a matrix streams -----------
        element = data.ArrayLayout(signed(p.act_bits), vectors)
        beats = p.max_k // p.x_per_beat
        addr_bits = max(1, (beats - 1).bit_length())
        full = Signal(2)           # buffer b holds a vector whose matrix has not ended
        wbank, rbank = Signal(), Signal()
        slices = [Signal(range(depth + 1), name=f"slices_{b}") for b in range(2)]
        waddr = Signal(addr_bits)
        x_take = Signal()
        x_done = Signal()
        m.d.comb += [self.x.ready.eq(~full.bit_select(wbank, 1)),
                     x_take.eq(self.x.valid & self.x.ready),
                     x_done.eq(x_take & (self.x.p.last | (waddr == beats - 1)))]

        def banked(addr, bank):
            return (bank << addr_bits) | addr

        if p.ram_mux:
            # One copy of the vectors per lane, read at (block, index): the sparse MUX is the
            # block RAM's own address decoder.
            lane_reads = []
            for j in range(p.lanes):
                lane_buf = Memory(shape=element, depth=2 << addr_bits, init=[])
                m.submodules[f"buffer_{j}"] = lane_buf
                wr, rd = lane_buf.write_port(), lane_buf.read_port(domain="sync")
                m.d.comb += [wr.addr.eq(banked(waddr, wbank)), wr.data.eq(self.x.p.data),
                             wr.en.eq(x_take), rd.en.eq(ce)]
                lane_reads.append(rd)
        else:
            m.submodules.buffer = buf = Memory(
                shape=data.ArrayLayout(signed(p.act_bits), p.m * vectors), depth=2 << addr_bits,
                init=[])
            wr = buf.write_port()
            rd = buf.read_port(domain="sync")
            m.d.comb += [wr.addr.eq(banked(waddr, wbank)), wr.data.eq(self.x.p.data),
                         wr.en.eq(x_take)]
        with m.If(x_take):
            m.d.sync += waddr.eq(Mux(x_done, 0, waddr + 1))
        with m.If(x_done):
            per_block = (p.m // p.x_per_beat).bit_length() - 1
            blocks = (waddr + 1) >> per_block if per_block else waddr + 1
            m.d.sync += wbank.eq(~wbank)
            with m.Switch(wbank):
                for b in range(2):
                    with m.Case(b):
                        m.d.sync += slices[b].eq(blocks)

        # --- accept -----------------------------------------------------------------------------
        w_take = Signal()
        block = Signal(index_range(depth))
        tile_code = Signal(p.n_code_bits)
        first = Signal()
        end = Signal()
        matrix_done = Signal()
        m.d.comb += [self.w.ready.eq(full.bit_select(rbank, 1) & ce),
                     w_take.eq(self.w.valid & self.w.ready),
                     matrix_done.eq(w_take & self.w.p.last),
                     first.eq(block == 0),
                     end.eq((block == Mux(rbank, slices[1], slices[0]) - 1) | self.w.p.last)]
        # A buffer is written only while empty and read only while full: the two never meet.
        for b in range(2):
            with m.If(x_done & (wbank == b)):
                m.d.sync += full[b].eq(1)
            with m.Elif(matrix_done & (rbank == b)):
                m.d.sync += full[b].eq(0)
        with m.If(matrix_done):
            m.d.sync += rbank.eq(~rbank)
        if p.ram_mux:
            for j, rd in enumerate(lane_reads):
                m.d.comb += rd.addr.eq(banked(Cat(self.w.p.data.index[j], block), rbank))
        else:
            m.d.comb += [rd.addr.eq(banked(block, rbank)), rd.en.eq(ce)]
        code = Mux(first, self.w.p.user, tile_code)
        with m.If(w_take):
            m.d.sync += block.eq(Mux(end, 0, block + 1))
            with m.If(first):
                m.d.sync += tile_code.eq(self.w.p.user)

        ctrl = {"valid": w_take, "end": end, "last": self.w.p.last, "code": code}

        def advance(ctrl, n):
            return {k: stage(v, f"{k}_{n}") for k, v in ctrl.items()}

        def pack(low, high):
            return (high.as_signed() << PACK_SHIFT) + low if p.packed else low

        # --- S1: the beat, while the buffer reads ---------------------------------------------
        ctrl = advance(ctrl, "s1")
        w1 = [stage(self.w.p.data.values[j], f"w_s1_{j}") for j in range(p.lanes)]
        idx1 = [stage(self.w.p.data.index[j], f"idx_s1_{j}") for j in range(p.lanes)] \
            if p.sparse_mux == "fabric" and not p.dense_only else []

        # --- S1b: the read, registered: the block RAM's clock-to-output delay in front of the
        # sparse MUX or the multipliers was the chain's critical path (ECP5).
        ctrl = advance(ctrl, "s1b")
        w1 = [stage(v, f"w_s1b_{j}") for j, v in enumerate(w1)]
        if p.ram_mux:
            raw = [stage(rd.data, f"act_s1b_{j}") for j, rd in enumerate(lane_reads)]
            acts = [pack(r[0], r[1] if p.packed else None) for r in raw]
        else:
            # --- S2: sparse MUX in fabric (or fixed wires, dense-only) -------------------------
            block_acts = stage(rd.data, "block_acts")
            idx1 = [stage(v, f"idx_s1b_{j}") for j, v in enumerate(idx1)]
            low_acts = Array(block_acts[i] for i in range(p.m))
            high_acts = Array(block_acts[p.m + i] for i in range(p.m)) if p.packed else None
            acts = []
            for j in range(p.lanes):
                if p.dense_only:
                    low = block_acts[j % p.m]
                    high = block_acts[p.m + j % p.m] if p.packed else None
                else:
                    low = low_acts[idx1[j]]
                    high = high_acts[idx1[j]] if p.packed else None
                acts.append(stage(pack(low, high), f"act_s2_{j}"))
            w1 = [stage(v, f"w_s2_{j}") for j, v in enumerate(w1)]
            ctrl = advance(ctrl, "s2")

        # --- multipliers and the adder tree ---------------------------------------------------
        # Level l node i sums lanes i*2**l .. (i+1)*2**l - 1 when every link below it is closed.
        # FlightLLM's configurable links: the link joining node 2i+1 of level l-1 into node i
        # of level l is open when the tile's N < 2**l, and then adds 0 (a register copy of the
        # right child that resets). So whatever N is, the node at lane a of its highest level
        # holds the sum of lanes a .. a+N-1 for a row starting at lane a: each output slot reads
        # one fixed node, with no select between levels.
        # The largest code the beat's N field can hold: a compare with it or beyond is constant.
        code_max = (1 << p.n_code_bits) - 1

        def register_level(values, level, name):
            regs = [stage(v, f"{name}_{i}") for i, v in enumerate(values)]
            gated = {}
            if low_level < level + 1 <= levels:
                link = ctrl["code"] > level if level < code_max else Const(0, 1)
                gated = {i: stage(values[i], f"{name}_{i}_link", keep=link)
                         for i in range(1, len(values), 2)}
            return regs, gated

        def split_node(v, name):
            return v if isinstance(v, tuple) else _split(m, v, name)

        def delay(value, stages, name):
            for d in range(stages):
                value = stage(value, f"{name}_d{d}")
            return value

        # Slot j's first lane, and the highest tree level with a node starting there.
        slot_lane = [j << low_level for j in range(p.max_groups)]
        slot_level = [levels if a == 0 else min(levels, (a & -a).bit_length() - 1)
                      for a in slot_lane]
        nodes, gated = register_level([w * a for w, a in zip(w1, acts)], 0, "prod")
        ctrl = advance(ctrl, "s3")
        taps = {}
        is_split = False
        for level in range(levels + 1):
            if split_outputs and not is_split and level == p.oau_level:
                nodes = [split_node(v, f"oau_l{level}_{i}") for i, v in enumerate(nodes)]
                gated = {i: split_node(v, f"oau_l{level}_{i}_link") for i, v in gated.items()}
                is_split = True
            for j, top in enumerate(slot_level):
                if top == level:
                    tap = nodes[slot_lane[j] >> level]
                    if split_outputs:
                        tap = split_node(tap, f"rn_{j}")
                    taps[j] = delay(tap, levels - level, f"tap_{j}")
            if level == levels:
                break
            sums = []
            for i in range(len(nodes) // 2):
                left, right = nodes[2 * i], gated.get(2 * i + 1, nodes[2 * i + 1])
                sums.append(tuple(a + b for a, b in zip(left, right)) if is_split
                            else left + right)
            nodes, gated = register_level(sums, level + 1, f"sum_l{level + 1}")
            ctrl = advance(ctrl, f"l{level + 1}")

        # --- reduction nodes: per-slot accumulators and the output beat ---------------------------
        # An accumulator resets as its tile ends while the output register takes acc + tap: no
        # first-beat select in front of the adder. Slots that are not rows of the tile read 0.
        parts = 2 if split_outputs else 1
        acc_width = p.acc_bits + (PACK_SHIFT + 1 if p.packed and not p.oau else 0)
        step = Signal()
        done = Signal()
        m.d.comb += [step.eq(ce & ctrl["valid"]), done.eq(step & ctrl["end"])]
        is_row = Signal(p.max_groups)
        for j, a in enumerate(slot_lane):
            # A row starts at lane a when N = 2**code divides a.
            m.d.comb += is_row[j].eq(1 if a == 0 or slot_level[j] >= code_max
                                     else ctrl["code"] <= slot_level[j])
        outs = []
        for j in range(p.max_groups):
            outs.append([])
            # A slot starting at lane a only ever sums rows of N <= 2**tz(a) lanes: its
            # accumulator is only as wide as such a row's worst sum (a LUT per bit saved).
            slot_n = min(1 << slot_level[j], p.supported_n[-1])
            width = acc_width if p.packed else \
                (p.max_k // p.m * slot_n * p.max_product).bit_length() + 1
            for h in range(parts):
                pick = taps[j][h] if split_outputs else taps[j]
                acc = Signal(signed(width), name=f"acc_{j}_{h}")
                out = Signal(signed(width), name=f"out_{j}_{h}")
                total = acc + pick
                clear_or_load(acc, done, step, total)
                clear_or_load(out, done & ~is_row[j], done, total)
                outs[j].append(out)
        with m.If(ce):
            m.d.sync += self.o.valid.eq(ctrl["valid"] & ctrl["end"])
        with m.If(done):
            m.d.sync += [self.o.p.last.eq(ctrl["last"]), self.o.p.user.eq(is_row)]

        # --- output lanes: low vector's slots, then the high vector's ----------------------------
        for j in range(p.max_groups):
            if not p.packed:
                m.d.comb += self.o.p.data[j].eq(outs[j][0])
            else:
                high, low = outs[j] if p.oau else _split(m, outs[j][0], f"out_{j}")
                m.d.comb += [self.o.p.data[j].eq(low), self.o.p.data[p.max_groups + j].eq(high)]
        return m
