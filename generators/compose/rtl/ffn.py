"""The transformer FFN half from catalog blocks: buffer -> LUT-TC -> requantise -> GELU ->
requantise -> buffer -> LUT-TC -> requantise, with the weights in ROMs."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ...fixedpoint import Fixed
from ...gelu import FAMILY as GELU
from ...hw import lanes_stream
from ...lut_tc import FAMILY as LUT_TC
from ...lut_tc.prepare import pack_tile
from ...streams import BlockSpec, Function, Latency, Note, Stream, Tlast, fixed_format
from ..params import FfnParams
from .buffer import ActivationBuffer
from .join import join
from .lanes import Narrow
from .requant import Requantize
from .rom import RomStream

__all__ = ["FfnCore", "ffn_core"]


def ffn_core(params):
    """The component for ``params`` (the layer registry's hook)."""
    return FfnCore(params)


def _tile_beats(lut_params, q, z):
    """``(w beats, z beats)`` of every column tile of codes ``q`` [K x N], tile after tile, as
    the LUT tensor core's ``w`` and ``z`` streams take them (a zero activation tile only fixes
    K; the weight beats do not depend on it)."""
    n, k = lut_params.n, q.shape[0]
    w_beats, z_beats = [], []
    for j in range(0, q.shape[1], n):
        zero = [[0] * k for _ in range(lut_params.m)]
        _a, w, zb = pack_tile(lut_params, zero, q[:, j:j + n], None if z is None else z[j:j + n])
        w_beats += w
        z_beats += zb or []
    return w_beats, z_beats


class FfnCore(wiring.Component):
    """``rows`` tokens of ``d_in`` INT8 features in, ``rows`` x ``d_out`` INT8 results out.

    Parts, in data-flow order (:attr:`parts`): ``in_buffer`` (replays the job's activations for
    each of linear1's column tiles), ``linear1`` (LUT tensor core, weights from ``w1_rom``, zero
    points from ``z1_rom`` for int2, biases from ``b1_rom`` into its accumulator input when
    given), ``narrow1`` (n lanes to GELU's), ``requant1``, ``gelu``, ``requant2``,
    ``hidden_buffer`` (reorders the hidden activations into K-groups and replays them for each
    of linear2's column tiles), ``linear2`` (``w2_rom``, ``z2_rom``, ``b2_rom``), ``narrow2``
    (n lanes to ``out_lanes``), ``requant3``.
    Both buffers hold two jobs, so linear1 works on job j + 1 while linear2 works on job j.

    Members
    -------
    i : In(stream)
        ``in_lanes`` INT8 features a beat; a job's rows in order.
    o : Out(stream)
        ``out_lanes`` INT8 results a beat: per column tile of n, each row, ``n // out_lanes``
        beats; ``last`` on a column tile's final beat.
    """

    def __init__(self, params: FfnParams):
        if not isinstance(params, FfnParams):
            raise TypeError(f"params must be a FfnParams, not {params!r}")
        self._params = p = params
        l1, l2, gp = p.linear1, p.linear2, p.gelu_params
        q1, z1 = p.codes(1)
        q2, z2 = p.codes(2)
        parts = {}
        parts["in_buffer"] = ActivationBuffer(rows=p.rows, k=p.d_in, g=l1.g, in_lanes=p.in_lanes_,
                                              tile_width=p.d_in, repeats=p.tiles1)
        parts["linear1"] = LUT_TC.core(l1)
        parts.update(self._roms("1", parts["linear1"], l1, q1, z1, p.steps1, p.biases[0]))
        acc1 = Fixed(l1.result_width, 0)
        if l1.n != gp.lanes:
            parts["narrow1"] = Narrow(l1.n, gp.lanes, acc1)
        parts["requant1"] = Requantize(gp.lanes, acc1, p.requant1_)
        parts["gelu"] = GELU.core(gp)
        parts["requant2"] = Requantize(gp.lanes, gp.out_format, p.requant2_)
        parts["hidden_buffer"] = ActivationBuffer(rows=p.rows, k=p.hidden, g=l2.g,
                                                  in_lanes=gp.lanes, tile_width=l1.n,
                                                  repeats=p.tiles2, width=l2.act_width)
        parts["linear2"] = LUT_TC.core(l2)
        parts.update(self._roms("2", parts["linear2"], l2, q2, z2, p.steps2, p.biases[1]))
        acc2 = Fixed(l2.result_width, 0)
        if l2.n != p.out_lanes_:
            parts["narrow2"] = Narrow(l2.n, p.out_lanes_, acc2)
        parts["requant3"] = Requantize(p.out_lanes_, acc2, p.requant3_)
        self._parts = parts
        super().__init__({"i": In(lanes_stream(p.in_lanes_, Fixed(8, 0))),
                          "o": Out(lanes_stream(p.out_lanes_, Fixed(8, 0)))})

    @staticmethod
    def _roms(which, core, lut_params, q, z, steps, bias):
        w_beats, z_beats = _tile_beats(lut_params, q, z)
        roms = {f"w{which}_rom": RomStream(core.w.payload.shape(), w_beats, steps)}
        if z is not None:
            roms[f"z{which}_rom"] = RomStream(core.z.payload.shape(), z_beats)
        if bias is not None:
            # The accumulator input takes one beat a row of each tile: the tile's biases.
            n = lut_params.n
            beats = [list(bias[j:j + n]) for j in range(0, len(bias), n)
                     for _row in range(lut_params.m)]
            roms[f"b{which}_rom"] = RomStream(core.c.payload.shape(), beats)
        return roms

    @property
    def params(self):
        return self._params

    @property
    def parts(self):
        """``{name: component}`` of every part, in data-flow order."""
        return dict(self._parts)

    @property
    def latency(self):
        """Cycles from a job's last input beat to its first output beat on an idle layer at full
        rate, summed from the parts: the input buffer's turn-around, linear1's whole job (linear2
        needs every hidden activation before its first tile ends), linear1's drain of its last
        tile (row by row, each row in ``n // gelu.lanes`` pieces when narrowed), the element-wise
        parts, the hidden buffer's turn-around, linear2's first tile and drain, and the output
        adapters. (The params refuse narrowings that would throttle a linear, so no stall
        enters.)"""
        p, parts = self._params, self._parts
        pieces = p.linear1.n // p.gelu_params.lanes
        drain1 = (p.rows - 1) * pieces + (Narrow.LATENCY + pieces - 1 if "narrow1" in parts
                                          else 0)
        return (ActivationBuffer.LATENCY + p.tiles1 * p.steps1 + parts["linear1"].latency
                + drain1 + 2 * Requantize.LATENCY + parts["gelu"].latency
                + ActivationBuffer.LATENCY + p.steps2 + parts["linear2"].latency
                + (Narrow.LATENCY if "narrow2" in parts else 0) + Requantize.LATENCY)

    @property
    def block_spec(self):
        p = self._params
        n = p.linear2.n
        job = f"{p.rows} tokens of {p.d_in} INT8 features"
        per_tile = p.rows * n // p.out_lanes_
        return BlockSpec(
            job=job, variables=(),
            streams={
                "i": Stream(f"{p.in_lanes_} features a beat: token r's features "
                            f"{p.in_lanes_}*b .. {p.in_lanes_}*b+{p.in_lanes_ - 1} at beat "
                            f"r*{p.d_in // p.in_lanes_}+b", str(p.in_beats),
                            Tlast("ignored", "not read: a job is always "
                                  f"{p.in_beats} beats"),
                            {"data[]": Note(meaning="x[r, c], INT8")}),
                "o": Stream(f"{p.out_lanes_} results a beat: for each column tile t of {n}, "
                            f"each token r, {n // p.out_lanes_} beats of y[r, {n}*t + "
                            f"{p.out_lanes_}*b + lane]", str(p.out_beats),
                            Tlast("delimits", f"the last beat of a column tile of {n}",
                                  str(per_tile)),
                            {"data[]": Note(meaning="y[r, c], INT8")}),
            },
            latency=Latency(str(self.latency),
                            (("i", f"{p.in_beats} - 1", "the job's last input beat"),),
                            ("o", "0", "the job's first result beat")),
            function=Function(
                "y = rq3(W2 . rq2(gelu(rq1(W1 . x)))): rq = requantise (round half up, "
                f"saturate); W1, W2 {p.weight_format} weights in on-chip ROM (digest "
                f"{p.weights_digest[:16]}); gelu as the gelu block",
                (("x", "input feature", fixed_format(8, 0, True)),
                 ("y", "output feature", fixed_format(8, 0, True)))),
            rules=(f"a job is exactly {p.in_beats} input beats; results leave in input order",),
            initiation_interval=max(p.in_beats, p.tiles1 * p.steps1, p.tiles2 * p.steps2),
            initiation_meaning="cycles per job in steady state: the busier linear's tile steps "
                               "(or the input beats, if more)",
        )

    def elaborate(self, platform):
        m = Module()
        parts = self._parts
        for name, part in parts.items():
            m.submodules[name] = part
        wiring.connect(m, wiring.flipped(self.i), parts["in_buffer"].i)
        chain = [("in_buffer", "o", "linear1", "a")]
        for which in ("1", "2"):
            chain.append((f"w{which}_rom", "o", f"linear{which}", "w"))
            if f"z{which}_rom" in parts:
                chain.append((f"z{which}_rom", "o", f"linear{which}", "z"))
            if f"b{which}_rom" in parts:
                chain.append((f"b{which}_rom", "o", f"linear{which}", "c"))
        flow = [name for name in ("linear1", "narrow1", "requant1", "gelu", "requant2",
                                  "hidden_buffer") if name in parts]
        chain += [(a, "o", b, "a" if b.startswith("linear") else "i")
                  for a, b in zip(flow, flow[1:])]
        chain.append(("hidden_buffer", "o", "linear2", "a"))
        flow = [name for name in ("linear2", "narrow2", "requant3") if name in parts]
        chain += [(a, "o", b, "i") for a, b in zip(flow, flow[1:])]
        for up, out, down, inp in chain:
            join(m, getattr(parts[up], out), getattr(parts[down], inp),
                 (f"{up}.{out}", f"{down}.{inp}"))
        wiring.connect(m, parts["requant3"].o, wiring.flipped(self.o))
        return m

