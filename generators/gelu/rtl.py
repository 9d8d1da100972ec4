"""GELU approximator as an Amaranth component (the arithmetic of :mod:`.model`, pipelined).

Ref: Edge-MoE (arXiv 2305.18691) ``src/gelu.cpp``; I-BERT (ICML'21) i-GELU. See :mod:`.model`.
"""

from amaranth.hdl import Mux, Signal, signed, unsigned

from ..fixedpoint import Rounding
from ..hw import ElementwisePipeline, memory, rounding_bias, saturate, shift_round
from ..streams import BlockSpec, Function, Latency, Note, Stream, Tlast, Var, fixed_format
from .model import direct_table, igelu_constants, table, table_layout
from .params import GeluParams

__all__ = ["Gelu"]


class Gelu(ElementwisePipeline):
    """Element-wise GELU on ``lanes`` signed fixed-point elements per beat.

    Fully pipelined: one beat per cycle, latency 7 cycles (2 for ``direct_table``), ``last``
    carried through, output in input order; stalls as a whole under backpressure.

    ``direct_table``: (1) synchronous read of the table of every output code, addressed by the
    input's bits (no logic before it), one ROM with two read ports for each pair of lanes (a
    dual-port block RAM); (2) an output register, so the block RAM's slow clock-to-output does
    not meet the next block's logic.

    Table methods, one stage each per lane: (1) |x| and ReLU; (2) segment decode (index, aligned
    position); (3) synchronous read of the table split into even and odd entries, so the two
    interpolation nodes come from two single-port ROMs with no extra table bits; (4) the
    difference of the nodes; (5) one multiply by the position (at most 17 x 18 bits: one DSP);
    (6) interpolate, and pre-round ReLU; (7) subtract, shift and saturate.

    ``i_gelu``, per lane: (1) clip |x|; (2) square; (3) sign and shift the polynomial; (4) multiply
    by x; (5) multiply by the output scale; (6) add the rounding bias; (7) shift and saturate.

    Parameters
    ----------
    params : GeluParams
    """

    LATENCY = 7
    DIRECT_LATENCY = 2

    def __init__(self, params: GeluParams):
        if not isinstance(params, GeluParams):
            raise TypeError(f"params must be a GeluParams, not {params!r}")
        self._params = params
        super().__init__(params.lanes, params.in_format, params.out_format)

    @property
    def params(self):
        return self._params

    @property
    def latency(self):
        return self.DIRECT_LATENCY if self._params.method == "direct_table" else self.LATENCY

    @property
    def block_spec(self):
        """The streams beyond their layouts (see :mod:`generators.streams`)."""
        p = self._params
        tlast = Tlast("delimits", "end of a vector; carried through unchanged with its beat "
                      "(element-wise: any run of beats is a vector)", "beats")
        fin, fout = p.in_format, p.out_format
        return BlockSpec(
            job="one vector of `beats` beats",
            variables=(Var("beats", "beats in the vector", min=1, max=None),),
            streams={
                "i": Stream(f"{p.lanes} elements x per beat, lane 0 in the low bits", "beats",
                            tlast, {"data[]": Note(fin.frac, "x, one element per lane")}),
                "o": Stream(f"{p.lanes} elements y per beat, in input order", "beats", tlast,
                            {"data[]": Note(fout.frac, "y = gelu(x) of the same lane and beat")}),
            },
            latency=Latency(str(self.latency), (("i", "0", "a vector's first beat"),),
                            ("o", "0", "the same beat's result")),
            function=Function(
                f"y = saturate(round_{p.rounding}(gelu(x)))" if p.method == "direct_table" else
                f"y = saturate(round_{p.rounding}(gelu(x) approximated by {p.method!r}))",
                (("x", "input element", fixed_format(fin.width, fin.frac, fin.signed)),
                 ("y", "output element", fixed_format(fout.width, fout.frac, fout.signed)))))

    def lane(self, m, pipe, x):
        if self._params.method == "i_gelu":
            return self._igelu_lane(m, pipe, x)
        if self._params.method == "direct_table":
            return self._direct_lane(m, pipe, x)
        return self._table_lane(m, pipe, x)

    def _direct_lane(self, m, pipe, x):
        p = self._params
        lane = int(pipe.prefix.removeprefix("lane"))
        # Even lanes build the pair's ROM; the odd lane takes its second read port.
        if lane % 2 == 0:
            self._direct_rom = memory(shape=signed(p.out_width), depth=1 << p.in_width,
                                      init=direct_table(p))
            # yosys: block RAM, not LUTs, even where the table is small enough for either.
            self._direct_rom.attrs["rom_style"] = "block"
            m.submodules[f"rom_lanes{lane}"] = self._direct_rom
        port = self._direct_rom.read_port(domain="sync")
        m.d.comb += [port.en.eq(pipe.ce), port.addr.eq(x.as_unsigned())]
        pipe.stage()            # the read port's own register
        return pipe.stage(y=port.data)

    def _table_lane(self, m, pipe, x):
        p = self._params
        layout = table_layout(p)
        tab = table(p)

        u, relu = pipe.stage(u=Mux(x < 0, -x, x).as_unsigned(), relu=Mux(x < 0, 0, x))

        index = Signal(range(len(tab)), name=f"{pipe.prefix}_index")
        # At least one bit: when every step is one input LSB the position is constant 0, and
        # zero-width signals would reach the Verilog as [-1:0] ranges.
        position = Signal(max(layout.position_bits, 1), name=f"{pipe.prefix}_position")
        for start, end, shift, base in reversed(layout.regions):
            with m.If(u < end):
                offset = u - start
                m.d.comb += index.eq(base + (offset >> shift))
                if shift:
                    m.d.comb += position.eq(
                        layout.align(offset[:shift], shift, layout.position_bits))
        index, position, below, relu = pipe.stage(
            index=index, position=position, below=u < layout.cutoff_code, relu=relu)

        # Node k and k + 1 live in different ROMs: even entries in one, odd in the other.
        width = max(max(tab).bit_length(), 1)
        roms = {}
        for parity in (0, 1):
            rom = memory(shape=unsigned(width), depth=(len(tab) + 1 - parity) // 2,
                         init=tab[parity::2])
            m.submodules[f"{pipe.prefix}_rom_{'odd' if parity else 'even'}"] = rom
            roms[parity] = rom.read_port(domain="sync")
            m.d.comb += roms[parity].en.eq(pipe.ce)
        m.d.comb += [roms[0].addr.eq((index + 1) >> 1), roms[1].addr.eq(index >> 1)]
        # The ROMs' output registers belong to this stage, beside these delayed controls.
        odd, position, below, relu = pipe.stage(
            odd=index[0], position=position, below=below, relu=relu)

        lower = Mux(odd, roms[1].data, roms[0].data)
        upper = Mux(odd, roms[0].data, roms[1].data)
        lower, diff, position, below, relu = pipe.stage(
            lower=lower, diff=(upper - lower).as_signed(), position=position,
            below=below, relu=relu)

        product, lower, below, relu = pipe.stage(
            product=position * diff, lower=lower, below=below, relu=relu)

        # The output is split over two stages: interpolate and pre-round, then subtract,
        # shift and saturate. relu + bias - delta rounds exactly as (relu - delta) + bias.
        wide_frac = max(p.in_frac, p.table_frac)
        out_shift = wide_frac - p.out_frac
        delta, relu_biased = pipe.stage(
            delta=Mux(below, ((lower << layout.position_bits) + product) >> layout.position_bits,
                      0),
            relu_biased=shift_round(relu, p.in_frac - wide_frac, Rounding.FLOOR)
            + rounding_bias(out_shift, p.rounding))
        wide = relu_biased - shift_round(delta, p.table_frac - wide_frac, Rounding.FLOOR)
        return pipe.stage(y=saturate(shift_round(wide, out_shift, Rounding.FLOOR), p.out_format))

    def _igelu_lane(self, m, pipe, x):
        p = self._params
        k = igelu_constants(p)

        magnitude = Mux(x < 0, -x, x)
        x1, clipped, negative = pipe.stage(
            x=x, clipped=Mux(magnitude < -k.b_int, magnitude, -k.b_int), negative=x < 0)

        offset = clipped.as_signed() + k.b_int
        x2, square, negative = pipe.stage(x=x1, square=offset * offset, negative=negative)

        poly = square + k.c_int
        signed_poly = Mux(negative, -poly, poly)
        x3, one_plus_erf = pipe.stage(x=x2, one_plus_erf=(signed_poly >> k.y_shift) + k.one_int)

        scaled = pipe.stage(scaled=x3 * one_plus_erf)
        out_shift = k.scale_shift - p.out_frac
        product = pipe.stage(product=scaled * k.scale_mult)
        product = pipe.stage(biased=product + rounding_bias(out_shift, p.rounding))
        return pipe.stage(y=saturate(shift_round(product, out_shift, Rounding.FLOOR), p.out_format))
