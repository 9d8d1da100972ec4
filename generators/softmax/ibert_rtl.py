"""I-BERT's integer softmax (seeds.md §3.6a) as streaming hardware, bit-exact to
:func:`generators.softmax.baselines.ibert_softmax`: the baseline beside our single-pass forms.

I-BERT subtracts the vector's maximum before any exponent and divides by the finished sum, so it
needs two passes over the stored vector where the online forms need one. Three sides, joined by
two ring buffers and two FIFOs of per-vector values, each moving one beat per cycle:

* ingest: logits into the logit ring; running maximum over unmasked lanes; at ``last`` the
  vector's (maximum, any unmasked, length) enter the first FIFO.
* sum pass: the vector is read back; per element ``e16`` (i-exp, requantised to 16 bits: a
  constant division into ln2-steps and a remainder, a table over the remainder, a rounded shift;
  see :func:`~generators.softmax.baselines.ibert_e16_tables`) goes into the exponent ring and the
  running sum; a pipelined restoring divider gives ``floor(2**32 / sum)`` into the second FIFO.
  This side never waits on backpressure except when the exponent ring is full.
* output pass: ``e16 * factor >> (32 - out_frac)``, saturated; stalls as a whole under
  backpressure.

A vector's first output follows its last input by :attr:`IbertSoftmax.latency` cycles plus its
length in beats (the sum pass). Back-to-back vectors stream at one beat per cycle.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..hw import max_tree, registered_head
from .baselines import IBERT_CONST, IBERT_MAX_BIT, ibert_e16_tables
from .params import SoftmaxParams

__all__ = ["IbertSoftmax", "constant_divider"]

ACT_BITS = 16
INGEST_LATENCY = 1       # accept -> masked lanes registered; then one cycle per max-tree level
FIFO_LATENCY = 2         # FIFO write -> its registered head, each of the two
SUM_LATENCY = 9          # sum-pass issue -> vector sum into the divider
DRAIN_LATENCY = 4        # output-pass issue -> output valid


def constant_divider(divisor, limit):
    """``(multiplier, shift)`` with ``n * multiplier >> shift == n // divisor`` for every
    ``0 <= n <= limit``: the smallest shift that holds, checked on every such ``n``."""
    for shift in range(1, 64):
        multiplier = -(-(1 << shift) // divisor)
        if all((n * multiplier) >> shift == n // divisor for n in range(limit + 1)):
            return multiplier, shift
    raise ValueError(f"no multiplier divides by {divisor} up to {limit}")


def quotient_bits():
    """Bits of ``floor(2**32 / sum)``: every unmasked vector's sum holds its maximum's e16 = top."""
    return ((1 << IBERT_MAX_BIT) // ((1 << (ACT_BITS - 1)) - 1)).bit_length()


class IbertSoftmax(wiring.Component):
    """I-BERT softmax over vectors of 1..``max_len`` logits, ``lanes`` per beat; same ports and
    mask and keep rules as :class:`generators.softmax.rtl.Softmax`."""

    def __init__(self, params: SoftmaxParams):
        if not isinstance(params, SoftmaxParams) or params.method != "ibert":
            raise TypeError(f"params must be a SoftmaxParams with method 'ibert', not {params!r}")
        self._params = params
        p = params
        from .rtl import stream_layouts
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
        """Cycles from a vector's last input beat to its first output beat, without
        backpressure, on top of the vector's length in beats (the sum pass reads it once)."""
        tree_levels = (self._params.lanes - 1).bit_length()
        return (INGEST_LATENCY + tree_levels + 2 * FIFO_LATENCY + SUM_LATENCY + quotient_bits()
                + DRAIN_LATENCY)

    def first_output_after(self, beats):
        """Cycles from the last input beat of a ``beats``-beat vector to its first output."""
        return self.latency + beats

    @property
    def block_spec(self):
        from .rtl import softmax_spec
        # As Softmax's: latency counts from the cycle after the last transfer's edge.
        return softmax_spec(self._params, f"{self.latency + 1} + beats")

    def elaborate(self, platform):
        p = self._params
        m = Module()
        beats = p.max_len // p.lanes
        top = (1 << (ACT_BITS - 1)) - 1
        divisor, round_table, floor_table = ibert_e16_tables(p.in_frac, ACT_BITS)
        limit = IBERT_CONST * divisor
        multiplier, div_shift = constant_divider(divisor, limit)
        sum_width = (top * p.max_len).bit_length()
        qbits = quotient_bits()
        slack = INGEST_LATENCY + SUM_LATENCY + qbits + 8
        depth = 1 << (beats + slack - 1).bit_length()

        def reg(value, name, en=None):
            value = value if hasattr(value, "shape") else Const(value)
            r = Signal(value.shape(), name=name)
            if en is None:
                m.d.sync += r.eq(value)
            else:
                with m.If(en):
                    m.d.sync += r.eq(value)
            return r

        # --- ingest: logit ring, running maximum -------------------------------------------------
        entry = data.StructLayout({"data": data.ArrayLayout(signed(p.in_width), p.lanes),
                                   "mask": p.lanes})
        m.submodules.logits = logits = Memory(shape=entry, depth=depth, init=[])
        lw, lr = logits.write_port(), logits.read_port(domain="sync")
        l_wptr, l_rptr = Signal(range(depth)), Signal(range(depth))
        l_used = Signal(range(depth + 1))
        accept, s_issue = Signal(), Signal()
        # As Softmax's ring: "not an element" (mask, or keep 0) in the mask bits, and such a
        # lane's keep bit in bit 0 of its unused data.
        element = Signal(p.lanes)
        m.d.comb += [self.i.ready.eq(l_used < depth), accept.eq(self.i.valid & self.i.ready),
                     element.eq(self.i.p.keep & ~self.i.p.mask),
                     lw.addr.eq(l_wptr), lw.data.mask.eq(~element), lw.en.eq(accept)]
        for k in range(p.lanes):
            m.d.comb += lw.data.data[k].eq(Cat(Mux(element[k], self.i.p.data[k][0],
                                                   self.i.p.keep[k]), self.i.p.data[k][1:]))
        with m.If(accept):
            m.d.sync += l_wptr.eq(l_wptr + 1)
        m.d.sync += l_used.eq(l_used + accept - s_issue)

        length = Signal(range(beats + 1))
        with m.If(accept):
            m.d.sync += length.eq(Mux(self.i.p.last, 0, length + 1))
        # The beat's maximum over unmasked lanes: masked lanes enter as the lowest code, then a
        # tree of pairwise maxima, registered every level (one compare per cycle).
        level = [reg(Mux(element[k], self.i.p.data[k], p.in_format.min_code), f"i1_x{k}")
                 for k in range(p.lanes)]
        carried = {"valid": reg(accept, "i1_valid"), "last": reg(self.i.p.last, "i1_last"),
                   "len": reg(length + 1, "i1_len"), "any": reg(element.any(), "i1_any")}
        i2_max, levels = max_tree(level, reg, "i_max")
        for index in range(levels):
            carried = {n: reg(v, f"i_tree{index}_{n}") for n, v in carried.items()}
        i2_any = carried["any"]
        i2_valid, i2_last, i2_len = carried["valid"], carried["last"], carried["len"]
        run_max = Signal(signed(p.in_width))
        run_any = Signal()
        new_max = Mux(run_any & (run_max > i2_max), run_max, i2_max)
        vec_max = Mux(i2_any, new_max, run_max)
        vec_any = run_any | i2_any
        with m.If(i2_valid):
            m.d.sync += [run_max.eq(Mux(i2_last, p.in_format.min_code, vec_max)),
                         run_any.eq(Mux(i2_last, 0, vec_any))]
        ingested = data.StructLayout({"max": signed(p.in_width), "any": 1,
                                      "len": range(beats + 1)})
        m.submodules.ingested = ingested_fifo = fifo.SyncFIFOBuffered(
            width=ingested.size, depth=depth + slack)
        pushed = data.View(ingested, ingested_fifo.w_data)
        m.d.comb += [ingested_fifo.w_en.eq(i2_valid & i2_last), pushed.max.eq(vec_max),
                     pushed.any.eq(vec_any), pushed.len.eq(i2_len)]

        # --- sum pass: e16 per element into the exponent ring and the sum -------------------------
        exps_entry = data.StructLayout({"e16": data.ArrayLayout(unsigned(ACT_BITS - 1), p.lanes),
                                        "keep": p.lanes})
        m.submodules.exps = exps = Memory(shape=exps_entry, depth=depth, init=[])
        ew, er = exps.write_port(), exps.read_port(domain="sync")
        e_wptr, e_rptr = Signal(range(depth)), Signal(range(depth))
        e_used = Signal(range(depth + 1))
        d_issue = Signal()
        has_vector, current, pop_vector = registered_head(m, ingested_fifo, ingested, "ingested")
        s_count = Signal(range(beats + 1))
        s_final = s_count + 1 == current.len
        m.d.comb += [s_issue.eq(has_vector & (e_used < depth)), pop_vector.eq(s_issue & s_final),
                     lr.addr.eq(l_rptr), lr.en.eq(1)]
        with m.If(s_issue):
            m.d.sync += [l_rptr.eq(l_rptr + 1), s_count.eq(Mux(s_final, 0, s_count + 1))]
        # Room in the exponent ring is reserved at issue; the write happens SUM_LATENCY later.
        m.d.sync += e_used.eq(e_used + s_issue - d_issue)

        s1 = {"valid": reg(s_issue, "s1_valid"), "last": reg(s_issue & s_final, "s1_last"),
              "max": reg(current.max, "s1_max"), "any": reg(current.any, "s1_any"),
              "len": reg(current.len, "s1_len")}
        neg_width = max(limit.bit_length(), 1)
        # Block RAM data outputs are slow (ECP5 DP16KD: ~5 ns clock to out): registered first.
        s1b_logits = Signal(entry, name="s1b_logits")
        m.d.sync += s1b_logits.eq(lr.data)
        s1b = {n: reg(v, f"s1b_{n}") for n, v in s1.items()}
        s2_neg, s2_mask = [], reg(s1b_logits.mask, "s2_mask")
        s2_keep = reg(Cat(~s1b_logits.mask[k] | s1b_logits.data[k][0] for k in range(p.lanes)),
                      "s2_keep")
        for k in range(p.lanes):
            gap = (s1b["max"] - s1b_logits.data[k]).as_unsigned()[:p.in_width + 1]  # >= 0 unmasked
            s2_neg.append(reg(Mux(gap > limit, limit, gap)[:neg_width], f"s2_neg{k}"))
        s2 = {n: reg(v, f"s2_{n}") for n, v in s1b.items()}
        s3_steps = [reg((neg * multiplier) >> div_shift, f"s3_steps{k}")
                    for k, neg in enumerate(s2_neg)]
        s3_neg = [reg(neg, f"s3_neg{k}") for k, neg in enumerate(s2_neg)]
        s3 = {n: reg(v, f"s3_{n}") for n, v in {**s2, "mask": s2_mask, "keep": s2_keep}.items()}
        s4_rem = [reg((neg - steps * divisor)[:max(divisor - 1, 1).bit_length()], f"s4_rem{k}")
                  for k, (neg, steps) in enumerate(zip(s3_neg, s3_steps))]
        s4_steps = [reg(steps[:5], f"s4_steps{k}") for k, steps in enumerate(s3_steps)]
        s4 = {n: reg(v, f"s4_{n}") for n, v in s3.items()}
        rounded = Array(Const(v, unsigned(ACT_BITS - 1)) for v in round_table)
        floored = Array(Const(v, unsigned(ACT_BITS - 1)) for v in floor_table)
        s5_base = [reg(Mux(steps == 0, rounded[rem], floored[rem]), f"s5_base{k}")
                   for k, (rem, steps) in enumerate(zip(s4_rem, s4_steps))]
        s5_steps = [reg(steps, f"s5_steps{k}") for k, steps in enumerate(s4_steps)]
        s5 = {n: reg(v, f"s5_{n}") for n, v in s4.items()}
        e16 = []
        for k, (base, steps) in enumerate(zip(s5_base, s5_steps)):
            half = (Const(1, 1) << steps) >> 1          # 2**(steps-1), 0 when steps = 0
            e16.append(reg(Mux(s5["mask"][k], 0, ((base + half) >> steps)[:ACT_BITS - 1]),
                           f"s6_e16_{k}"))
        s6 = {n: reg(v, f"s6_{n}") for n, v in s5.items()}
        m.d.comb += [ew.addr.eq(e_wptr), ew.en.eq(s6["valid"]), ew.data.keep.eq(s6["keep"])]
        for k, v in enumerate(e16):
            m.d.comb += ew.data.e16[k].eq(v)
        with m.If(s6["valid"]):
            m.d.sync += e_wptr.eq(e_wptr + 1)
        s7_sum = reg(sum(e16[1:], e16[0]), "s7_sum")
        s7 = {n: reg(v, f"s7_{n}") for n, v in s6.items()}
        run_sum = Signal(sum_width)
        vec_sum = (run_sum + s7_sum)[:sum_width]
        with m.If(s7["valid"]):
            m.d.sync += run_sum.eq(Mux(s7["last"], 0, vec_sum))
        s8 = {"valid": reg(s7["valid"] & s7["last"], "s8_valid"), "sum": reg(vec_sum, "s8_sum"),
              "any": reg(s7["any"], "s8_any"), "len": reg(s7["len"], "s8_len")}

        # --- divider: floor(2**32 / sum), one quotient bit per stage ----------------------------
        remainder, quotient = Const(1 << IBERT_MAX_BIT, IBERT_MAX_BIT + 1), Const(0, qbits)
        valid, divisor_sum, any_, len_ = s8["valid"], s8["sum"], s8["any"], s8["len"]
        for bit in reversed(range(qbits)):
            shifted = divisor_sum << bit
            fits = remainder >= shifted
            remainder = reg(Mux(fits, remainder - shifted, remainder)[:IBERT_MAX_BIT + 1],
                            f"div{bit}_rem")
            quotient = reg(quotient | (fits << bit), f"div{bit}_quotient")
            valid, divisor_sum, any_, len_ = (reg(v, f"div{bit}_{n}") for v, n in (
                (valid, "valid"), (divisor_sum, "sum"), (any_, "any"), (len_, "len")))
        normalised = data.StructLayout({"factor": unsigned(qbits), "any": 1,
                                        "len": range(beats + 1)})
        m.submodules.normalised = norm_fifo = fifo.SyncFIFOBuffered(
            width=normalised.size, depth=depth + slack)
        pushed = data.View(normalised, norm_fifo.w_data)
        m.d.comb += [norm_fifo.w_en.eq(valid), pushed.factor.eq(quotient), pushed.any.eq(any_),
                     pushed.len.eq(len_)]

        # --- output pass (stalls as a whole) -----------------------------------------------------
        ce = Signal()
        m.d.comb += ce.eq(~self.o.valid | self.o.ready)
        has_factor, vector, pop_factor = registered_head(m, norm_fifo, normalised, "normalised")
        d_count = Signal(range(beats + 1))
        d_final = d_count + 1 == vector.len
        m.d.comb += [d_issue.eq(ce & has_factor), pop_factor.eq(d_issue & d_final),
                     er.addr.eq(e_rptr), er.en.eq(ce)]
        with m.If(d_issue):
            m.d.sync += [e_rptr.eq(e_rptr + 1), d_count.eq(Mux(d_final, 0, d_count + 1))]
        d1 = {"valid": reg(d_issue, "d1_valid", ce), "last": reg(d_issue & d_final, "d1_last", ce),
              "factor": reg(vector.factor, "d1_factor", ce), "any": reg(vector.any, "d1_any", ce)}
        d1b_exps = [reg(er.data.e16[k], f"d1b_e16_{k}", ce) for k in range(p.lanes)]
        d1b = {n: reg(v, f"d1b_{n}", ce) for n, v in {**d1, "keep": er.data.keep}.items()}
        d2_prod = [reg(e * d1b["factor"], f"d2_prod{k}", ce) for k, e in enumerate(d1b_exps)]
        d2 = {n: reg(v, f"d2_{n}", ce) for n, v in d1b.items()}
        shift = IBERT_MAX_BIT - p.out_frac
        outputs = []
        for k, prod in enumerate(d2_prod):
            scaled = prod >> shift
            saturated = Mux(scaled > p.out_format.max_code, p.out_format.max_code, scaled)
            outputs.append(reg(Mux(d2["any"], saturated, 0)[:p.out_width], f"d3_y{k}", ce))
        m.d.comb += [self.o.valid.eq(reg(d2["valid"], "d3_valid", ce)),
                     self.o.p.last.eq(reg(d2["last"], "d3_last", ce)),
                     self.o.p.keep.eq(reg(d2["keep"], "d3_keep", ce))]
        for k, y in enumerate(outputs):
            m.d.comb += self.o.p.data[k].eq(y)
        return m
