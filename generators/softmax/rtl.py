"""Streaming single-pass softmax (the arithmetic of :mod:`.model`), base-2 and natural forms.

Ref: Softermax (arXiv 2103.09301) and Edge-MoE's online softmax; see :mod:`.model`.

Two sides joined by a ring buffer of logits and a FIFO of per-vector results:

* ingest: every beat is written to the ring and, in a free-running pipeline, turned into its own
  maximum and sum of ``2**(x - max)``; a one-cycle recurrence folds it into the vector's running
  maximum and sum; at ``last`` the reciprocal of the sum is computed and the vector's
  (maximum, reciprocal, exponent, length) enter the FIFO.
* drain: while the FIFO has a vector, its beats are read back from the ring one per cycle,
  ``2**(x - max)`` is recomputed and multiplied by the reciprocal; this side stalls as a whole
  under backpressure.

The ring holds ``max_len / lanes`` beats plus the ingest latency, so the drain of one vector
overlaps the ingest of the next: back-to-back vectors of any length stream at one beat per cycle.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..hw import index_range, max_tree, registered_head
from ..streams import BlockSpec, Function, Latency, Note, Padding, Stream, Tlast, Var, fixed_format
from .model import (
    LOG2E_CODE,
    LOG2E_FRAC,
    MANTISSA_BITS,
    NATURAL_EXTRA_FRAC,
    NEWTON_DROP,
    exp2_table,
    exponent_frac,
    newton_residual_range,
    recip_table,
    sum_guard,
)
from .params import SoftmaxParams

__all__ = ["Softmax", "softmax_core", "softmax_spec"]

INGEST_LATENCY = 11       # accept -> recurrence
DEFERRED_LATENCY = 3      # more stages when the running sum defers its shifts (see elaborate)
NEWTON_STAGES = 4         # the Newton step: product; residual; narrow product; rounded sum
RECIP_LATENCY = {"pwl": 4, "newton": 4 + NEWTON_STAGES}   # sum -> reciprocal, by recip_method
FIFO_LATENCY = 2          # vector FIFO write -> its registered head


def _interpolate(m, nodes, position, position_bits, segments_log2, name, register):
    """Piecewise-linear lookup in constant ``nodes``, as the model's: the table read, then
    ``register`` (a pipeline stage), then the multiply-add (returned unregistered)."""
    fine = max(position_bits - segments_log2, 0)
    index = position >> fine if fine else position << (segments_log2 - position_bits)
    width = max(max(nodes).bit_length(), 1)
    table = Array(Const(v, unsigned(width)) for v in nodes)
    lower = Signal(unsigned(width), name=f"{name}_lower")
    upper = Signal(unsigned(width), name=f"{name}_upper")
    m.d.comb += [lower.eq(table[index]), upper.eq(table[index + 1])]
    offset = register(position[:fine] if fine else Const(0, 1), f"{name}_offset_r")
    step = register((upper - lower).as_signed(), f"{name}_step_r")
    return register(lower, f"{name}_lower_r") + ((offset * step) >> fine)


def softmax_spec(p: SoftmaxParams, cycles):
    """The streams of either softmax core beyond their layouts; ``cycles`` is the latency
    expression (see :data:`generators.streams.LATENCY_CONVENTION`)."""
    base = "2" if p.method == "base2" else "e"
    tlast = Tlast("delimits", "end of a vector: its length, 1..max_len elements, is set at run "
                  "time by tlast", "beats")
    fin, fout = p.in_format, p.out_format
    scale = 1 << p.out_frac
    return BlockSpec(
        job="one vector of `length` elements in `beats` beats",
        variables=(Var("length", "elements in the vector", min=1, max=p.max_len),),
        derived=(("beats", f"cdiv(length, {p.lanes})"),),
        streams={
            "i": Stream(
                f"{p.lanes} logits x per beat, lane 0 in the low bits", "beats", tlast,
                {"data[]": Note(fin.frac, "logit x"),
                 "keep": Note(meaning="AXI4-Stream tkeep, one bit per lane (lane-granular, not "
                                      "per byte): bit k = 0 says lane k holds no element: it "
                                      "counts in neither the maximum nor the sum, its data and "
                                      "mask are not read, its output is 0 with keep 0"),
                 "mask": Note(meaning="bit k = 1 excludes lane k: its output is 0 (keep 1) and "
                                      "it counts in neither the maximum nor the sum; lane k is an "
                                      "element when keep bit k is 1 and mask bit k is 0")},
                padding=Padding(
                    f"min({p.lanes}, length - {p.lanes} * beat)",
                    "the last beat's lanes past the vector's length are pad lanes: the sender "
                    "drives their keep bits 0 (their data and mask may be anything); a sender "
                    "may instead keep every keep bit 1 and set the pad lanes' mask bits, as "
                    "before keep existed", keep_field="keep")),
            "o": Stream(f"{p.lanes} probabilities y per beat, in input order", "beats", tlast,
                        {"data[]": Note(fout.frac, "probability y of the same lane and beat"),
                         "keep": Note(meaning="tkeep, one bit per lane: the input's keep bit "
                                              "of the same lane and beat (0: no element, y = "
                                              "0)")},
                        padding=Padding(
                            f"min({p.lanes}, length - {p.lanes} * beat)",
                            "the block drives keep 0 and y 0 on the pad lanes of a vector's "
                            "last beat, wherever the input's keep was 0", keep_field="keep")),
        },
        latency=Latency(cycles, (("i", "beats - 1", "a vector's last beat"),),
                        ("o", "0", "the vector's first output beat")),
        function=Function(
            f"y[k] = min(round({scale} * {base}**(x[k] - max x) / sum_j {base}**(x[j] - max x)),"
            f" {fout.max_code}) over the vector's elements j (keep 1, mask 0) (method "
            f"{p.method!r}, table approximations bit-exact with the model); masked lanes and "
            f"lanes with keep 0 give 0; a probability of 1.0 saturates to {fout.max_code}",
            (("x", "input logit", fixed_format(fin.width, fin.frac, fin.signed)),
             ("y", "output probability", fixed_format(fout.width, fout.frac, fout.signed)))),
        rules=("a vector without elements (every lane masked or keep 0) gives all-zero outputs",
               "keep 0 is honoured on any beat, not only the last (an AXI4-Stream null "
               "position): the lane is not an element; the beat count stays cdiv(length, "
               f"{p.lanes})"))


def stream_layouts(p: SoftmaxParams):
    """``(input, output)`` payload layouts of either softmax core."""
    in_layout = data.StructLayout({
        "data": data.ArrayLayout(signed(p.in_width), p.lanes), "keep": p.lanes,
        "mask": p.lanes, "last": 1})
    out_layout = data.StructLayout({
        "data": data.ArrayLayout(unsigned(p.out_width), p.lanes), "keep": p.lanes, "last": 1})
    return in_layout, out_layout


def softmax_core(params: SoftmaxParams):
    """The softmax component for ``params``: single-pass forms here, I-BERT's two-pass form in
    :mod:`.ibert_rtl`."""
    if isinstance(params, SoftmaxParams) and params.method == "ibert":
        from .ibert_rtl import IbertSoftmax
        return IbertSoftmax(params)
    return Softmax(params)


class Softmax(wiring.Component):
    """Softmax over vectors of 1..``max_len`` logits, ``lanes`` per beat, ``last`` at the end.

    ``i.p.mask`` bit k excludes lane k: its output is 0 and it counts in neither maximum nor sum.
    ``i.p.keep`` bit k low (AXI4-Stream tkeep, one bit per lane) says lane k holds no element:
    the same, and ``o.p.keep`` bit k is low on its output. Outputs keep the input's order and
    framing. Initiation interval 1 for back-to-back vectors;
    a vector's first output follows its last input by :attr:`latency` cycles.
    """

    def __init__(self, params: SoftmaxParams):
        if not isinstance(params, SoftmaxParams):
            raise TypeError(f"params must be a SoftmaxParams, not {params!r}")
        if params.method == "ibert":
            raise TypeError("method 'ibert' is built by IbertSoftmax (see softmax_core)")
        self._params = params
        p = params
        in_layout, out_layout = stream_layouts(p)
        super().__init__({"i": In(stream.Signature(in_layout)),
                          "o": Out(stream.Signature(out_layout))})

    @property
    def params(self):
        return self._params

    @property
    def lanes(self):
        return self._params.lanes

    @property
    def in_format(self):
        return self._params.in_format

    @property
    def out_format(self):
        return self._params.out_format

    @property
    def latency(self):
        """Cycles from a vector's last input beat to its first output beat (no backpressure)."""
        tree_levels = (self._params.lanes - 1).bit_length()
        return (self._ingest_latency + tree_levels + self._recip_latency + FIFO_LATENCY
                + self.DRAIN_LATENCY)

    def first_output_after(self, beats):
        """Cycles from the last input beat of a ``beats``-beat vector to its first output."""
        return self.latency

    @property
    def block_spec(self):
        # latency counts from the cycle after the last input's transfer edge (the vector's
        # close enters the recurrence then); the manifest counts from that edge: one more.
        return softmax_spec(self._params, str(self.latency + 1))

    @property
    def _recip_latency(self):
        return RECIP_LATENCY[self._params.recip_method]

    @property
    def _max_growth(self):
        """The most a vector's running integer maximum can grow: the integer-part range of the
        exponents of the input format."""
        fmt, frac = self._params.in_format, exponent_frac(self._params)
        if self._params.method == "natural":
            whole = [(x * LOG2E_CODE) >> (LOG2E_FRAC - NATURAL_EXTRA_FRAC + frac)
                     for x in (fmt.min_code, fmt.max_code)]
        else:
            whole = [x >> frac for x in (fmt.min_code, fmt.max_code)]
        return whole[1] - whole[0]

    @property
    def _deferred(self):
        """Whether the running sum defers its rescaling shifts (below), which needs an
        accumulator ``_max_growth`` bits wider than the sum: done while that at most doubles it."""
        return self._max_growth <= self._sum_width

    @property
    def _sum_width(self):
        return self._params.sum_frac + self._params.max_len.bit_length() + 2

    @property
    def _ingest_latency(self):
        return INGEST_LATENCY + (DEFERRED_LATENCY if self._deferred else 0)

    DRAIN_LATENCY = 10

    def _exponent(self, x):
        """Base-2 exponent codes (``exponent_frac`` fraction bits) of a logit."""
        if self._params.method == "natural":
            return (x * LOG2E_CODE) >> (LOG2E_FRAC - NATURAL_EXTRA_FRAC)
        return x

    def _exp2_parts(self, m, v, frac, name, register, guard=0):
        """First half of ``2**v`` (``v < 1``, ``frac`` fraction bits), over two ``register``
        stages: ``2**frac(v)`` from the table, and how far to shift it right (``guard`` as the
        model's ``_exp2``)."""
        p = self._params
        # v comes out of a subtract; registering it keeps that carry chain apart from the
        # table read and the shift-amount compare (the ECP5 critical path otherwise).
        v = register(v, f"{name}_v_r")
        whole = v >> frac
        mantissa = _interpolate(m, exp2_table(p), v[:frac], frac, p.exp_segments_log2, name,
                                register)
        cap = p.exp_frac + guard + 2
        drop = Signal(range(cap + 1), name=f"{name}_drop")
        m.d.comb += drop.eq(Mux(-whole > cap, cap, -whole))
        return mantissa[:self._params.exp_frac + 2], register(drop, f"{name}_drop_r")

    def _exp2_finish(self, mantissa, drop, guard=0):
        """Second half: the rounded right shift, ``exp_frac + guard`` fraction bits."""
        width = self._params.exp_frac + guard + 2
        return (((mantissa << guard) + ((Const(1, 1) << drop) >> 1)) >> drop)[:width]

    def elaborate(self, platform):
        p = self._params
        m = Module()
        frac = exponent_frac(p)
        beats = p.max_len // p.lanes
        # A vector's beats stay in the ring until their re-read starts, latency - DRAIN_LATENCY
        # cycles after its last beat; back-to-back vectors keep coming in meanwhile.
        ring_depth = 1 << (beats + self.latency - self.DRAIN_LATENCY + 2 - 1).bit_length()
        exp_width = Value.cast(self._exponent(Signal(signed(p.in_width)))).shape().width
        int_width = exp_width - frac + 2           # integer part of an exponent, signed
        sum_width = self._sum_width

        # --- ring buffer ------------------------------------------------------------------------
        entry = data.StructLayout({"data": data.ArrayLayout(signed(p.in_width), p.lanes),
                                   "mask": p.lanes})
        m.submodules.ring = ring = Memory(shape=entry, depth=ring_depth, init=[])
        wr = ring.write_port()
        rd = ring.read_port(domain="sync")
        wptr = Signal(range(ring_depth))
        rptr = Signal(range(ring_depth))
        used = Signal(range(ring_depth + 1))
        accept = Signal()
        issue = Signal()
        # A lane is an element when its keep bit is 1 and its mask bit 0. The ring stores
        # "not an element" in the mask bits and, for such lanes, the keep bit in bit 0 of their
        # (unused) data: the drain recovers keep without a wider ring entry (a wider one costs a
        # second block RAM on ECP5 at 4 x 8 + 4 bits).
        element = Signal(p.lanes)
        m.d.comb += [self.i.ready.eq(used < ring_depth), accept.eq(self.i.valid & self.i.ready),
                     element.eq(self.i.p.keep & ~self.i.p.mask),
                     wr.addr.eq(wptr), wr.data.mask.eq(~element), wr.en.eq(accept)]
        for k in range(p.lanes):
            m.d.comb += wr.data.data[k].eq(Cat(Mux(element[k], self.i.p.data[k][0],
                                                   self.i.p.keep[k]), self.i.p.data[k][1:]))
        with m.If(accept):
            m.d.sync += wptr.eq(wptr + 1)
        m.d.sync += used.eq(used + accept - issue)

        # --- ingest: beat maximum and sum, then the recurrence ----------------------------------
        length = Signal(range(beats + 1))
        with m.If(accept):
            m.d.sync += length.eq(Mux(self.i.p.last, 0, length + 1))

        def delay(value, name):
            reg = Signal.like(value, name=name) if isinstance(value, Signal) else \
                Signal(value.shape(), name=name)
            m.d.sync += reg.eq(value)
            return reg

        # A1: the accepted beat.
        a1_valid = delay(accept, "a1_valid")
        a1_last = delay(self.i.p.last, "a1_last")
        a1_len = delay(length + 1, "a1_len")
        a1_mask = delay(~element, "a1_mask")      # masked or keep 0: not an element
        a1_x = [delay(self.i.p.data[k], f"a1_x{k}") for k in range(p.lanes)]
        # A2: exponents and their integer parts.
        a2_e = [delay(self._exponent(x), f"a2_e{k}") for k, x in enumerate(a1_x)]
        a2_valid, a2_last, a2_len, a2_mask = (delay(s, f"a2_{n}") for s, n in (
            (a1_valid, "valid"), (a1_last, "last"), (a1_len, "len"), (a1_mask, "mask")))
        # A3: the beat's integer maximum over unmasked lanes (masked lanes enter as the lowest
        # value), then one stage per level of the compare tree.
        floor_min = -(1 << (int_width - 1))
        wholes = [delay(Mux(a2_mask[k], floor_min, (e >> frac).as_signed()), f"a3_whole{k}")
                  for k, e in enumerate(a2_e)]
        a3_max, levels = max_tree(wholes, delay, "a3_max")
        carried = {"valid": a2_valid, "last": a2_last, "len": a2_len, "mask": a2_mask,
                   "any": ~a2_mask.all(), **{f"e{k}": e for k, e in enumerate(a2_e)}}
        for level in range(levels + 1):
            carried = {n: delay(v, f"a3_{level}_{n}") for n, v in carried.items()}
        a3_e = [carried[f"e{k}"] for k in range(p.lanes)]
        a3_valid, a3_last, a3_len, a3_mask, a3_any = (carried[n] for n in (
            "valid", "last", "len", "mask", "any"))
        # A4-A6: 2**(x - beat max) in two halves, floored to sum_frac bits, summed over the
        # unmasked lanes.
        guard = sum_guard(p)
        parts = [self._exp2_parts(m, e - (a3_max << frac), frac, f"a_exp{k}", delay, guard)
                 for k, e in enumerate(a3_e)]
        a3b = {n: delay(delay(s, f"a3a_{n}"), f"a3b_{n}") for n, s in (
            ("max", a3_max), ("valid", a3_valid), ("last", a3_last), ("len", a3_len),
            ("any", a3_any), ("mask", a3_mask))}
        a4_parts = [(delay(mt, f"a4_mantissa{k}"), delay(dr, f"a4_drop{k}"))
                    for k, (mt, dr) in enumerate(parts)]
        a4 = {n: delay(s, f"a4_{n}") for n, s in a3b.items()}
        a5_terms = [delay(Mux(a4["mask"][k], 0, self._exp2_finish(mt, dr, guard)
                              >> max(p.exp_frac - p.sum_frac, 0)), f"a5_term{k}")
                    for k, (mt, dr) in enumerate(a4_parts)]
        a5 = {n: delay(s, f"a5_{n}") for n, s in a4.items()}
        a6_sum = delay(sum(a5_terms[1:], a5_terms[0]), "a6_sum")
        a6_max, a6_valid, a6_last, a6_len, a6_any = (delay(a5[n], f"a6_{n}") for n in (
            "max", "valid", "last", "len", "any"))
        # A7-A9: the recurrence (m' = max(m, M); d' = (d >> (m' - m)) + (S >> (m' - M))), split
        # so that each loop-carried step is short: A7 carries only the maximum and registers both
        # shift amounts; A8 shifts the beat sum (no loop); A9 carries the sum: one shift, one add.
        run_max = Signal(signed(int_width))
        started = Signal()
        new_max = Mux(~started | (a6_max > run_max), a6_max, run_max)
        vec_max = Mux(a6_any, new_max, run_max)
        with m.If(a6_valid):
            m.d.sync += [run_max.eq(vec_max), started.eq(Mux(a6_last, 0, started | a6_any))]
        a7_old_shift = delay(Mux(a6_any, (new_max - run_max).as_unsigned(), 0)[:int_width + 1],
                             "a7_old_shift")
        a7_beat_shift = delay((new_max - a6_max).as_unsigned()[:int_width + 1], "a7_beat_shift")
        a7_beat_sum = delay(Mux(a6_any, a6_sum, 0), "a7_beat_sum")
        a7_keep = delay(started, "a7_keep")       # the running sum so far belongs to this vector
        a7 = {n: delay(v, f"a7_{n}") for n, v in (
            ("valid", a6_valid), ("last", a6_last), ("len", a6_len), ("max", vec_max),
            ("any", started | a6_any))}
        a8_term = delay(_shift_right(a7_beat_sum, a7_beat_shift, sum_width), "a8_term")
        a8 = {n: delay(v, f"a8_{n}") for n, v in (
            *a7.items(), ("old_shift", a7_old_shift), ("keep", a7_keep))}
        if self._deferred:
            # floor(floor(a / 2**b) / 2**c) == floor(a / 2**(b + c)) and floor(a / 2**b) + t ==
            # floor((a + t * 2**b) / 2**b): the sum is kept as acc / 2**pending, with the shifts
            # added up in `pending` and each beat's term shifted left by it, so the loop carries a
            # plain add (bit-exact with the model's shift-then-add). A8 carries `pending`, A9
            # shifts the term, A10 carries acc; the division by 2**pending follows at the end.
            growth = self._max_growth
            pending = Signal(range(growth + 1), name="sum_pending")
            next_pending = Mux(a8["keep"], pending + a8["old_shift"], 0)[:len(pending)]
            with m.If(a8["valid"]):
                m.d.sync += pending.eq(next_pending)
            a9 = {n: delay(v, f"a9_{n}") for n, v in (
                *a8.items(), ("term", a8_term), ("pending", next_pending))}
            a10_addend = delay(a9["term"] << a9["pending"], "a10_addend")
            a10 = {n: delay(v, f"a10_{n}") for n, v in a9.items()}
            acc = Signal(sum_width + growth, name="sum_deferred")
            next_acc = (Mux(a10["keep"], acc, 0) + a10_addend)[:len(acc)]
            with m.If(a10["valid"]):
                m.d.sync += acc.eq(next_acc)
            r0a = {n: delay(v, f"r0a_{n}") for n, v in (
                ("valid", a10["valid"] & a10["last"]), ("max", a10["max"]), ("any", a10["any"]),
                ("len", a10["len"]), ("acc", next_acc), ("pending", a10["pending"]))}
            vec_sum, last_beat = (r0a["acc"] >> r0a["pending"])[:sum_width], r0a
        else:
            run_sum = Signal(sum_width)
            vec_sum = (Mux(a8["keep"], _shift_right(run_sum, a8["old_shift"], sum_width), 0)
                       + a8_term)[:sum_width]
            with m.If(a8["valid"]):
                m.d.sync += run_sum.eq(vec_sum)
            last_beat = {**a8, "valid": a8["valid"] & a8["last"]}
        r0_valid = delay(last_beat["valid"], "r0_valid")
        r0_max, r0_sum, r0_any, r0_len = (delay(s, f"r0_{n}") for s, n in (
            (last_beat["max"], "max"), (vec_sum, "sum"), (last_beat["any"], "any"),
            (last_beat["len"], "len")))

        # --- reciprocal of the sum: 1/d = r * 2**-recip_frac * 2**-(lead - sum_frac) -----------
        lead = Signal(range(sum_width), name="recip_lead")
        for bit in range(sum_width):
            with m.If(r0_sum[bit]):
                m.d.comb += lead.eq(bit)
        r1 = {n: delay(s, f"r1_{n}") for n, s in (
            ("valid", r0_valid), ("max", r0_max), ("any", r0_any), ("len", r0_len),
            ("lead", lead), ("sum", r0_sum))}
        normal = Signal(MANTISSA_BITS + 1, name="recip_normal")
        with m.If(r1["lead"] >= MANTISSA_BITS):
            m.d.comb += normal.eq(r1["sum"] >> (r1["lead"] - MANTISSA_BITS).as_unsigned())
        with m.Else():
            m.d.comb += normal.eq(r1["sum"] << (MANTISSA_BITS - r1["lead"]).as_unsigned())
        r2 = {n: delay(s, f"r2_{n}") for n, s in (
            ("valid", r1["valid"]), ("max", r1["max"]), ("any", r1["any"]), ("len", r1["len"]),
            ("lead", r1["lead"]), ("mantissa", normal[:MANTISSA_BITS]))}
        recip = _interpolate(m, recip_table(p), r2["mantissa"], MANTISSA_BITS,
                             p.recip_segments_log2, "recip", delay)
        r2b = {n: delay(s, f"r2b_{n}") for n, s in r2.items()}
        r3 = {n: delay(s, f"r3_{n}") for n, s in (
            ("valid", r2b["valid"]), ("max", r2b["max"]), ("any", r2b["any"]),
            ("len", r2b["len"]), ("lead", r2b["lead"]), ("recip", recip),
            ("mantissa", r2b["mantissa"]))}
        if p.recip_method == "newton":
            # r' = r + r * (1 - m * r), as model.newton_step: one product per stage. m * r is
            # r << MANTISSA_BITS plus a mantissa-by-r product; the residual is small (the table's
            # error), so the second product is narrow.
            scale = MANTISSA_BITS + p.recip_frac
            n1 = {n: delay(v, f"n1_{n}") for n, v in r3.items()}
            n1_product = delay((r3["recip"] << MANTISSA_BITS) + r3["mantissa"] * r3["recip"],
                               "n1_product")
            low, high = newton_residual_range(p)
            residual = Signal(signed(max(Const(low).shape().width, Const(high).shape().width)),
                              name="n1_residual")
            m.d.comb += residual.eq(((1 << scale) - n1_product).as_signed() >> NEWTON_DROP)
            # The residual's subtract, the narrow product and the rounding adds get a cycle
            # each: any two of them in one cycle were the one-lane block's ECP5 critical path
            # (78.6 MHz all three, 93.8 MHz with the residual registered, 108.6 MHz so).
            n1b = {n: delay(v, f"n1b_{n}") for n, v in n1.items()}
            n1b_residual = delay(residual, "n1b_residual")
            n1c = {n: delay(v, f"n1c_{n}") for n, v in n1b.items()}
            n1c_product = delay(n1b["recip"] * n1b_residual, "n1c_product")
            r3 = {n: delay(v, f"n2_{n}") for n, v in n1c.items()}
            shift = scale - NEWTON_DROP
            correction = (n1c_product + (1 << (shift - 1))) >> shift
            r3["recip"] = delay((n1c["recip"] + correction)[:p.recip_frac + 1], "n2_recip")

        vector = data.StructLayout({
            "max": signed(int_width), "recip": unsigned(p.recip_frac + 1),
            "lead": range(sum_width), "any": 1, "last_beat": index_range(beats)})
        m.submodules.vectors = vectors = fifo.SyncFIFOBuffered(
            width=vector.size, depth=ring_depth + self._ingest_latency + self._recip_latency + 2)
        pushed = data.View(vector, vectors.w_data)
        m.d.comb += [vectors.w_en.eq(r3["valid"]), pushed.max.eq(r3["max"]),
                     pushed.recip.eq(r3["recip"]), pushed.lead.eq(r3["lead"]),
                     pushed.any.eq(r3["any"]), pushed.last_beat.eq(r3["len"] - 1)]

        # --- drain: read back, recompute, normalise (stalls as a whole) ------------------------
        ce = Signal()
        m.d.comb += ce.eq(~self.o.valid | self.o.ready)
        has_vector, current, pop_vector = registered_head(m, vectors, vector, "vector")
        count = Signal(range(beats + 1))
        # An equality with a stored index, not an increment and compare: this feeds the FIFO's
        # read enable, the iCE40 critical path.
        final = count == current.last_beat
        m.d.comb += [issue.eq(ce & has_vector), rd.addr.eq(rptr), rd.en.eq(ce),
                     pop_vector.eq(issue & final)]
        with m.If(issue):
            m.d.sync += [rptr.eq(rptr + 1), count.eq(Mux(final, 0, count + 1))]

        def stage(value, name):
            reg = Signal(value.shape(), name=name)
            with m.If(ce):
                m.d.sync += reg.eq(value)
            return reg

        # D1: ring data arrives (the read port's register), with its vector's constants.
        d1 = {n: stage(s, f"d1_{n}") for n, s in (
            ("valid", issue), ("last", issue & final), ("max", current.max),
            ("recip", current.recip), ("lead", current.lead), ("any", current.any))}
        # The block RAM's data output is slow (ECP5 DP16KD: ~5 ns clock to out): register it
        # before any arithmetic.
        d1b_ring = Signal(entry, name="d1b_ring")
        with m.If(ce):
            m.d.sync += d1b_ring.eq(rd.data)
        d1b = {n: stage(v, f"d1b_{n}") for n, v in d1.items()}
        d2_e = [stage(self._exponent(d1b_ring.data[k]), f"d2_e{k}") for k in range(p.lanes)]
        keep = Cat(~d1b_ring.mask[k] | d1b_ring.data[k][0] for k in range(p.lanes))
        d2 = {n: stage(s, f"d2_{n}") for n, s in list(
            {"mask": d1b_ring.mask, "keep": keep, **{k: v for k, v in d1b.items()}}.items())}
        parts = [self._exp2_parts(m, e - (d2["max"] << frac), frac, f"d_exp{k}", stage)
                 for k, e in enumerate(d2_e)]
        d2b = {n: stage(stage(s, f"d2a_{n}"), f"d2b_{n}") for n, s in d2.items()}
        d3_parts = [(stage(mt, f"d3_mantissa{k}"), stage(dr, f"d3_drop{k}"))
                    for k, (mt, dr) in enumerate(parts)]
        d3 = {n: stage(s, f"d3_{n}") for n, s in d2b.items()}
        d4_num = [stage(self._exp2_finish(mt, dr), f"d4_num{k}") for k, (mt, dr) in
                  enumerate(d3_parts)]
        d4 = {n: stage(s, f"d4_{n}") for n, s in d3.items()}
        # Output scaling: exp_frac + recip_frac + (lead - sum_frac) - out_frac bits.
        base = p.exp_frac + p.recip_frac - p.sum_frac - p.out_frac
        # lead >= sum_frac (the sum holds its maximum's 2**0), so the shift is never negative.
        d4["shift"] = Signal(range(max(base + sum_width, 1)), name="d4_shift")
        m.d.comb += d4["shift"].eq(d4["lead"] + base)
        d5_prod = [stage(v * d4["recip"], f"d5_prod{k}") for k, v in enumerate(d4_num)]
        d5 = {n: stage(s, f"d5_{n}") for n, s in d4.items()}
        # Shift by exp_frac + recip_frac + (lead - sum_frac) - out_frac, rounding half up.
        # D6-D7: round half up as floor((floor(2 * prod / 2**shift) + 1) / 2): the shift and the
        # increment-and-saturate land in different cycles.
        d6_twice = [stage((prod << 1) >> d5["shift"], f"d6_twice{k}") for k, prod in
                    enumerate(d5_prod)]
        d6 = {n: stage(s, f"d6_{n}") for n, s in d5.items()}
        outputs = []
        for k, twice in enumerate(d6_twice):
            rounded = (twice + 1) >> 1
            saturated = Mux(rounded > p.out_format.max_code, p.out_format.max_code, rounded)
            outputs.append(Mux(d6["mask"][k] | ~d6["any"], 0, saturated)[:p.out_width])
        d7 = [stage(v, f"d7_y{k}") for k, v in enumerate(outputs)]
        m.d.comb += [self.o.valid.eq(stage(d6["valid"], "d7_valid")),
                     self.o.p.last.eq(stage(d6["last"], "d7_last")),
                     self.o.p.keep.eq(stage(d6["keep"], "d7_keep"))]
        for k, y in enumerate(d7):
            m.d.comb += self.o.p.data[k].eq(y)
        return m


def _shift_right(value, amount, width):
    """``value >> amount`` that is 0 once ``amount`` reaches ``width`` (a bounded barrel shift)."""
    return Mux(amount >= width, 0, value >> amount[:max(width - 1, 1).bit_length()])
