"""The LUT tensor core (and its multiplier-array baseline) as Amaranth components.

Ref: Mo et al., "LUT Tensor Core: A Software-Hardware Co-Design for LUT-Based Low-Bit LLM
Inference", ISCA'25, arXiv 2408.06003; T-MAC ``sv_lut_array/rtl/fp_lut_array_b_cycle_stage1.sv``
(seeds.md section 2.3). Stream formats: :mod:`.prepare`.

Structure of :class:`LutTc` (one tile step per cycle):

* table precompute: each ``a`` beat (g activations of each of the m rows) becomes m tables of
  ``T[idx] = sum_k (2 bit_k(idx) - 1) a_k`` (2**(g-1) entries when symmetrised, built
  incrementally: one adder per entry) in a table register. The register is refilled in the same
  cycle as its last use, so precompute never stalls the array (the ``a`` beat waiting in its
  stream is the second buffer).
* lookup array of m x n lanes: per step, lane (r, n) indexes row r's table with column n's
  pattern (one pattern per plane when bit-parallel), negates by the sign bit and accumulates.
  The bit-plane shift is applied once per row to the shared table, not in every lane.
* tile end: the accumulators move to an output buffer (the next tile starts at once) which
  drains one row of n results per beat through the zero-point correction
  ``(acc + c * rowsum) / 2``, c = 2**B - 1 - 2z, whose multiple of the row sum is itself looked
  up from the odd multiples (2j+1) * rowsum shared by all columns. Ternary weights come as two
  thermometer planes of weight one (see :mod:`.prepare`): the drain only halves, no row sums.
* ``pair_tables``: the bit-plane lookups two weights at a time, in 2-entry half tables
  ``[a0 + a1, a1 - a0]`` per pair of activations: a 2:1 select with its sign, one LUT4 a bit.
* ``ternary_pairs``: instead of bit-planes, per pair of activations a 4-entry table
  ``[a0, a1, a0 + a1, a0 - a1]`` and per lane and pair one 4:1 lookup, gated by a zero flag
  and negated by a sign flag (all nine ternary pairs); the accumulators hold A @ w itself.
"""

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..fixedpoint import Fixed
from ..hw import index_range, saturate
from ..streams import BlockSpec, Function, Latency, Note, Stream, Tlast, Var, fixed_format
from .params import LutTcParams, MultArrayParams

__all__ = ["LutTc", "MultArray", "lut_tc_core"]

#: Signed width of a dequantised weight: +-1 (binary), -1..1 (ternary), -3..3, -15..15.
WEIGHT_WIDTH = {"binary": 2, "ternary": 2, "int2": 3, "int4": 5}


def mux_tree(entries, index):
    """``entries[index]`` as a tree of 2:1 multiplexers on the index bits, LSB first.

    Measured with synth_ecp5 on an 8-entry, 12-bit table: 72 LUT4 as a tree against 103 for the
    same lookup written as ``Array(entries)[index]`` (a priority multiplexer).
    """
    level = list(entries)
    bit = 0
    while len(level) > 1:
        level = [Mux(index[bit], level[i + 1], level[i]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
        bit += 1
    return level[0]


def ones_complement(value, negate):
    """``value`` with every bit inverted when ``negate`` (−value − 1): a negation is this plus
    a carry-in of 1 into the adder that takes it."""
    return (value.as_unsigned() ^ negate.replicate(value.shape().width)).as_signed()


def add_or_subtract(total, value, negate):
    """``total - value`` if ``negate`` else ``total + value`` with one adder: the inverted
    operand plus the carry-in (measured: 103 LUT4 per lane against 125 for a Mux of an adder
    and a subtractor)."""
    return total + ones_complement(value, negate) + negate


def corrected(summed, extra):
    """A lane's step ``acc -> summed(acc)``, plus the zero-point group correction ``extra``
    (``(value, negate)``) where the lane has one."""
    if extra is None:
        return summed

    def step_value(acc):
        return add_or_subtract(summed(acc), *extra)
    return step_value


def pair_select(m, entries, field, name):
    """One pair lookup of ``ternary_pairs`` as the one's complement (the carry-in is the caller's):
    ``~0`` or ``0`` with the zero flag, else ``entries[j]`` complemented by the sign.

    Three LUT4 a bit, in two kept levels: ``(j0 ? e1 : e0) & ~zero`` and its pair for e2, e3
    (four inputs each), then ``(j1 ? hi : lo) ^ sign`` (four inputs). Left to abc as one
    function of eight inputs, synth_ecp5 maps much of it into LUT6 (four LUT4 each, with
    PFUMX/L6MUX21): measured 2469 LUT4 on ECP5 for the M2 x N8 pairs core, 1509 with these
    levels kept (the iCE40 count, without wide LUTs, moved less).
    """
    j0, j1, sign, zero = field[0], field[1], field[2], field[3]
    width = entries[0].shape().width
    level = []
    for half in range(2):
        low = Signal(signed(width), name=f"{name}_sel{half}", attrs={"keep": 1})
        m.d.comb += low.eq(Mux(j0, entries[2 * half + 1], entries[2 * half])
                           & ~zero.replicate(width).as_signed())
        level.append(low)
    picked = Signal(signed(width), name=f"{name}_pick", attrs={"keep": 1})
    m.d.comb += picked.eq(ones_complement(Mux(j1, level[1], level[0]), sign))
    return picked


def plane_sum(m, terms, name, complemented=False):
    """``f(acc) = acc + sum_b (-1)**sign_b * value_b`` for the lookups ``terms``
    ``[(value, sign)]`` (sign None: no negation, the full-table design; ``complemented``: each
    value is already its one's complement where its sign is set, only the carry-ins remain).

    A negation is the one's complement plus a carry-in: every plane's complement is taken on
    the multiplexer's output (it folds into the tree's last LUT), the planes are added in a
    chain of two-operand adders (kept apart, one named signal each) that each take the previous
    plane's carry-in, and the accumulator adder takes the last one. Written as one sum of all
    planes and carry-ins, yosys merges it into a multi-operand add that it builds as a LUT
    compressor tree instead of carry chains (measured on ECP5 with 8 two-plane lanes, g = 4:
    2943 LUT4 against 1538 with two carry chains); a negation of the planes' sum after its adder
    (relative signs) costs a LUT a bit that cannot fold anywhere.
    """
    if terms[0][1] is None:
        inner = sum((value for value, _ in terms[1:]), terms[0][0])
        return lambda acc: acc + inner

    def complement(value, sign):
        return value if complemented else ones_complement(value, sign)

    inner, carry = complement(*terms[0]), terms[0][1]
    for b, (value, sign) in enumerate(terms[1:], 1):
        partial = complement(value, sign)
        width = max(inner.shape().width, partial.shape().width) + 1
        total = Signal(signed(width), name=f"{name}_planes{b}", attrs={"keep": 1})
        m.d.comb += total.eq(inner + partial + carry)
        inner, carry = total, sign
    return lambda acc: acc + inner + carry


def odd_multiples(m, value, bits, width, prefix):
    """Signals ``(2j+1) * value`` for j < 2**(bits-1) (named ``{prefix}rowsum_x{2j+1}``)."""
    half = 1 << (bits - 1)
    width = width + bits
    twice = Signal(signed(width), name=f"{prefix}rowsum_x2")
    m.d.comb += twice.eq(value << 1)
    multiples = [Signal(signed(width), name=f"{prefix}rowsum_x{2 * j + 1}") for j in range(half)]
    m.d.comb += multiples[0].eq(value)
    if half > 1:
        m.d.comb += multiples[1].eq(multiples[0] + twice)
    # INT4: 5S .. 15S from shifts with at most two adders in series (no multiplier, and no
    # chain of seven adders on the path).
    if half > 2:
        s = value
        m.d.comb += [multiples[2].eq(s + (s << 2)), multiples[3].eq((s << 3) - s),
                     multiples[4].eq(s + (s << 3)), multiples[5].eq(multiples[1] + (s << 3)),
                     multiples[6].eq(multiples[2] + (s << 3)), multiples[7].eq((s << 4) - s)]
    return multiples


def zero_point_select(z, bits):
    """``(negate, j)`` of a zero-point code: ``2**B - 1 - 2z = (-1)**negate * (2j + 1)``."""
    negate = z[bits - 1]
    j = z[:bits - 1] ^ Mux(negate, 0, (1 << (bits - 1)) - 1)
    return negate, j


def lut_tc_core(params):
    """The component for ``params`` (catalog hook)."""
    return LutTc(params)


class _TileArray(wiring.Component):
    """Streams, tile control, output buffer and drain shared by both arrays.

    Subclasses implement :meth:`_datapath` (tables or multipliers, the lanes' next accumulator
    values) and :meth:`_lane_output` (the drain's correction of one lane).

    Members
    -------
    a : In(stream)
        One beat per K-group: ``data`` (m * g signed activations, row-major), ``last`` at the
        tile's last group (K end).
    w : In(stream)
        One beat per tile step: ``data`` (n weight words), ``last`` at the tile's last step.
    z : In(stream), int2 and int4 only
        One beat per tile: ``data`` (n zero-point codes).
    c : In(stream), ``acc_in`` only
        One beat per output row: ``data`` (n signed accumulator inputs).
    s : In(stream), ``requant`` only
        One beat per tile: ``data`` (n packed scale and bias pairs).
    o : Out(stream)
        m beats per tile: ``data`` (n signed results of one row), ``last`` at row m - 1.
    """

    def __init__(self, params):
        self._params = p = params
        members = {
            "a": In(stream.Signature(data.StructLayout({
                "data": data.ArrayLayout(signed(p.act_width), p.m * p.g), "last": 1}))),
            "w": In(stream.Signature(data.StructLayout({
                "data": data.ArrayLayout(unsigned(self._w_width), p.n), "last": 1}))),
        }
        if p.has_zero_point:
            members["z"] = In(stream.Signature(data.StructLayout({
                "data": data.ArrayLayout(unsigned(p.bits), p.n)})))
        if p.acc_in:
            members["c"] = In(stream.Signature(data.StructLayout({
                "data": data.ArrayLayout(signed(p.out_width), p.n)})))
        if p.requant:
            members["s"] = In(stream.Signature(data.StructLayout({
                "data": data.ArrayLayout(unsigned(p.scale_bits + p.bias_bits), p.n)})))
        members["o"] = Out(stream.Signature(data.StructLayout({
            "data": data.ArrayLayout(signed(p.result_width), p.n), "last": 1})))
        super().__init__(members)

    @property
    def params(self):
        return self._params

    @property
    def latency(self):
        """Cycles from a tile's last ``w`` transfer to its first output beat (no backpressure)."""
        return 2

    @property
    def initiation_interval(self):
        """Tile steps per cycle: one, while a tile has at least m steps."""
        return 1

    @property
    def block_spec(self):
        """The streams beyond their layouts (see :mod:`generators.streams`)."""
        p = self._params
        steps = f"k_groups * {p.steps_per_group}" if p.steps_per_group > 1 else "k_groups"
        weight = {"binary": "w = 2q - 1 (code q in {0, 1})",
                  "ternary": "w = q - 1 (code q in {0, 1, 2})",
                  "int2": "w = q - z (code q, the column's zero point z)",
                  "int4": "w = q - z (code q, the column's zero point z)"}[p.weight_format]
        result = "A @ w" + (" + C" if p.acc_in else "")
        if p.requant:
            rounded = (f"(r * scale + 2**{p.shift - 1}) >> {p.shift}" if p.shift else
                       "r * scale")
            result = f"clamp(({rounded}) + bias, -128, 127) with r = {result}"
        streams = {
            "a": Stream(f"one beat per K-group of {p.g}: element r*{p.g}+j is A[r, {p.g}*G+j]",
                        "k_groups", Tlast("delimits", "last K-group of a tile (K end; K is "
                                          f"zero-padded to a multiple of {p.g})", "k_groups"),
                        {"data[]": Note(meaning="activation")}),
            "w": Stream(self._w_meaning, steps,
                        Tlast("delimits", "last tile step", steps),
                        {"data[]": Note(meaning="column n's weight pattern")}),
            "o": Stream(f"one beat per row r of the tile: element n is ({result})[r, n]", str(p.m),
                        Tlast("delimits", f"row {p.m - 1}, the tile's last", str(p.m)),
                        {"data[]": Note(meaning="result of column n")}),
        }
        if p.acc_in:
            streams["c"] = Stream(f"one beat per output row r: element n is C[r, n], added to "
                                  f"the result (saturating to {p.out_width} bits)", str(p.m),
                                  Tlast("none", "no tlast: one beat per output row"),
                                  {"data[]": Note(meaning="C[r, n]")})
        if p.requant:
            streams["s"] = Stream(f"one beat per tile: element n is column n's scale (signed, "
                                  f"bits 0..{p.scale_bits - 1}) and bias (signed, the next "
                                  f"{p.bias_bits} bits)", "1",
                                  Tlast("none", "no tlast: one beat per tile"),
                                  {"data[]": Note(meaning="scale | bias << scale_bits")})
        if p.has_zero_point:
            if p.zp_group:
                beats, what = f"cdiv(k_groups, {p.groups_per_zp})", \
                    f"one beat per group of {p.zp_group} rows of K"
            else:
                beats, what = "1", "one beat per tile"
            streams["z"] = Stream(f"{what}: zero-point code of column n", beats,
                                  Tlast("none", f"no tlast: {what}"),
                                  {"data[]": Note(meaning="zero point z of column n")})
        return BlockSpec(
            job=f"one tile: O[{p.m} x {p.n}] over K = {p.g} * k_groups (A zero-padded)",
            variables=(Var("k_groups", f"K-groups of {p.g} in the tile's K", min=1,
                           max=p.max_groups),),
            streams=streams,
            latency=Latency(str(self.latency), (("w", f"{steps} - 1", "the tile's last w beat"),),
                            ("o", "0", "the tile's first output row")),
            function=Function(
                f"O = {result}: w is the decoded weight, {weight}; exact integers",
                (("O", "output element", fixed_format(p.result_width, 0, True)),
                 ("A", "activation", fixed_format(p.act_width, 0, True)))),
            initiation_meaning="cycles per tile step (w beat) while a tile has at least m steps")

    def elaborate(self, platform):
        p = self._params
        m = Module()
        steps = p.steps_per_group

        # --- tile-step control ---------------------------------------------------------------
        tab_valid = Signal()        # the group register holds a group not yet fully used
        tab_last = Signal()         # ... and it is the tile's last group
        step = Signal(index_range(steps))
        last_step = Signal()
        m.d.comb += last_step.eq(step == steps - 1)
        tile_end = Signal()
        m.d.comb += tile_end.eq(tab_last & last_step)

        out_busy = Signal()         # the output buffer holds a tile being drained
        drain_done = Signal()       # its last row leaves this cycle
        # With per-group zero points: the step that ends a zero-point group (the last step of
        # its last K-group, or of the tile) takes the next z beat.
        self._zp_end = Signal()
        if p.zp_group:
            zp_count = Signal(index_range(p.groups_per_zp))
            m.d.comb += self._zp_end.eq(
                tab_valid & last_step & (tab_last | (zp_count == p.groups_per_zp - 1)))
        z_ok = self._z_ready_for_step()
        fire = Signal()
        m.d.comb += fire.eq(tab_valid & self.w.valid & z_ok &
                            ~(tile_end & out_busy & ~drain_done))
        use_done = self._use_done = Signal()
        m.d.comb += [use_done.eq(fire & last_step), self.w.ready.eq(fire),
                     self.a.ready.eq(~tab_valid | use_done)]
        with m.If(fire):
            m.d.sync += step.eq(Mux(last_step, 0, step + 1))
        if p.zp_group:
            with m.If(fire & last_step):
                m.d.sync += zp_count.eq(Mux(self._zp_end, 0, zp_count + 1))

        load = Signal()
        m.d.comb += load.eq(self.a.valid & self.a.ready)
        with m.If(load):
            m.d.sync += [tab_valid.eq(1), tab_last.eq(self.a.p.last)]
        with m.Elif(use_done):
            m.d.sync += tab_valid.eq(0)

        # --- datapath: group register, lanes -------------------------------------------------
        nxt, gsum = self._datapath(m, load, step)   # nxt[r][n]: accumulator after this step
        acc = [[Signal(signed(self._acc_width), name=f"acc_{r}_{n}") for n in range(p.n)]
               for r in range(p.m)]
        buf = [[Signal(signed(self._acc_width), name=f"buf_{r}_{n}") for n in range(p.n)]
               for r in range(p.m)]
        # The tile's last step clears the accumulators while the output buffer takes their sum:
        # a synchronous reset of the accumulator's flip-flops, where gating the accumulator to
        # 0 on a tile's first step cost an AND in front of every adder bit (synthesis does not
        # fold it into the carry cells; measured 18 LUT4 a lane on ECP5).
        for r in range(p.m):
            for n in range(p.n):
                # One named signal per lane: the sum feeds both the accumulator and the buffer.
                total = Signal(signed(self._acc_width), name=f"next_{r}_{n}")
                m.d.comb += total.eq(nxt[r][n](acc[r][n]))
                # Reset over enable (the clear implies the enable), the form ECP5's flip-flops
                # have (LSR over CE); as a reset inside the enable synth_ecp5 adds a LUT a bit.
                with m.If(fire & tile_end):
                    m.d.sync += [acc[r][n].eq(0), buf[r][n].eq(total)]
                with m.Elif(fire):
                    m.d.sync += acc[r][n].eq(total)

        # Row sums (for the zero-point correction), accumulated as groups are used up.
        rowsum = [Signal(signed(p.sum_width), name=f"rowsum_{r}") for r in range(p.m)]
        rowsum_buf = [Signal(signed(p.sum_width), name=f"rowsum_buf_{r}") for r in range(p.m)]
        if gsum is not None:
            with m.If(use_done):
                for r in range(p.m):
                    m.d.sync += rowsum[r].eq(rowsum[r] + gsum[r])
                    with m.If(tile_end):
                        m.d.sync += [rowsum[r].eq(0), rowsum_buf[r].eq(rowsum[r] + gsum[r])]

        with m.If(fire & tile_end):
            m.d.sync += out_busy.eq(1)
        with m.Elif(drain_done):
            m.d.sync += out_busy.eq(0)

        # --- drain: one row per beat into the output register ---------------------------------
        row = Signal(index_range(p.m))
        last_row = Signal()
        m.d.comb += last_row.eq(row == p.m - 1)
        z_valid = self._z_ready_for_drain()
        # The epilogue's inputs, if any, must be there too.
        if p.acc_in:
            z_valid = z_valid & self.c.valid
        if p.requant:
            z_valid = z_valid & self.s.valid
        advance = Signal()
        m.d.comb += [advance.eq(out_busy & z_valid & (~self.o.valid | self.o.ready)),
                     drain_done.eq(advance & last_row)]
        if p.has_zero_point:
            self._drive_z_ready(m, drain_done, fire, tile_end)
        row_acc = [Array(buf[r][n] for r in range(p.m))[row] for n in range(p.n)]
        row_sum = Array(rowsum_buf)[row]
        results = self._epilogue(m, self._drain(m, row_acc, row_sum), advance, drain_done)
        with m.If(advance):
            m.d.sync += [self.o.valid.eq(1), self.o.p.last.eq(last_row),
                         row.eq(Mux(last_row, 0, row + 1))]
            m.d.sync += [self.o.p.data[n].eq(results[n]) for n in range(p.n)]
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        return m


    def _epilogue(self, m, results, advance, drain_done):
        """The accumulator input (added, saturating) and the requantisation stage."""
        p = self._params
        if p.acc_in:
            m.d.comb += self.c.ready.eq(advance)
            results = [saturate(r + self.c.p.data[n], Fixed(p.out_width, 0))
                       for n, r in enumerate(results)]
        if p.requant:
            m.d.comb += self.s.ready.eq(drain_done)
            out = []
            for n, r in enumerate(results):
                element = self.s.p.data[n]
                scale = element[:p.scale_bits].as_signed()
                bias = element[p.scale_bits:].as_signed()
                y = r * scale
                if p.shift:
                    y = (y + (1 << (p.shift - 1))) >> p.shift
                out.append(saturate(y + bias, Fixed(8, 0)))
            results = out
        return results


class LutTc(_TileArray):
    """LUT tensor core: ``O = A @ (q - z)`` for one m x n tile per K-sweep, by table lookup.

    Parameters
    ----------
    params : LutTcParams

    Members: see :class:`_TileArray`. Ordering: tiles leave in the order their ``w`` beats came;
    backpressure on ``o`` stalls the array only when a tile ends while the previous one is
    still draining. One tile step per cycle, B steps per K-group when bit-serial.
    """

    def __init__(self, params: LutTcParams):
        if not isinstance(params, LutTcParams):
            raise TypeError(f"params must be a LutTcParams, not {params!r}")
        super().__init__(params)

    @property
    def _w_width(self):
        return self._params.pattern_width

    @property
    def _acc_width(self):
        return self._params.acc_width

    @property
    def _w_meaning(self):
        p = self._params
        if p.ternary_pairs:
            return (f"one beat per K-group: element n holds {p.g // 2} fields of 4 bits, pair i "
                    f"(weights G*{p.g}+2i and +2i+1) at bit 4i: index j (bits 0-1) into the "
                    f"pair's table [a0, a1, a0 + a1, a0 - a1], negate (bit 2), zero (bit 3)")
        order = ("one beat per (K-group, bit-plane), plane 0 first" if p.bit_serial else
                 f"one beat per K-group, plane b in bits [b*{p.g}, (b+1)*{p.g})")
        if p.pair_tables:
            flip = (", each 2-bit field (weights 2i, 2i+1) indexes its pair's table, "
                    "pre-flipped (bit 2i+1 set: bit 2i inverted)" if p.preflip else
                    ", each 2-bit field (weights 2i, 2i+1) indexes its pair's table")
        else:
            flip = ", pre-flipped (sign bit g-1 set: other bits inverted)" if p.preflip else ""
        return f"{order}: element n is column n's table index (bit k = weight G*g+k){flip}"

    def _z_ready_for_step(self):
        # Per-tile zero points are needed only by the drain; per-group ones as a group ends.
        return (~self._zp_end | self.z.valid) if self._params.zp_group else Const(1)

    def _z_ready_for_drain(self):
        p = self._params
        return self.z.valid if p.has_zero_point and not p.zp_group else Const(1)

    def _drive_z_ready(self, m, drain_done, fire, tile_end):
        m.d.comb += self.z.ready.eq((fire & self._zp_end) if self._params.zp_group
                                    else drain_done)

    def _datapath(self, m, load, step):
        p = self._params
        if p.ternary_pairs:
            return self._pair_datapath(m, load), None
        if p.adder_tree:
            return self._adder_datapath(m, load)
        g, entries = p.g, p.table_entries
        tab = [[Signal(signed(p.entry_width), name=f"tab_{r}_{j}") for j in range(entries)]
               for r in range(p.m)]
        with m.If(load):
            for r in range(p.m):
                x = [self.a.p.data[r * g + k] for k in range(g)]
                if p.pair_tables:
                    # The half with the sign bit set, U = -T: [a0 + a1, a1 - a0] fits
                    # act_width + 1 bits (T[0] = -a0 - a1 would need one more).
                    built = []
                    for i in range(0, g, 2):
                        built += [x[i] + x[i + 1], x[i + 1] - x[i]]
                else:
                    # T[0] = -sum a; T[idx] = T[idx - top] + 2 a_top: one adder per entry.
                    built = [-sum(x[1:], x[0])]
                    for idx in range(1, entries):
                        top = idx.bit_length() - 1
                        built.append(built[idx - (1 << top)] + (x[top] << 1))
                m.d.sync += [tab[r][j].eq(built[j]) for j in range(entries)]

        def shifted(r, b):
            return [t << b for t in tab[r]]

        if p.bit_serial and max(p.plane_shifts) > 0:
            # One shared shifter per table entry: the plane of this step is the same in all lanes
            # (plane b has weight 2**b; ternary's thermometer planes need none).
            width = p.entry_width + p.bits - 1
            tables = [[Signal(signed(width), name=f"tsh_{r}_{j}") for j in range(entries)]
                      for r in range(p.m)]
            for r in range(p.m):
                m.d.comb += [tables[r][j].eq(tab[r][j] << step) for j in range(entries)]
        else:
            tables = [shifted(r, 0) for r in range(p.m)]

        planes = [0] if p.bit_serial else list(range(p.bits))
        low = (1 << (g - 1)) - 1

        def lookup(r, pattern, b):
            """[(value, negate)] of one plane's lookups (one, or one per pair of weights with
            ``pair_tables``); the values are shifted by constant b."""
            source = tables[r] if p.bit_serial else shifted(r, p.plane_shifts[b])
            if not p.symmetrize:
                return [(mux_tree(source, pattern), None)]
            if p.pair_tables:
                out = []
                for i in range(0, g, 2):
                    sign, j = pattern[i + 1], pattern[i]
                    if not p.preflip:
                        j = j ^ sign
                    # U = -T is stored: negate where the sign bit is clear.
                    out.append((Mux(j, source[i + 1], source[i]), ~sign))
                return out
            sign = pattern[g - 1]
            j = pattern[:g - 1]
            if not p.preflip:
                j = j ^ Mux(sign, low, 0)
            return [(mux_tree(source, j), sign)]

        # Only int2 and int4 need the row sums (their zero-point correction): T[0] = -sum, or
        # the pair tables' first entries.
        gsum = None
        if p.has_zero_point:
            gsum = [sum(tab[r][2:g:2], tab[r][0]) if p.pair_tables else -tab[r][0]
                    for r in range(p.m)]
        corrections = self._group_corrections(m, load, gsum) if p.zp_group else None
        nxt = []
        for r in range(p.m):
            row = []
            for n in range(p.n):
                word = self.w.p.data[n]
                terms = [term for b in planes for term in lookup(r, word[b * g:(b + 1) * g], b)]
                extra = corrections[r][n] if corrections is not None else None
                row.append(corrected(plane_sum(m, terms, f"lane_{r}_{n}"), extra))
            nxt.append(row)
        return nxt, gsum

    def _pair_datapath(self, m, load):
        """``ternary_pairs``: per pair of activations the table ``[a0, a1, a0 + a1, a0 - a1]``
        (two adders), per lane and pair a 4:1 multiplexer gated by the zero flag, the sign as
        the negation (see :func:`plane_sum`)."""
        p = self._params
        pairs = p.g // 2
        tab = [[Signal(signed(p.entry_width), name=f"tab_{r}_{j}") for j in range(4 * pairs)]
               for r in range(p.m)]
        with m.If(load):
            for r in range(p.m):
                for i in range(pairs):
                    a0, a1 = (self.a.p.data[r * p.g + 2 * i + k] for k in range(2))
                    m.d.sync += [tab[r][4 * i].eq(a0), tab[r][4 * i + 1].eq(a1),
                                 tab[r][4 * i + 2].eq(a0 + a1), tab[r][4 * i + 3].eq(a0 - a1)]
        nxt = []
        for r in range(p.m):
            row = []
            for n in range(p.n):
                word = self.w.p.data[n]
                terms = []
                for i in range(pairs):
                    field = word[4 * i:4 * i + 4]
                    value = pair_select(m, tab[r][4 * i:4 * i + 4], field, f"lane_{r}_{n}_p{i}")
                    terms.append((value, field[2]))
                row.append(plane_sum(m, terms, f"lane_{r}_{n}", complemented=True))
            nxt.append(row)
        return nxt

    def _adder_datapath(self, m, load):
        """``adder_tree``: no tables. Per activation its odd multiples (2j+1) a (a alone for
        binary and ternary; built once per row, shared by the n columns) in the group register;
        per lane and weight one selected multiple (0 by the zero flag for ternary), negated by
        the sign bit as a one's complement plus a carry-in, and the g terms summed by
        :func:`plane_sum`. The row sums for the zero-point correction are added once per row."""
        p = self._params
        g, bits = p.g, p.bits
        mult = [[[Signal(signed(p.entry_width), name=f"mul_{r}_{k}_x{2 * j + 1}")
                  for j in range(p.multiples)] for k in range(g)] for r in range(p.m)]
        gsum = None
        if p.has_zero_point:
            gsum = [Signal(signed(p.sum_width), name=f"gsum_{r}") for r in range(p.m)]
        with m.If(load):
            for r in range(p.m):
                x = [self.a.p.data[r * g + k] for k in range(g)]
                for k in range(g):
                    built = odd_multiples(m, x[k], bits, p.act_width, f"at_{r}_{k}_") \
                        if p.multiples > 1 else [x[k]]
                    m.d.sync += [mult[r][k][j].eq(built[j]) for j in range(p.multiples)]
                if gsum is not None:
                    m.d.sync += gsum[r].eq(sum(x[1:], x[0]))
        corrections = self._group_corrections(m, load, gsum) if p.zp_group else None
        nxt = []
        for r in range(p.m):
            row = []
            for n in range(p.n):
                word = self.w.p.data[n]
                terms = []
                for k in range(g):
                    field = word[k * bits:(k + 1) * bits]
                    if p.weight_format == "binary":
                        terms.append((mult[r][k][0], field[0]))
                    elif p.weight_format == "ternary":
                        terms.append((Mux(field[1], 0, mult[r][k][0]), field[0]))
                    else:
                        terms.append((mux_tree(mult[r][k], field[:bits - 1]), field[bits - 1]))
                extra = corrections[r][n] if corrections is not None else None
                row.append(corrected(plane_sum(m, terms, f"lane_{r}_{n}"), extra))
            nxt.append(row)
        return nxt, gsum

    def _group_corrections(self, m, load, gsum):
        """Per lane ``(value, negate)`` added as a zero-point group ends: ``c * rowsum`` of the
        group, ``c = 2**B - 1 - 2z`` from the z beat (0 on other steps)."""
        p = self._params
        corrections = []
        for r in range(p.m):
            # The group's row sum so far, plus the K-group in the table register.
            partial = Signal(signed(p.sum_width), name=f"zp_rowsum_{r}")
            total = Signal(signed(p.sum_width), name=f"zp_rowsum_end_{r}")
            m.d.comb += total.eq(partial + gsum[r])
            with m.If(self._use_done):
                m.d.sync += partial.eq(Mux(self._zp_end, 0, total))
            multiples = odd_multiples(m, total, p.bits, p.sum_width, f"zp_{r}_")
            row = []
            for n in range(p.n):
                negate, j = zero_point_select(self.z.p.data[n], p.bits)
                value = Mux(self._zp_end, mux_tree(multiples, j), 0)
                row.append((value, negate))
            corrections.append(row)
        return corrections

    def _drain(self, m, row_acc, row_sum):
        p = self._params
        if p.weight_format == "binary" or p.ternary_pairs or (
                p.adder_tree and p.weight_format == "ternary"):
            return row_acc
        if p.weight_format == "ternary":
            return [acc >> 1 for acc in row_acc]    # thermometer planes: acc = 2 A @ w
        if p.zp_group:
            return [acc >> 1 for acc in row_acc]    # the corrections joined the accumulators
        # Odd multiples (2j+1) * rowsum, shared by the n columns; a column picks one by its
        # zero-point code and adds or subtracts it.
        multiples = odd_multiples(m, row_sum, p.bits, p.sum_width, "")
        results = []
        for n in range(p.n):
            negate, j = zero_point_select(self.z.p.data[n], p.bits)
            total = add_or_subtract(row_acc[n], mux_tree(multiples, j), negate)
            results.append(total >> 1)
        return results


class MultArray(_TileArray):
    """Multiplier-array baseline: per lane g multipliers (a_k * (q_k - z)) and an accumulator.

    The same streams and tile control as :class:`LutTc`; the ``w`` beat carries codes (see
    :func:`.prepare.pack_mult_tile`), the zero points of a tile are read at every step and the
    drain passes results through unchanged. One K-group per cycle.
    """

    def __init__(self, params: MultArrayParams):
        if not isinstance(params, MultArrayParams):
            raise TypeError(f"params must be a MultArrayParams, not {params!r}")
        super().__init__(params)

    @property
    def _w_width(self):
        return self._params.g * self._params.bits

    @property
    def _acc_width(self):
        return self._params.out_width

    _w_meaning = "one beat per K-group: element n holds the g codes of column n, code k in " \
                 "bits [k*B, (k+1)*B)"

    def _z_ready_for_step(self):
        return self.z.valid if self._params.has_zero_point else Const(1)

    def _z_ready_for_drain(self):
        return Const(1)     # the zero points were used by the lanes

    def _drive_z_ready(self, m, drain_done, fire, tile_end):
        m.d.comb += self.z.ready.eq(fire & (self._zp_end if self._params.zp_group else tile_end))

    def _datapath(self, m, load, step):
        p = self._params
        g, bits = p.g, p.bits
        acts = [Signal(signed(p.act_width), name=f"act_{i}") for i in range(p.m * g)]
        with m.If(load):
            m.d.sync += [acts[i].eq(self.a.p.data[i]) for i in range(p.m * g)]
        nxt = []
        weights = []
        for n in range(p.n):
            word = self.w.p.data[n]
            column = []
            for k in range(g):
                q = word[k * bits:(k + 1) * bits]
                if p.weight_format == "binary":
                    w = (q.as_unsigned() << 1) - 1               # 2q - 1, in {-1, +1}
                elif p.weight_format == "ternary":
                    w = q.as_unsigned() - 1
                else:
                    w = q.as_unsigned() - self.z.p.data[n]
                # Exactly as wide as the format's weights (synthesis cannot narrow q - z).
                wk = Signal(signed(WEIGHT_WIDTH[p.weight_format]), name=f"w_{n}_{k}")
                m.d.comb += wk.eq(w)
                column.append(wk)
            weights.append(column)
        for r in range(p.m):
            row = []
            for n in range(p.n):
                products = [acts[r * g + k] * weights[n][k] for k in range(g)]

                def step_value(acc, products=products):
                    return acc + sum(products[1:], products[0])
                row.append(step_value)
            nxt.append(row)
        return nxt, None

    def _drain(self, m, row_acc, row_sum):
        return row_acc
