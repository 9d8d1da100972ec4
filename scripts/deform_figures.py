"""Deformable-convolution figures that are cheap to measure: the integer model against the
torchvision-semantics float reference on a seeded random layer of each entry's own sizes
(exact for integer offsets; bilinear: exact on the offset grid, and the error for float offsets
against the stated bound), the engine's peak rate, and the iCE40 UP5K build with every
multiplier in LUTs (the engines need more multipliers than the UP5K's eight DSPs)."""

from pathlib import Path

import numpy as np

from generators.deform.formats import LayerConfig
from generators.deform.model import accumulate, deform_conv2d_reference, torchvision_offsets
from generators.deform.sim import random_offsets

from scripts.tables import synth_cells, synth_header, synth_target_cells

SEED = 2026
#: Out-of-context builds outside the default targets, cached by the Verilog's content.
FABRIC_CACHE = Path("build/synth/deform_fabric_mult")
FABRIC_TARGET = "ice40-up5k-nodsp"


def _reference(params, cfg, x, off, w, mask=None):
    tv_off, tv_mask = torchvision_offsets(params, cfg, off, mask)
    # Depthwise weights [C, 3, 3] are torchvision's [C, 1, 3, 3] with groups = C.
    weight = w if params.mode == "full" else w[:, None]
    out = deform_conv2d_reference(x.transpose(2, 0, 1)[None], tv_off, weight,
                                  stride=cfg.stride, padding=1, mask=tv_mask)
    return out[0].transpose(1, 2, 0)


def deform_model_check(params):
    rng = np.random.default_rng(SEED)
    h, w_, c = min(params.h_max, 12), min(params.w_max, 12), params.pe
    full = params.mode == "full"
    c_out = params.po if full else None
    result = {"layer": [h, w_, c] + ([c_out] if full else [])}
    shape = (c_out, c, 3, 3) if full else (c, 3, 3)
    worst = 0.0
    for stride in (1, 2):
        cfg = LayerConfig(h, w_, c, stride=stride, out_channels=c_out)
        x = rng.integers(-128, 128, (h, w_, c))
        wmax = 1 << (params.weight_bits - 1)
        w = rng.integers(-wmax, wmax, shape)
        off, mask = random_offsets(params, cfg, rng)
        acc = accumulate(params, cfg, x, off, w, mask) / 2.0 ** params.coef_frac
        worst = max(worst, float(np.abs(acc - _reference(params, cfg, x, off, w, mask)).max()))
    result["max_diff_vs_reference"] = worst
    if params.offset_mode == "bilinear" and not full:
        cfg = LayerConfig(h, w_, c)
        x = rng.integers(-128, 128, (h, w_, c))
        w = rng.integers(-8, 8, (c, 3, 3))
        f = params.offset_frac
        lim = params.d_max - 1
        float_off = rng.uniform(-lim, lim, (h, w_, 9, 2))
        codes = np.floor(float_off * (1 << f) + 0.5).astype(np.int64)
        p = params
        acc = accumulate(p, cfg, x, codes, w, np.full((h, w_, 9), 1 << (p.mask_bits - 1))
                         if p.mask else None) / 2.0 ** p.coef_frac
        ref = deform_conv2d_reference(x.transpose(2, 0, 1)[None],
                                      float_off.reshape(h, w_, 18).transpose(2, 0, 1)[None],
                                      w[:, None], padding=1)[0].transpose(1, 2, 0)
        bound = 255 * 2.0 ** -f * np.abs(w).reshape(c, 9).sum(axis=1)
        err = np.abs(acc - ref)
        result["float_offset_error_max"] = float(err.max())
        result["float_offset_error_over_bound"] = float((err / bound[None, None, :]).max())
    return result


def deform_figures(params):
    return {"model": deform_model_check(params),
            "peak_macs_per_cycle": params.macs_per_issue / params.passes,
            "up5k_fabric_multipliers": up5k_fabric_multipliers(params)}


def up5k_fabric_multipliers(params):
    """Out-of-context UP5K figures with every multiplier in LUTs (``synth_ice40`` without
    ``-dsp``), or the tool's reason when it does not fit."""
    from amaranth.back import verilog

    from fpga.ooc import synthesize_cached
    from generators.axis import AxisTop
    from generators.deform.rtl import DeformConv

    text = verilog.convert(AxisTop(DeformConv(params)), name="deform_engine", emit_src=False)
    return synthesize_cached(text, "deform_engine", FABRIC_TARGET, FABRIC_CACHE)


def figures(params):
    """The report row's deformable-convolution figures."""
    return {"figures": deform_figures(params)}


def markdown(rows):
    """The report table of deformable-convolution rows."""
    header = ["block", "mode", "offsets", "pe (× po)", "max H×W×C (→ C out)", "d_max", "rows",
              "weights", "latency", "cycles/beat", "peak MACs/cycle (pe·9 (·po) / passes)",
              "model vs reference max diff", "bilinear float-offset error / bound"]
    header += synth_header() + ["iCE40, multipliers in LUTs: LUT/FF/DSP/BRAM", "Fmax"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        p, model = row["params"], row["figures"]["model"]
        ratio = model.get("float_offset_error_over_bound")
        full = p.get("mode") == "full"
        cells = [row["name"], p.get("mode", "depthwise"),
                 p["offset_mode"] + (" + mask" if p.get("mask") else ""),
                 f"{p['pe']} × {p['po']}" if full else str(p["pe"]),
                 f"{p['h_max']}×{p['w_max']}×{p['c_max']}"
                 + (f" → {p['co_max']}" if full else ""), str(p.get("d_max", "—")),
                 str(p["rows"]), f"INT{p['weight_bits']}", str(row["latency_cycles"]),
                 str(row["initiation_interval"]),
                 f"{row['figures']['peak_macs_per_cycle']:g}",
                 f"{model['max_diff_vs_reference']:g}",
                 "—" if ratio is None else f"{ratio:.3f}"]
        fabric = synth_target_cells(row["figures"].get("up5k_fabric_multipliers"))
        lines.append("| " + " | ".join(cells + synth_cells(row) + fabric) + " |")
    return "\n".join(lines) + "\n"
