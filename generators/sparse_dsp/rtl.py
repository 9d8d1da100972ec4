"""The sparse DSP chain: ``lanes`` multipliers with sparse MUXes, an adder tree whose levels the
reduction nodes tap by N, and per-slot accumulators (the arithmetic of :mod:`.model`).

Ref: FlightLLM (Zeng et al., FPGA'24, arXiv 2401.03868), CSD-Chain (sparse MUX, reduction node,
overflow adjust unit); seeds.md §1.3.

Pipeline, all of it advancing on one enable (``ce``: the output register is empty or taken):

* accept: a weight beat is taken while the activation buffer is loaded; its block of K (the beat's
  number in its tile) addresses the buffer.
* read: the block's activations are registered (block RAM output).
* mux: each lane's M:1 sparse MUX picks its activation by the beat's index (dense-only: a fixed
  wire); packed mode forms (a << 18) + b.
* multiply: one product per lane (a DSP block on both targets).
* tree: log2(lanes) registered adder levels; level l holds the sums of 2**l lanes, i.e. the
  reduction-node outputs for N = 2**l. FlightLLM's configurable links are this choice of level.
* accumulate: slot j adds the tile's tap (level log2 N, node j; 0 for slots the tile does not
  use) and the output beat is the slot registers themselves once a tile's last beat is in.

A cascade of DSP48s is not available on the open flows' targets, so the chain is a tree of
fabric adders; its results are identical (integer sums) and every lane multiplies every cycle.
"""

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

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
    busy); the whole pipeline stalls while ``o`` is stalled. ``x`` is taken only while no matrix
    is in progress: a vector ends at ``last`` (or when the buffer is full), then weight beats are
    taken until the beat with ``last``, then the next vector.

    Members
    -------
    x : In(stream.Signature(...))
        Activations, ``m`` per beat (packed: the low vector's ``m``, then the high vector's).
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
                "data": data.ArrayLayout(signed(p.act_bits), p.m * vectors), "last": 1}))),
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
        """Cycles from a tile's last weight beat (accepted) to its output beat (valid)."""
        return 5 + self.tree_levels

    latency_meaning = "cycles from a tile's last s_axis_w beat to its m_axis beat"
    initiation_interval = 1

    @property
    def stream_info(self):
        p = self._params
        vectors = 2 if p.packed else 1
        index = "" if p.dense_only else \
            f", then {p.lanes} x {p.index_bits}-bit unsigned indices (position in the M-block)"
        return {
            "x": {"lanes": p.m * vectors,
                  "element": {"signed": True, "width": p.act_bits, "frac": 0},
                  "tlast": "end of the activation vector (K = beats x m, up to max_k)",
                  "meaning": ("m activations of one M-block of K per beat"
                              + (" (low vector in lanes 0..m-1, high vector above)"
                                 if p.packed else ""))},
            "w": {"lanes": 1, "element": {
                      "fields": f"{p.lanes} x {p.weight_bits}-bit signed weights{index}"},
                  "tlast": "the matrix's last weight beat",
                  "tuser": f"log2 N of the tile (read on its first beat), {p.n_code_bits} bits",
                  "meaning": (f"a tile is lanes/N rows; beat s of a tile holds block s of K of "
                              f"each: lanes g*N..g*N+N-1 are row g's N non-zeros; a tile ends "
                              f"after K/m beats or at tlast")},
            "o": {"lanes": p.max_groups * vectors,
                  "element": {"signed": True, "width": p.acc_bits, "frac": 0},
                  "tlast": "the matrix's last tile",
                  "tuser": f"bit j: lane j is a row of the tile (lanes/N of {p.max_groups})",
                  "meaning": "one beat per tile: row g of the tile in lane g"
                             + (" (low vector's rows, then the high vector's)"
                                if p.packed else "")},
        }

    def elaborate(self, platform):
        p = self._params
        m = Module()
        vectors = 2 if p.packed else 1
        depth = p.max_k // p.m
        levels = self.tree_levels
        split_outputs = p.packed and p.oau

        ce = Signal()
        m.d.comb += ce.eq(~self.o.valid | self.o.ready)

        def stage(value, name, enable=ce):
            reg = Signal(value.shape(), name=name)
            with m.If(enable):
                m.d.sync += reg.eq(value)
            return reg

        # --- activation buffer -----------------------------------------------------------------
        m.submodules.buffer = buf = Memory(
            shape=data.ArrayLayout(signed(p.act_bits), p.m * vectors), depth=depth, init=[])
        wr = buf.write_port()
        rd = buf.read_port(domain="sync")
        loading = Signal(init=1)
        waddr = Signal(range(depth))
        slices = Signal(range(depth + 1), init=1)
        x_take = Signal()
        m.d.comb += [self.x.ready.eq(loading), x_take.eq(self.x.valid & loading),
                     wr.addr.eq(waddr), wr.data.eq(self.x.p.data), wr.en.eq(x_take)]
        with m.If(x_take):
            m.d.sync += waddr.eq(waddr + 1)
            with m.If(self.x.p.last | (waddr == depth - 1)):
                m.d.sync += [loading.eq(0), slices.eq(waddr + 1), waddr.eq(0)]

        # --- accept -----------------------------------------------------------------------------
        w_take = Signal()
        block = Signal(range(depth))
        tile_code = Signal(p.n_code_bits)
        first = Signal()
        end = Signal()
        m.d.comb += [self.w.ready.eq(~loading & ce), w_take.eq(self.w.valid & self.w.ready),
                     first.eq(block == 0), end.eq((block == slices - 1) | self.w.p.last),
                     rd.addr.eq(block), rd.en.eq(ce)]
        code = Mux(first, self.w.p.user, tile_code)
        with m.If(w_take):
            m.d.sync += block.eq(Mux(end, 0, block + 1))
            with m.If(first):
                m.d.sync += tile_code.eq(self.w.p.user)
            with m.If(self.w.p.last):
                m.d.sync += loading.eq(1)

        ctrl = {"valid": w_take, "first": first, "end": end, "last": self.w.p.last,
                "code": code}

        def advance(ctrl, n):
            return {k: stage(v, f"{k}_{n}") for k, v in ctrl.items()}

        # --- S1: the beat, while the buffer reads its block ---------------------------------------
        ctrl = advance(ctrl, "s1")
        w1 = [stage(self.w.p.data.values[j], f"w_s1_{j}") for j in range(p.lanes)]
        idx1 = [] if p.dense_only else \
            [stage(self.w.p.data.index[j], f"idx_s1_{j}") for j in range(p.lanes)]

        # --- S1b: the block read, registered: the block RAM's clock-to-output delay and the
        # sparse MUX together were the chain's critical path (ECP5).
        ctrl = advance(ctrl, "s1b")
        block_acts = stage(rd.data, "block_acts")
        w1 = [stage(v, f"w_s1b_{j}") for j, v in enumerate(w1)]
        idx1 = [stage(v, f"idx_s1b_{j}") for j, v in enumerate(idx1)]

        # --- S2: sparse MUX ---------------------------------------------------------------------
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
            act = (high.as_signed() << PACK_SHIFT) + low if p.packed else low
            acts.append(stage(act, f"act_s2_{j}"))
        w2 = [stage(v, f"w_s2_{j}") for j, v in enumerate(w1)]
        ctrl = advance(ctrl, "s2")

        # --- S3: multipliers ------------------------------------------------------------------
        nodes = [stage(w * a, f"prod_{j}") for j, (w, a) in enumerate(zip(w2, acts))]
        ctrl = advance(ctrl, "s3")

        # --- adder tree, taps delayed to the accumulators -----------------------------------------
        tap_levels = [n.bit_length() - 1 for n in p.supported_n]
        taps = {}          # level -> list of values (or (high, low) pairs) at the last stage

        def split_all(values, name):
            return [_split(m, v, f"{name}_{i}") for i, v in enumerate(values)]

        def delay_tap(values, remaining, name):
            for d in range(remaining):
                values = [tuple(stage(x, f"{name}_d{d}_{i}_{h}") for h, x in enumerate(v))
                          if isinstance(v, tuple) else stage(v, f"{name}_d{d}_{i}")
                          for i, v in enumerate(values)]
            return values

        is_split = False
        for level in range(levels + 1):
            if split_outputs and not is_split and level == p.oau_level:
                nodes = split_all(nodes, f"oau_l{level}")
                is_split = True
            if level in tap_levels:
                tap = nodes if is_split or not split_outputs else split_all(nodes, f"rn_l{level}")
                taps[level] = delay_tap(tap, levels - level, f"tap_l{level}")
            if level == levels:
                break
            pairs = list(zip(nodes[0::2], nodes[1::2]))
            if is_split:
                nodes = [(stage(a[0] + b[0], f"sum_l{level + 1}_{i}_h"),
                          stage(a[1] + b[1], f"sum_l{level + 1}_{i}_l"))
                         for i, (a, b) in enumerate(pairs)]
            else:
                nodes = [stage(a + b, f"sum_l{level + 1}_{i}") for i, (a, b) in enumerate(pairs)]
            ctrl = advance(ctrl, f"l{level + 1}")

        # --- reduction nodes: per-slot accumulators = the output beat ------------------------------
        parts = 2 if split_outputs else 1
        acc_width = p.acc_bits + (PACK_SHIFT + 1 if p.packed and not p.oau else 0)
        accs = [[Signal(signed(acc_width), name=f"acc_{j}_{h}") for h in range(parts)]
                for j in range(p.max_groups)]
        valid_mask = Signal(p.max_groups)
        with m.If(ce):
            m.d.sync += self.o.valid.eq(ctrl["valid"] & ctrl["end"])
            with m.If(ctrl["valid"]):
                m.d.sync += self.o.p.last.eq(ctrl["last"])
                with m.Switch(ctrl["code"]):
                    for level in tap_levels:
                        with m.Case(level):
                            m.d.sync += valid_mask.eq((1 << (p.lanes >> level)) - 1)
                    with m.Default():
                        m.d.sync += valid_mask.eq((1 << (p.lanes >> tap_levels[0])) - 1)
        for j in range(p.max_groups):
            for h in range(parts):
                pick = Signal(signed(acc_width), name=f"rn_in_{j}_{h}")
                options = [(level, taps[level][j]) for level in tap_levels
                           if j < p.lanes >> level]
                with m.Switch(ctrl["code"]):
                    for level, value in options:
                        with m.Case(level):
                            m.d.comb += pick.eq(value[h] if split_outputs else value)
                    # Default (an N the tile does not use this slot for, or an unsupported
                    # code): 0, so unused slots read 0.
                with m.If(ce & ctrl["valid"]):
                    m.d.sync += accs[j][h].eq(Mux(ctrl["first"], pick, accs[j][h] + pick))
        m.d.comb += self.o.p.user.eq(valid_mask)

        # --- output lanes: low vector's slots, then the high vector's ----------------------------
        for j in range(p.max_groups):
            if not p.packed:
                m.d.comb += self.o.p.data[j].eq(accs[j][0])
            else:
                high, low = accs[j] if p.oau else _split(m, accs[j][0], f"out_{j}")
                m.d.comb += [self.o.p.data[j].eq(low), self.o.p.data[p.max_groups + j].eq(high)]
        return m
