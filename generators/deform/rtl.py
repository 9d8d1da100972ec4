"""The deformable 3x3 convolution engine (depthwise or full): line buffer, offset sampling, MAC
array, requantisation; bit-exact with :func:`.model.deform_layer`.

Ref: Huang, Dong et al., CoDeNet (arXiv 2006.08357, FPGA'21), §4 (line buffer, window generator,
depthwise engine of PE x 9 MACs, quantisation unit); torchvision ``deform_conv2d``.

Structure:

* control: the weight stream's header chooses height, width, channels, stride, ReLU and how many
  frames follow; the weights, scales and biases go into a small RAM. The next configuration's
  header is taken once the writer has taken the current one's frames: its rows then fill the
  line buffer while the compute side finishes the current layer, and its weights load as soon
  as that layer has left the pipeline.
* writer: feature-map beats go into a line buffer of ``rows`` rows (row ``n`` of the stream into
  slot ``n mod rows``), one beat a cycle, as long as the row it overwrites is no longer needed.
* compute: for each output pixel, (full mode: output channel group,) input channel group (and,
  bilinear, corner) one beat is issued as soon as every row its taps can reach has been written:
  nine read ports (one block-RAM copy each) fetch the nine taps of ``pe`` channels. Depthwise,
  ``pe * 9`` multipliers and nine-input adders form ``pe`` sums; full mode, ``po`` rows of
  ``pe * 9`` multipliers share the taps and each row's ``9 * pe``-input adder feeds one output
  channel's accumulator, over the input groups. The quantisation unit scales, rounds, adds the
  bias, applies ReLU and saturates.

The pipeline behind the issue stage advances as a whole when the output register is empty or
taken, so the engine holds its output under backpressure and every stream may stall anywhere.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..fixedpoint import Fixed
from ..hw import add_tree, clamp, index_range, memory, saturate
from ..streams import BlockSpec, Function, Latency, Note, Segment, Stream, Tlast, Var, fixed_format
from .formats import header_fields, offset_lanes, weight_lane_fields
from .model import TEMPLATE
from .params import ACT_BITS, DeformParams

__all__ = ["DeformConv", "PIPELINE_STAGES"]

HEADER_MEANINGS = {"height": "input rows", "width": "input columns",
                   "channels": "input channels, a multiple of pe",
                   "frames": "feature maps that follow with this configuration",
                   "stride2": "1: stride 2, 0: stride 1", "relu": "1: ReLU before saturation",
                   "out_channels": "output channels (full mode), a multiple of po"}

#: Registers from the issue of a beat to its output register: tap positions, memory read,
#: registered read data, products, sums (accumulator), requantisation multiply, output.
PIPELINE_STAGES = 7


def _bits(n):
    return max(int(n).bit_length(), 1)


class DeformConv(wiring.Component):
    """Deformable 3x3 convolution (depthwise or full), padding 1, stride 1 or 2, sizes set at
    run time.

    Parameters
    ----------
    params : DeformParams

    Members
    -------
    w : In(stream.Signature(...))
        Header beat, then the beats of weights and requantisation constants (:mod:`.formats`).
        The next configuration's header is taken once the writer has taken the previous
        configuration's ``frames`` feature maps, its weights once those have left the
        pipeline; ``last`` is not checked.
    i : In(stream.Signature(...))
        Feature map, NHWC raster order, ``pe`` signed INT8 channels per beat; ``last`` ignored.
    off : In(stream.Signature(...))
        One beat per output pixel, raster order, taken with the pixel's first channel group
        (not there for the plain 3x3, offset mode ``none``).
    o : Out(stream.Signature(...))
        Output, NHWC raster order, ``pe`` (full mode ``po``) INT8 channels per beat, ``last`` on
        a frame's last beat.

    One output beat per :attr:`initiation_interval` cycles once the rows a pixel's taps can
    reach (``d_max`` below its centre row) are in the line buffer; the input side runs ahead
    by up to ``rows - d_max`` rows. The plain 3x3 issues a pixel once the row below it is in
    up to the column after the pixel's, and writes the row two below the centre behind the
    taps (column by column), so 3 rows suffice. :attr:`latency` counts from the input
    transfer that completes those rows to the first output.
    """

    def __init__(self, params: DeformParams):
        if not isinstance(params, DeformParams):
            raise TypeError(f"params must be a DeformParams, not {params!r}")
        self._params = p = params
        act = data.ArrayLayout(signed(ACT_BITS), p.pe)
        lane = data.StructLayout({name: signed(width) if sgn else unsigned(width)
                                  for name, width, sgn in weight_lane_fields(p)})
        self._wbeat = data.ArrayLayout(lane, p.out_lanes)
        out = data.ArrayLayout(signed(ACT_BITS), p.out_lanes)
        members = {
            "w": In(stream.Signature(data.StructLayout({"data": self._wbeat, "last": 1}))),
            "i": In(stream.Signature(data.StructLayout({"data": act, "last": 1}))),
        }
        if p.offsets:       # the plain 3x3 (offset mode none) has no offset stream
            lanes, bits, is_signed = offset_lanes(p)
            off_fields = {"data": data.ArrayLayout(signed(bits) if is_signed else unsigned(bits),
                                                   lanes)}
            if p.mask:
                off_fields["user"] = data.ArrayLayout(unsigned(p.mask_bits), 9)
            off_fields["last"] = 1
            members["off"] = In(stream.Signature(data.StructLayout(off_fields)))
        members["o"] = Out(stream.Signature(data.StructLayout({"data": out, "last": 1})))
        super().__init__(members)

    @property
    def params(self):
        return self._params

    @property
    def latency(self):
        """Cycles from the input transfer completing the rows the first output row needs to
        the first output valid (offsets available, output ready): the pipeline plus the
        issues of the first output beat (at ``c_max`` input channels in full mode)."""
        return PIPELINE_STAGES + self.initiation_interval

    @property
    def initiation_interval(self):
        """Cycles per output beat: 1, or 4 for bilinear (one corner a cycle); full mode, times
        the input channel groups (here at ``c_max``)."""
        p = self._params
        return p.passes * (p.groups_max if p.mode == "full" else 1)

    @property
    def block_spec(self):
        """The streams beyond their layouts (see :mod:`generators.streams`)."""
        p = self._params
        full = p.mode == "full"
        bilinear = p.offset_mode == "bilinear"
        header = data.StructLayout({name: unsigned(bits) for name, bits in header_fields(p)})
        header_notes = {name: Note(meaning=HEADER_MEANINGS[name], value=name)
                        for name, _bits in header_fields(p)}
        taps = [name for name, _w, _s in weight_lane_fields(p)][:-2]
        if full:
            weights = "out_groups * groups"
            index = (("out_group", "out_groups"), ("in_group", "groups"))
            w_notes = {f"data[].{t}": Note(meaning=f"weight of input channel in_group*{p.pe}+"
                                                   f"{t[1:].split('_')[0]}, tap "
                                                   f"{t.split('_')[1]} (k = 3i+j), for output "
                                                   f"channel out_group*{p.po}+lane")
                       for t in taps}
            counted = "in_group == groups - 1"
            lanes_of = "output channel out_group*po+lane"
            w_notes["data[].scale"] = Note(meaning=f"scale of {lanes_of}; read from the "
                                                   "group's last beat only", used_when=counted)
            w_notes["data[].bias"] = Note(meaning=f"bias of {lanes_of}; read from the group's "
                                                  "last beat only", used_when=counted)
            order = "output group outer, input channel group inner"
        else:
            weights = "groups"
            index = (("group", "groups"),)
            w_notes = {f"data[].{t}": Note(meaning=f"weight of channel group*{p.pe}+lane, tap "
                                                   f"{t[1:]} (k = 3i+j)") for t in taps}
            w_notes["data[].scale"] = Note(meaning="scale of channel group*pe+lane")
            w_notes["data[].bias"] = Note(meaning="bias of channel group*pe+lane")
            order = "channel group by channel group"
        off_notes = {"data[]": Note(p.offset_frac or 0, (
            f"dilation d of the output pixel, clamped to 0..{p.d_max}" if p.offset_mode ==
            "square" else f"per tap k = 3i+j: lane 2k dy, lane 2k+1 dx (rows, columns), "
                          f"clamped to +-{p.d_max - 1}"))} if p.offsets else None
        if p.mask:
            off_notes["user[]"] = Note(p.mask_bits - 1, "modulation mask of tap k (lane k)")
        ignored = "not read: sizes come from the header"
        out_lanes = "po" if full else "pe"
        variables = [Var("height", "input rows", min=1, max=p.h_max),
                     Var("width", "input columns", min=1, max=p.w_max),
                     Var("channels", "input channels", min=p.pe, max=p.c_max, step=p.pe)]
        if full:
            variables.append(Var("out_channels", "output channels", min=p.po, max=p.co_max,
                                 step=p.po))
        variables += [Var("stride2", "1: stride 2, 0: stride 1", choices=(0, 1)),
                      Var("relu", "1: ReLU before saturation", choices=(0, 1)),
                      Var("frames", "feature maps with this configuration", min=0,
                          max=(1 << 16) - 1)]
        acc_frac = p.coef_frac
        coef = ("1" if not bilinear else
                f"wy * wx{' * mask' if p.mask else ''} (corner weights of {p.offset_frac} "
                f"fraction bits{f', mask of {p.mask_bits - 1}' if p.mask else ''})")
        requant = (f"((acc * scale + 2**{p.shift - 1}) >> {p.shift})" if p.shift else
                   "(acc * scale)")
        streams = {
            "w": Stream(
                f"beat 0: the header; then the weights, {order}", f"1 + {weights}",
                Tlast("ignored", "not read: beats are counted from the header"),
                w_notes, layouts={"header": (header, header_notes)},
                segments=(Segment("header", "1", "the layer's run-time sizes", "header"),
                          Segment("weights", weights, f"weights, {order}", index=index))),
            "i": Stream(f"feature map, NHWC raster order, {p.pe} channels per beat",
                        "frames * height * width * groups", Tlast("ignored", ignored),
                        {"data[]": Note(meaning="input activation x")}),
        }
        if p.offsets:
            streams["off"] = Stream("one beat per output pixel, raster order, taken with the "
                                    "pixel's first channel group",
                                    "frames * out_height * out_width",
                                    Tlast("ignored", "not read: one beat per output pixel"),
                                    off_notes)
        streams["o"] = Stream(f"output, NHWC raster order, {out_lanes} channels per beat",
                              "frames * frame_out",
                              Tlast("delimits", "last beat of a frame", "frame_out"),
                              {"data[]": Note(meaning="output activation y")})
        if p.offsets:
            first_rows = (f"(min({p.d_max}, height - 1) + 1) * width * groups - 1",
                          "the beat that completes row min(d_max, height - 1) of the first "
                          "frame, the last its first output row can reach")
        else:
            first_rows = ("(min(1, height - 1) * width + min(2, width)) * groups - 1",
                          "the beat that completes column min(1, width - 1) of row "
                          "min(1, height - 1) of the first frame, the last its first output "
                          "pixel reads")
        job = ("one layer configuration: a header and weights on s_axis_w, then `frames` "
               "feature maps on s_axis" + (" with their offsets on s_axis_off" if p.offsets
                                           else ""))
        return BlockSpec(
            job=job,
            variables=tuple(variables),
            derived=(("out_height", "(height - 1) // (stride2 + 1) + 1"),
                     ("out_width", "(width - 1) // (stride2 + 1) + 1"),
                     ("groups", f"channels // {p.pe}"),
                     ("out_groups", f"out_channels // {p.po}" if full else "groups"),
                     ("frame_out", "out_height * out_width * out_groups")),
            streams=streams,
            latency=Latency(
                (f"{PIPELINE_STAGES} + {p.passes} * groups" if full and p.passes > 1 else
                 f"{PIPELINE_STAGES} + groups" if full else str(PIPELINE_STAGES + p.passes)),
                (("i", *first_rows),
                 ("w", f"{weights}", "the configuration's last weight beat")),
                ("o", "0", "the frame's first output beat")),
            function=Function(
                f"y = clamp(r, -128, 127) per output channel, r = max(q, 0) when the "
                f"header's relu is 1 else q, q = {requant} + bias; acc = sum over taps k"
                f"{', input channels' if full else ''}"
                f"{' and the four bilinear corners' if bilinear else ''} of x * w_k * coef "
                f"with coef = {coef}: acc has {acc_frac} fraction bits, i.e. it is "
                f"2**{acc_frac} times the real-valued sum; samples outside the image are 0",
                (("acc", "accumulator before requantisation",
                  fixed_format(p.acc_bits, acc_frac, True)),
                 ("x", "input activation", fixed_format(ACT_BITS, 0, True)),
                 ("y", "output activation", fixed_format(ACT_BITS, 0, True)))),
            rules=("the next configuration's header is taken once the previous configuration's "
                   "frames have been taken; its weights once those frames have left the "
                   "pipeline",),
            initiation_interval=self.initiation_interval,
            initiation_meaning="cycles per output beat at full rate" + (
                " (at c_max input channels; channels // pe * passes in general)" if full
                else ""))

    def elaborate(self, platform):
        p = self._params
        m = Module()
        R, D, G, WM, PE, P = p.rows, p.reach, p.groups_max, p.w_max, p.pe, p.passes
        GO, LO = p.out_groups_max, p.out_lanes
        bilinear = p.offset_mode == "bilinear"
        full = p.mode == "full"

        # -- configuration -------------------------------------------------------------------
        # Three copies: the header taken (next_*), the writer's (w_*) and the compute side's.
        # The writer takes the next configuration's rows as soon as it has taken the current
        # one's, so the next layer's line-buffer priming overlaps this layer's compute; only
        # the weights (channels/pe beats depthwise) wait for the current layer to drain.
        def config(prefix):
            return {"height": Signal(range(p.h_max + 1), name=f"{prefix}height"),
                    "width": Signal(range(p.w_max + 1), name=f"{prefix}width"),
                    "groups": Signal(range(G + 1), name=f"{prefix}groups"),
                    # full mode: output beats per pixel
                    "ogroups": Signal(range(GO + 1), name=f"{prefix}ogroups"),
                    "stride2": Signal(name=f"{prefix}stride2"),
                    "relu": Signal(name=f"{prefix}relu"),
                    "frames": Signal(16, name=f"{prefix}frames")}
        nxt_cfg, cur_cfg = config("next_"), config("")
        height, width, groups = cur_cfg["height"], cur_cfg["width"], cur_cfg["groups"]
        stride2, relu, ogroups = cur_cfg["stride2"], cur_cfg["relu"], cur_cfg["ogroups"]
        w_height = Signal.like(height, name="w_height")
        w_width = Signal.like(width, name="w_width")
        w_groups = Signal.like(groups, name="w_groups")
        fields, at = {}, 0
        header = self.w.p.data.as_value()
        for name, bits in header_fields(p):
            fields[name] = header[at:at + bits]
            at += bits
        out_h = Mux(stride2, ((height - 1) >> 1) + 1, height)
        out_w = Mux(stride2, ((width - 1) >> 1) + 1, width)
        step = Mux(stride2, 2, 1)

        WB = p.weight_beats_max
        wmem = memory(shape=self._wbeat, depth=WB, init=[])
        m.submodules.wmem = wmem
        wmem_w = wmem.write_port()
        load = Signal(index_range(WB))
        load_cg = Signal(index_range(G))   # full mode: input and output group of the beat
        load_og = Signal(index_range(GO))
        loaded = Signal()          # the configuration's last weight beat: the compute side's

        w_frames = Signal(16)      # frames the writer has still to take
        c_frames = Signal(16)      # frames the compute side has still to issue
        pipe_busy = Signal()

        with m.FSM():
            with m.State("HEADER"):
                # The writer must have taken every frame of the current configuration, since
                # its counters change now.
                m.d.comb += self.w.ready.eq(w_frames == 0)
                with m.If(self.w.valid & (w_frames == 0)):
                    shift = PE.bit_length() - 1
                    m.d.sync += [nxt_cfg["height"].eq(fields["height"]),
                                 nxt_cfg["width"].eq(fields["width"]),
                                 nxt_cfg["groups"].eq(fields["channels"] >> shift),
                                 nxt_cfg["frames"].eq(fields["frames"]),
                                 nxt_cfg["stride2"].eq(fields["stride2"]),
                                 nxt_cfg["relu"].eq(fields["relu"]),
                                 w_frames.eq(fields["frames"]),
                                 w_height.eq(fields["height"]), w_width.eq(fields["width"]),
                                 w_groups.eq(fields["channels"] >> shift),
                                 load.eq(0), load_cg.eq(0), load_og.eq(0)]
                    if full:
                        m.d.sync += nxt_cfg["ogroups"].eq(
                            fields["out_channels"] >> (LO.bit_length() - 1))
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                # The weight RAM and the compute side's registers are read up to the output
                # stage: the current configuration must have left the pipeline.
                with m.If((c_frames == 0) & ~pipe_busy):
                    m.next = "WEIGHTS"
            with m.State("WEIGHTS"):
                m.d.comb += [self.w.ready.eq(1), wmem_w.addr.eq(load),
                             wmem_w.data.eq(self.w.p.data), wmem_w.en.eq(self.w.valid)]
                if full:
                    m.d.comb += loaded.eq(self.w.valid & (load_cg == nxt_cfg["groups"] - 1)
                                          & (load_og == nxt_cfg["ogroups"] - 1))
                else:
                    m.d.comb += loaded.eq(self.w.valid & (load == nxt_cfg["groups"] - 1))
                with m.If(self.w.valid):
                    m.d.sync += [load.eq(load + 1), load_cg.eq(load_cg + 1)]
                    with m.If(load_cg == nxt_cfg["groups"] - 1):
                        m.d.sync += [load_cg.eq(0), load_og.eq(load_og + 1)]
                with m.If(loaded):
                    m.d.sync += [cur_cfg[name].eq(nxt_cfg[name]) for name in cur_cfg
                                 if name != "frames"]     # c_frames counts them down
                    m.d.sync += c_frames.eq(nxt_cfg["frames"])
                    m.next = "HEADER"
        running = Signal()
        m.d.comb += running.eq(c_frames != 0)

        # The whole compute pipeline advances on ce (the output register is empty or taken).
        ce = Signal()
        m.d.comb += ce.eq(~self.o.valid | self.o.ready)

        # -- line buffer and writer ------------------------------------------------------------
        lbuf = Memory(shape=data.ArrayLayout(signed(ACT_BITS), PE), depth=R * WM * G, init=[])
        m.submodules.lbuf = lbuf
        lw = lbuf.write_port()
        # Rows written minus the centre row being computed (both counted over all frames).
        lead = Signal(range(R + 2))
        w_cg = Signal(index_range(G))
        w_x = Signal(index_range(WM))
        w_y = Signal(index_range(p.h_max))
        w_slot = Signal(range(R))
        row_done = Signal()
        row_freed = Signal(range(3))
        # Rows the issued beat in S1 frees count only once its reads are done (at the next
        # enabled edge, where a write to them still reads old data): while the pipeline is
        # stalled right after the issue the writer must not overwrite them.
        held_lead = lead + Mux(ce, 0, row_freed)
        if p.offsets:
            m.d.comb += self.i.ready.eq((w_frames != 0) & (held_lead <= R - 1 - D))
        else:
            # The plain 3x3 also writes the row two below the centre, into the slot of the
            # centre's top tap row, column by column behind the reads: a column once every
            # beat still to read it (the one issued next, or the stalled one in S1) is two
            # columns past it. Rows above that wait, as in the deformable engine.
            reader_x = Signal(range(p.w_max + 1))
            m.d.comb += self.i.ready.eq((w_frames != 0) & (
                (held_lead <= R - 1 - D) | ((held_lead == R - D) & (w_x + 2 <= reader_x))))
        m.d.comb += [
            lw.addr.eq(w_slot * (WM * G) + w_x * G + w_cg),
            lw.data.eq(self.i.p.data),
            lw.en.eq(self.i.valid & self.i.ready),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += w_cg.eq(w_cg + 1)
            with m.If(w_cg == w_groups - 1):
                m.d.sync += [w_cg.eq(0), w_x.eq(w_x + 1)]
                with m.If(w_x == w_width - 1):
                    m.d.comb += row_done.eq(1)
                    m.d.sync += [w_x.eq(0), w_y.eq(w_y + 1),
                                 w_slot.eq(Mux(w_slot == R - 1, 0, w_slot + 1))]
                    with m.If(w_y == w_height - 1):
                        m.d.sync += [w_y.eq(0), w_frames.eq(w_frames - 1)]

        # -- compute: issue stage ----------------------------------------------------------------
        c_pass = Signal(index_range(P))
        c_cg = Signal(index_range(G))
        c_og = Signal(index_range(GO))    # full mode: output group, and its first weight beat
        c_wbase = Signal(index_range(p.weight_beats_max))
        c_ox = Signal(index_range(p.w_max))
        c_oy = Signal(index_range(p.h_max))
        c_x = Signal(range(p.w_max + 1))        # ox * stride
        c_y = Signal(range(p.h_max + 1))        # oy * stride, the centre row
        below = Signal(range(p.h_max + 1))      # height - 1 - centre row
        c_slot = Signal(range(R))
        first = Signal()
        need = Signal(range(D + 2))
        go = Signal()
        issue = Signal()
        # An output beat accumulates over the passes (and, full mode, the input groups).
        acc_first = (c_pass == 0) & ((c_cg == 0) if full else 1)
        acc_last = (c_pass == P - 1) & ((c_cg == groups - 1) if full else 1)
        if p.offsets:
            go_now = running & (lead >= need) & (~first | self.off.valid)
        else:
            # The bottom tap row need only be in up to the next column (the writer's columns
            # before w_x are complete in every channel group); it is the row being written
            # when one row is missing.
            go_now = running & ((lead >= need) | ((lead + 1 == need) & (w_x > c_x + 1)))
        m.d.comb += [
            first.eq((c_cg == 0) & (c_pass == 0) & ((c_og == 0) if full else 1)),
            need.eq(Mux(below < D, below + 1, D + 1)),
            go.eq(go_now),
            issue.eq(go & ce),
        ]
        if p.offsets:
            m.d.comb += self.off.ready.eq(issue & first)
            off_layout = self.off.p.shape()
            held = Signal(off_layout)
            cur = Signal(off_layout)
            with m.If(first):
                m.d.comb += cur.eq(self.off.p)
            with m.Else():
                m.d.comb += cur.eq(held)
            with m.If(self.off.valid & self.off.ready):
                m.d.sync += held.eq(self.off.p)

        frame_last = Signal()
        row_step = Signal(range(3))
        end_pixel = (c_cg == groups - 1) & (c_pass == P - 1) & \
            ((c_og == ogroups - 1) if full else 1)
        end_row = end_pixel & (c_ox == out_w - 1)
        end_frame = end_row & (c_oy == out_h - 1)
        m.d.comb += frame_last.eq(end_frame)
        with m.If(issue):
            m.d.sync += c_pass.eq(c_pass + 1)
            with m.If(c_pass == P - 1):
                m.d.sync += [c_pass.eq(0), c_cg.eq(c_cg + 1)]
                with m.If(c_cg == groups - 1):
                    m.d.sync += c_cg.eq(0)
                    if full:
                        m.d.sync += [c_og.eq(c_og + 1), c_wbase.eq(c_wbase + groups)]
                with m.If(end_pixel):
                    m.d.sync += [c_og.eq(0), c_wbase.eq(0), c_ox.eq(c_ox + 1),
                                 c_x.eq(c_x + step)]
                    with m.If(c_ox == out_w - 1):
                        m.d.sync += [c_ox.eq(0), c_x.eq(0)]
                        with m.If(c_oy == out_h - 1):
                            # Next frame: its row 0 follows this frame's last row.
                            m.d.comb += row_step.eq(height - c_y)
                            m.d.sync += [c_oy.eq(0), c_y.eq(0), below.eq(height - 1),
                                         c_frames.eq(c_frames - 1)]
                        with m.Else():
                            m.d.comb += row_step.eq(step)
                            m.d.sync += [c_oy.eq(c_oy + 1), c_y.eq(c_y + step),
                                         below.eq(below - step)]
        with m.If(row_step != 0):
            nxt = c_slot + row_step
            m.d.sync += c_slot.eq(Mux(nxt >= R, nxt - R, nxt))
        m.d.sync += lead.eq(lead + row_done - row_step)
        with m.If(ce):
            m.d.sync += row_freed.eq(row_step)
        # A new configuration starts with the centre at its first row.
        with m.If(loaded):
            m.d.sync += below.eq(nxt_cfg["height"] - 1)

        # Tap offsets from the centre (rows, columns) for this beat, clamped as the model does.
        reach = _bits(D + 2) + 1
        dys = [Signal(signed(reach), name=f"dy{k}") for k in range(9)]
        dxs = [Signal(signed(reach), name=f"dx{k}") for k in range(9)]
        frac = p.offset_frac or 0
        wys = [Signal(range((1 << frac) + 1), name=f"wy{k}") for k in range(9)]
        wxs = [Signal(range((1 << frac) + 1), name=f"wx{k}") for k in range(9)]
        limit = p.offset_limit
        if not p.offsets:
            pass        # the regular template: constants, used as such in S1
        elif p.offset_mode == "square":
            raw = cur.data[0]
            dil = Signal(range(limit + 1))
            m.d.comb += dil.eq(clamp(raw, high=limit))
            for k, (ty, tx) in enumerate(TEMPLATE):
                # (i-1)d and (j-1)d: a select and a negation, not a multiplier (yosys maps a
                # constant times a signal onto MULT18X18D, which was the ECP5 critical path).
                m.d.comb += [dys[k].eq({1: dil, -1: -dil, 0: 0}[int(ty)]),
                             dxs[k].eq({1: dil, -1: -dil, 0: 0}[int(tx)])]
        else:
            for k, (ty, tx) in enumerate(TEMPLATE):
                oy_ = clamp(cur.data[2 * k], -limit, limit)
                ox_ = clamp(cur.data[2 * k + 1], -limit, limit)
                if not bilinear:
                    m.d.comb += [dys[k].eq(int(ty) + oy_), dxs[k].eq(int(tx) + ox_)]
                    continue
                ty_f = Signal(signed(reach + frac + 1), name=f"tyf{k}")
                tx_f = Signal(signed(reach + frac + 1), name=f"txf{k}")
                m.d.comb += [ty_f.eq((int(ty) << frac) + oy_), tx_f.eq((int(tx) << frac) + ox_)]
                ly, lx = ty_f[:frac], tx_f[:frac]
                cy_, cx_ = c_pass[1], c_pass[0]   # corner (y0 or y1, x0 or x1) of this pass
                m.d.comb += [dys[k].eq((ty_f >> frac) + cy_), dxs[k].eq((tx_f >> frac) + cx_),
                             wys[k].eq(Mux(cy_, ly, (1 << frac) - ly)),
                             wxs[k].eq(Mux(cx_, lx, (1 << frac) - lx))]

        # -- S1: positions, validity, addresses -----------------------------------------------
        def stage(name, value):
            reg = Signal.like(value, name=name) if isinstance(value, Signal) else \
                Signal(value.shape(), name=name)
            with m.If(ce):
                m.d.sync += reg.eq(value)
            return reg

        v1 = stage("v1", issue)
        last1 = stage("last1", frame_last)
        first1, final1 = stage("accfirst1", acc_first), stage("acclast1", acc_last)
        cg1 = stage("cg1", c_cg)
        wbase1 = stage("wbase1", c_wbase) if full else None
        cy1, cx1, slot1 = stage("cy1", c_y), stage("cx1", c_x), stage("slot1", c_slot)
        if not p.offsets:
            m.d.comb += reader_x.eq(Mux(v1 & ~ce, cx1, c_x))
        if p.offsets:
            dy1 = [stage(f"dy{k}_s1", dys[k]) for k in range(9)]
            dx1 = [stage(f"dx{k}_s1", dxs[k]) for k in range(9)]
        else:
            dy1 = [int(ty) for ty, _tx in TEMPLATE]
            dx1 = [int(tx) for _ty, tx in TEMPLATE]
        if bilinear:
            wy1 = [stage(f"wy{k}_s1", wys[k]) for k in range(9)]
            wx1 = [stage(f"wx{k}_s1", wxs[k]) for k in range(9)]
            mask1 = [stage(f"m{k}_s1", cur.user[k]) for k in range(9)] if p.mask else None

        reads = []
        ok2, coef2 = [], []
        for k in range(9):
            y = Signal(signed(_bits(p.h_max) + reach + 1), name=f"y{k}")
            x = Signal(signed(_bits(p.w_max) + reach + 1), name=f"x{k}")
            ok = Signal(name=f"ok{k}")
            slot = Signal(signed(_bits(2 * R) + 2), name=f"slot{k}")
            wrapped = Signal(range(R), name=f"wslot{k}")
            m.d.comb += [
                y.eq(cy1 + dy1[k]), x.eq(cx1 + dx1[k]),
                ok.eq((y >= 0) & (y < height) & (x >= 0) & (x < width)),
                slot.eq(slot1 + dy1[k]),
                wrapped.eq(Mux(slot < 0, slot + R, Mux(slot >= R, slot - R, slot))),
            ]
            port = lbuf.read_port()
            m.d.comb += [port.en.eq(ce),
                         port.addr.eq(Mux(ok, wrapped * (WM * G) + x[:_bits(WM)] * G + cg1, 0))]
            reads.append(port)
            ok2.append(stage(f"ok{k}_s2", ok))
            if bilinear:
                coef = wy1[k] * wx1[k] * (mask1[k] if p.mask else 1)
                coef2.append(stage(f"coef{k}_s2", coef))
        # Depthwise, the weight RAM (a few beats: LUTs and FFs) is read a stage later than the
        # line buffer, so its output lines up with the registered samples without a register
        # of its own (registering it made yosys 0.70 emit a multiply driven register on ECP5).
        # Full mode's is block RAM, whose clock-to-out before a multiplier would be the
        # critical path: it is read with the line buffer and its output registered.
        wread = wmem.read_port()
        waddr = wbase1 + cg1 if full else stage("waddr2", cg1)
        m.d.comb += [wread.addr.eq(waddr), wread.en.eq(ce)]
        v2, last2 = stage("v2", v1), stage("last2", last1)
        first2, final2 = stage("accfirst2", first1), stage("acclast2", final1)

        # -- S2 -> S2b: the memory reads, registered: the line buffer's block-RAM output and the
        # multiplier in one cycle were the engine's critical path (ECP5).
        samples2b = [stage(f"sample{k}_s2b", reads[k].data) for k in range(9)]
        weights2b = stage("weights_s2b", wread.data) if full else wread.data
        ok2 = [stage(f"ok{k}_s2b", ok) for k, ok in enumerate(ok2)]
        coef2 = [stage(f"coef{k}_s2b", coef) for k, coef in enumerate(coef2)]
        v2_reading = v2     # S2 (the reads in flight), for pipe_busy
        v2, last2 = stage("v2b", v2), stage("last2b", last2)
        first2, final2 = stage("accfirst2b", first2), stage("acclast2b", final2)

        # -- S2b -> S3: products ----------------------------------------------------------------
        # The tap samples (in range, times the bilinear coefficient), shared by the output rows.
        sampled = []
        for k in range(9):
            row = []
            for c in range(PE):
                value = Mux(ok2[k], samples2b[k][c], 0)
                if bilinear:
                    value = value * coef2[k]
                sig = Signal(value.shape(), name=f"sampled{k}_{c}")
                m.d.comb += sig.eq(value)
                row.append(sig)
            sampled.append(row)
        prods = []
        for lane in range(LO):
            if full:
                pairs = [(sampled[k][c], f"w{c}_{k}") for c in range(PE) for k in range(9)]
            else:
                pairs = [(sampled[k][lane], f"w{k}") for k in range(9)]
            prods.append([stage(f"prod{lane}_{n}", sample * weights2b[lane][name])
                          for n, (sample, name) in enumerate(pairs)])
        scale3 = [stage(f"scale{lane}_s3", weights2b[lane].scale) for lane in range(LO)]
        bias3 = [stage(f"bias{lane}_s3", weights2b[lane].bias) for lane in range(LO)]
        v3, last3 = stage("v3", v2), stage("last3", last2)
        first3, final3 = stage("accfirst3", first2), stage("acclast3", final2)

        # -- S3 -> S4: tap sums, accumulated over bilinear corners (and input groups) ----------
        accs = [Signal(signed(p.acc_bits), name=f"acc{lane}") for lane in range(LO)]
        for lane in range(LO):
            total = add_tree(prods[lane])
            with m.If(ce & v3):
                m.d.sync += accs[lane].eq(Mux(first3, total, accs[lane] + total))
        scale4 = [stage(f"scale{lane}_s4", scale3[lane]) for lane in range(LO)]
        bias4 = [stage(f"bias{lane}_s4", bias3[lane]) for lane in range(LO)]
        v4 = stage("v4", v3 & final3)
        last4 = stage("last4", last3)

        # -- S4 -> S5: scale --------------------------------------------------------------------
        scaled = [stage(f"scaled{lane}", accs[lane] * scale4[lane]) for lane in range(LO)]
        bias5 = [stage(f"bias{lane}_s5", bias4[lane]) for lane in range(LO)]
        v5, last5 = stage("v5", v4), stage("last5", last4)

        # -- S5 -> output: round, bias, ReLU, saturate ------------------------------------------
        for lane in range(LO):
            q = scaled[lane]
            if p.shift:
                q = (q + (1 << (p.shift - 1))) >> p.shift
            q = q + bias5[lane]
            q = Mux(relu & (q < 0), 0, q)
            with m.If(ce):
                m.d.sync += self.o.p.data[lane].eq(saturate(q, Fixed(ACT_BITS, 0)))
        with m.If(ce):
            m.d.sync += [self.o.valid.eq(v5), self.o.p.last.eq(last5)]
        m.d.comb += pipe_busy.eq(v1 | v2_reading | v2 | v3 | v4 | v5)
        return m
