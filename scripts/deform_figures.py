"""Deformable-convolution figures that are cheap to measure: the integer model against the
torchvision-semantics float reference on a seeded random layer of each entry's own sizes
(exact for integer offsets; bilinear: exact on the offset grid, and the error for float offsets
against the stated bound), the engine's peak rate, and the iCE40 UP5K build with every
multiplier in LUTs (the engines need more multipliers than the UP5K's eight DSPs); and the price
of deformability: each plain 3x3 entry (offset mode ``none``) against the deformable entries of
the same sizes, cycles measured in cocotb + Verilator on the same layers, and the synthesis rows.

``python -m scripts.deform_figures`` measures the cycles of the compared entries into
``reports/deform.json`` (keeping every other figure) and rewrites the report tables."""

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np

from generators.deform.formats import LayerConfig
from generators.deform.model import accumulate, deform_conv2d_reference, torchvision_offsets
from generators.deform.sim import random_offsets

from scripts.tables import synth_cells, synth_header, synth_target_cells

SEED = 2026
#: Each plain 3x3 entry and the deformable entries of its sizes (same pe, maxima, weights).
PLAIN_TWINS = {"deform_dw_plain": ("deform_dw_square", "deform_dw_rounded"),
               "deform_dw_plain_tiny": ("deform_dw_square_tiny",)}
COMPARED = tuple(PLAIN_TWINS) + tuple(n for twins in PLAIN_TWINS.values() for n in twins)
#: The compared layers: LAYERS back-to-back single-frame layers at the entry's largest size,
#: their data from LAYER_SEED (the same for an entry and its twins), random offsets.
LAYERS = 3
LAYER_SEED = 2026
CYCLES_CACHE = Path("build/deform_cycles")
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
    figures = {"model": deform_model_check(params),
               "peak_macs_per_cycle": params.macs_per_issue / params.passes,
               "up5k_fabric_multipliers": up5k_fabric_multipliers(params)}
    name = catalog_name(params)
    if name in COMPARED:
        figures["full_rate"] = full_rate_cycles(name, params)
    return figures


def catalog_name(params):
    """The catalog entry with exactly these parameters, or None."""
    from generators.catalog import DEFAULT_CATALOG

    return next((e.name for e in DEFAULT_CATALOG if e.params == params), None)


def full_rate_cycles(name, params, layer_seed=LAYER_SEED, layers=LAYERS):
    """Cycles of ``layers`` back-to-back single-frame layers at the largest size, measured by
    the cocotb testbench's ``test_full_rate`` on the emitted Verilog (Verilator), no gaps or
    backpressure, layer data from ``layer_seed``: ``{kind: {cycles, first_layer_cycles,
    next_layer_cycles, ...}}`` with kind ``deformable`` (random offsets) and ``regular 3x3``
    (the same engine fed regular offsets), or ``plain 3x3``. Cached by the Verilog's content,
    the seed and the layer count (delete ``build/deform_cycles`` after changing the bench)."""
    from generators.emit import render, write_atomic
    from generators.family import Entry
    from testbench.runner import REPO_ROOT, run_cocotb

    entry = Entry(name, params)
    verilog_text = render(entry)[f"{name}.v"]
    verilog_bytes = verilog_text if isinstance(verilog_text, bytes) else verilog_text.encode()
    key = hashlib.sha256(verilog_bytes + f"{layer_seed} {layers}".encode())
    cached = Path(CYCLES_CACHE) / f"{name}-{key.hexdigest()[:16]}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    # The Verilator build is shared with the tests' (build/cocotb/<name>-<hash of params>).
    digest = hashlib.sha256(params.to_json().encode()).hexdigest()[:10]
    case_dir = REPO_ROOT / "build" / "cocotb" / f"{name}-{digest}"
    case_dir.mkdir(parents=True, exist_ok=True)
    verilog = case_dir / f"{name}.v"
    write_atomic(verilog, verilog_bytes)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cycles.json"
        run_cocotb(verilog_sources=[verilog], toplevel=name, test_module="testbench.deform_tb",
                   build_dir=case_dir / "sim", params_json=params.to_json(), timeout_s=3600,
                   testcase="test_full_rate",
                   extra_env={"DEFORM_LAYER_SEED": str(layer_seed),
                              "DEFORM_CONFIGS": str(layers), "DEFORM_CYCLES_OUT": str(out)})
        result = json.loads(out.read_text())
    cached.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(cached, (json.dumps(result, indent=1, sort_keys=True) + "\n").encode())
    return result


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
    return "\n".join(lines) + "\n" + comparison_markdown(rows)


def _ratio_cell(deformable, plain, spec="d"):
    """``deformable / plain = ratio×``, or — when either is missing."""
    if deformable is None or plain is None:
        return "—"
    ratio = f" = {deformable / plain:.2f}×" if plain else ""
    return f"{format(deformable, spec)} / {format(plain, spec)}{ratio}"


def _synth(row, target):
    result = (row.get("synth", {}) if target != FABRIC_TARGET
              else {FABRIC_TARGET: row["figures"].get("up5k_fabric_multipliers")}).get(target)
    return None if not result or "error" in result else result


def comparison_markdown(rows):
    """The price of deformability: each deformable entry against its plain 3x3 twin (same
    sizes and MAC array), cycles of the same layers and the synthesis results, as ratios
    deformable / plain. Empty when the rows hold no pair."""
    by_name = {row["name"]: row for row in rows}
    header = ["deformable / plain 3x3", "layers (H×W×C, pe)", "rows", "cycles, 3 layers",
              "first layer (cold)", "each next layer", "ECP5 LUT", "ECP5 FF", "ECP5 DSP",
              "ECP5 BRAM", "ECP5 Fmax (MHz)", "iCE40 UP5K, multipliers in LUTs: LUT",
              "FF", "BRAM", "Fmax (MHz)"]
    lines = []
    for plain_name, twins in PLAIN_TWINS.items():
        plain = by_name.get(plain_name)
        for twin in twins:
            deform = by_name.get(twin)
            if plain is None or deform is None:
                continue
            p = plain["params"]
            rate_d = deform["figures"].get("full_rate", {}).get("deformable")
            rate_p = plain["figures"].get("full_rate", {}).get("plain 3x3")

            def rate(key, pick=lambda v: v):
                if rate_d is None or rate_p is None:
                    return "—"
                return _ratio_cell(pick(rate_d[key]), pick(rate_p[key]))

            cells = [f"{twin} / {plain_name}",
                     f"{LAYERS} × {p['h_max']}×{p['w_max']}×{p['c_max']}, pe {p['pe']}",
                     f"{deform['params']['rows']} / {p['rows']}",
                     rate("cycles"), rate("first_layer_cycles"),
                     rate("next_layer_cycles", lambda v: max(v))]
            for target, keys in (("ecp5-85f", ("lut", "ff", "dsp", "bram", "fmax_mhz")),
                                 (FABRIC_TARGET, ("lut", "ff", "bram", "fmax_mhz"))):
                d, q = _synth(deform, target), _synth(plain, target)
                for key in keys:
                    spec = ".1f" if key == "fmax_mhz" else "d"
                    cells.append(_ratio_cell(d and d[key], q and q[key], spec))
            lines.append("| " + " | ".join(cells) + " |")
    if not lines:
        return ""
    return ("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"
            + "\n".join(lines) + "\n")


def main():
    """Measure the compared entries' cycles into the repository's deform report (every other
    figure kept) and rewrite its tables: reports/deform.json, .md and the family page's."""
    from generators.catalog import DEFAULT_CATALOG
    from generators.emit import write_atomic
    from scripts.report import REPO_ROOT, family_page, replace_block

    json_path = REPO_ROOT / "reports" / "deform.json"
    rows = json.loads(json_path.read_text())
    entries = {e.name: e for e in DEFAULT_CATALOG}
    for row in rows:
        if row["name"] in COMPARED:
            entry = entries[row["name"]]
            row["figures"]["full_rate"] = full_rate_cycles(entry.name, entry.params)
            print(row["name"], json.dumps(row["figures"]["full_rate"]), flush=True)
    rows = json.loads(json.dumps(rows, sort_keys=True))
    table = markdown(rows)
    write_atomic(json_path, (json.dumps(rows, indent=2, sort_keys=True) + "\n").encode())
    write_atomic(json_path.with_suffix(".md"), table.encode())
    page = family_page(REPO_ROOT, "deform")
    write_atomic(page, replace_block(page.read_text(encoding="utf-8"), "deform", table).encode())


if __name__ == "__main__":
    main()
