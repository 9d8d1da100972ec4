"""Figures per catalog entry: accuracy against float64, latency, and out-of-context synthesis.

Run through the CLI: ``python -m generators report`` (all) or ``python -m generators synth``.
Writes ``reports/<family>.json`` (every number) and ``reports/<family>.md`` (the table of the
family's page ``docs/families/<family>.md``, which gets a copy between its markers).
"""

import json
from pathlib import Path

import numpy as np

from generators.emit import render, write_atomic, write_files

__all__ = ["gelu_accuracy", "synth_entries", "write_synth_reports", "write_family_reports"]

#: GELU accuracy is measured where it is not trivial, as Edge-MoE's figure is: |x| <= 8.
GELU_RANGE = 8
#: Every code up to this many; beyond, every k-th code (k odd, so positions inside table
#: segments vary) for at least half as many points.
EXHAUSTIVE_LIMIT = 1 << 22

SYNTH_TARGETS = ("ice40-up5k", "ecp5-85f")


def accuracy_inputs(fmt, bound):
    """Input codes of ``fmt`` within ``[-bound, bound]`` used for the accuracy figures."""
    low = max(fmt.min_code, -(bound << fmt.frac))
    high = min(fmt.max_code, bound << fmt.frac)
    count = high - low + 1
    stride = 1 if count <= EXHAUSTIVE_LIMIT else (count // (EXHAUSTIVE_LIMIT // 2)) | 1
    return np.arange(low, high + 1, stride, dtype=np.int64), stride


def gelu_accuracy(params):
    """Max and mean |error| against exact (erf) GELU, in real units and output LSBs."""
    from generators.gelu.model import gelu, gelu_reference, table

    x, stride = accuracy_inputs(params.in_format, GELU_RANGE)
    errors = []
    for chunk in np.array_split(x, max(1, len(x) // (1 << 18))):
        got = params.out_format.to_float(gelu(params, chunk))
        errors.append(np.abs(got - gelu_reference(params.in_format.to_float(chunk))))
    error = np.concatenate(errors)
    lsb = params.out_format.lsb
    result = {
        "range": [float(params.in_format.to_float(x[0])), float(params.in_format.to_float(x[-1]))],
        "points": int(len(x)), "stride": int(stride),
        "max_abs_error": float(error.max()), "mean_abs_error": float(error.mean()),
        "max_error_lsb": float(error.max() / lsb), "mean_error_lsb": float(error.mean() / lsb),
        "worst_input": float(params.in_format.to_float(x[int(error.argmax())])),
    }
    if params.method != "i_gelu":
        tab = table(params)
        width = max(v.bit_length() for v in tab)
        result.update(table_entries=len(tab), table_width=width, table_bits=len(tab) * width)
    return result


def synth_entries(entries, targets, out_dir):
    """Synthesise each entry for each target; one row per (entry, target).

    A block that does not fit or fails timing closure still gets a row, with the tool's message
    in ``error``, so one oversized entry does not hide the others' figures.
    """
    from fpga.ooc import synthesize

    rows = []
    for entry in entries:
        case_dir = Path(out_dir) / entry.name
        case_dir.mkdir(parents=True, exist_ok=True)
        verilog = case_dir / f"{entry.name}.v"
        verilog.write_bytes(render(entry)[f"{entry.name}.v"])
        for target in targets:
            try:
                row = synthesize(verilog, entry.name, target, case_dir / target)
            except RuntimeError as error:
                # First line only, without the log's (machine-specific) path.
                row = {"target": target, "error": str(error).splitlines()[0].split(" (log: ")[0]}
            rows.append({"name": entry.name, **row})
    return rows


SYNTH_COLUMNS = [("name", "block"), ("device", "device"), ("lut", "LUT"), ("ff", "FF"),
                 ("dsp", "DSP"), ("bram", "BRAM"), ("fmax_mhz", "Fmax (MHz)")]


def write_synth_reports(rows, out_dir):
    from fpga.ooc import write_reports

    write_reports(rows, Path(out_dir) / "synth.json", Path(out_dir) / "synth.md", SYNTH_COLUMNS)


def _fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def _gelu_markdown(rows):
    header = ["block", "method", "in → out", "lanes", "latency", "table bits",
              "max \\|err\\|", "mean \\|err\\|", "max err (LSB)", "mean err (LSB)"]
    header += _synth_header()
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        p, acc = row["params"], row["accuracy"]
        cells = [row["name"], p["method"], f"{row['in_format']} → {row['out_format']}",
                 str(p["lanes"]), str(row["latency_cycles"]),
                 str(acc.get("table_bits", "—")),
                 f"{acc['max_abs_error']:.3g}", f"{acc['mean_abs_error']:.3g}",
                 f"{acc['max_error_lsb']:.3g}", f"{acc['mean_error_lsb']:.3g}"]
        lines.append("| " + " | ".join(cells + _synth_cells(row)) + " |")
    return "\n".join(lines) + "\n"


def _synth_header():
    header = []
    for target in SYNTH_TARGETS:
        short = "iCE40" if target.startswith("ice40") else "ECP5"
        header += [f"{short} LUT/FF/DSP/BRAM", f"{short} Fmax"]
    return header


def _synth_target_cells(synth):
    """The resources and Fmax cells of one synthesis row (``None``: not run)."""
    if synth is None:
        return ["not run", "—"]
    if "error" in synth:
        reason = synth["error"].split(": ", 1)[-1]
        return [reason if reason.startswith("does not fit") else "failed", "—"]
    return [f"{synth['lut']}/{synth['ff']}/{synth['dsp']}/{synth['bram']}",
            f"{_fmt(synth['fmax_mhz'], '.1f')} MHz"]


def _synth_cells(row):
    return [cell for target in SYNTH_TARGETS
            for cell in _synth_target_cells(row.get("synth", {}).get(target))]


def _softmax_markdown(rows):
    header = ["block", "method", "in → out", "lanes", "max_len", "latency", "elements/cycle",
              "max err (LSB)", "mean err (LSB)", "worst \\|sum−1\\|", "top-1 (decisive)",
              "I-BERT max err (LSB)", "I-BERT top-1", "hls4ml max err (LSB)", "hls4ml top-1"]
    header += _synth_header()
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        p, acc = row["params"], row["accuracy"]
        own, ibert, hls = acc[p["method"]], acc["ibert"], acc["hls4ml_stable"]
        cells = [row["name"], p["method"], f"{row['in_format']} → {row['out_format']}",
                 str(p["lanes"]), str(p["max_len"]), str(row["latency_cycles"]),
                 f"{row['throughput']['elements_per_cycle']:.2f}",
                 f"{own['max_error_lsb']:.2f}", f"{own['mean_error_lsb']:.3f}",
                 f"{own['worst_sum_error']:.3f}", f"{own['top1_agreement_decisive']:.3f}",
                 f"{ibert['max_error_lsb']:.1f}", f"{ibert['top1_agreement_decisive']:.3f}",
                 f"{hls['max_error_lsb']:.1f}", f"{hls['top1_agreement_decisive']:.3f}"]
        lines.append("| " + " | ".join(cells + _synth_cells(row)) + " |")
    # Where the error comes from: the same figures per kind of row.
    lines += ["", "Per kind of row: max error in output LSBs (ours / I-BERT / hls4ml) and top-1 "
              "agreement on decisive rows (ours / I-BERT / hls4ml).", ""]
    kinds = list(rows[0]["accuracy"][rows[0]["params"]["method"]]["by_distribution"]) \
        if rows else []
    header = ["block"] + [f"{kind}: max err" for kind in kinds] + [f"{kind}: top-1"
                                                                  for kind in kinds]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        acc = row["accuracy"]
        methods = [acc[row["params"]["method"]], acc["ibert"], acc["hls4ml_stable"]]
        errors = [" / ".join(f"{m['by_distribution'][k]['max_error_lsb']:.2f}" for m in methods)
                  for k in kinds]
        top1 = [" / ".join(f"{m['by_distribution'][k]['top1_agreement_decisive']:.3f}"
                           for m in methods) for k in kinds]
        lines.append("| " + " | ".join([row["name"]] + errors + top1) + " |")
    return "\n".join(lines) + "\n"


def _softmax_figures(params):
    from scripts.softmax_figures import softmax_accuracy, softmax_throughput

    return {"accuracy": softmax_accuracy(params), "throughput": softmax_throughput(params)}


def _deform_figures(params):
    from scripts.deform_figures import deform_figures

    return deform_figures(params)


def _deform_markdown(rows):
    header = ["block", "mode", "offsets", "pe (× po)", "max H×W×C (→ C out)", "d_max", "rows",
              "weights", "latency", "cycles/beat", "peak MACs/cycle (pe·9 (·po) / passes)",
              "model vs reference max diff", "bilinear float-offset error / bound"]
    header += _synth_header() + ["iCE40, multipliers in LUTs: LUT/FF/DSP/BRAM", "Fmax"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        p, model = row["params"], row["figures"]["model"]
        ratio = model.get("float_offset_error_over_bound")
        full = p.get("mode") == "full"
        cells = [row["name"], p.get("mode", "depthwise"),
                 p["offset_mode"] + (" + mask" if p.get("mask") else ""),
                 f"{p['pe']} × {p['po']}" if full else str(p["pe"]),
                 f"{p['h_max']}×{p['w_max']}×{p['c_max']}"
                 + (f" → {p['co_max']}" if full else ""), str(p["d_max"]),
                 str(p["rows"]), f"INT{p['weight_bits']}", str(row["latency_cycles"]),
                 str(row["initiation_interval"]),
                 f"{row['figures']['peak_macs_per_cycle']:g}",
                 f"{model['max_diff_vs_reference']:g}",
                 "—" if ratio is None else f"{ratio:.3f}"]
        fabric = _synth_target_cells(row["figures"].get("up5k_fabric_multipliers"))
        lines.append("| " + " | ".join(cells + _synth_cells(row) + fabric) + " |")
    return "\n".join(lines) + "\n"


def _lut_tc_figures(params):
    from scripts.lut_tc_figures import lut_tc_figures

    return lut_tc_figures(params)


def _lut_tc_markdown(rows):
    from scripts.lut_tc_markdown import lut_tc_markdown

    return lut_tc_markdown(rows, _synth_header, _synth_cells)


def _sparse_dsp_figures(params):
    """Dense-equivalent MACs per cycle from the shape (L*M/N: one non-zero product per lane per
    cycle), the busy fraction and latency measured in simulation, and the Fmax yardstick: a
    single registered DSP multiply-accumulate built by the same flow."""
    from scripts.sparse_dsp_figures import registered_mac_synth, sparse_dsp_timing

    mac = registered_mac_synth(params.acc_bits, SYNTH_TARGETS)
    return {"dense_equivalent_macs_per_cycle": {
        str(n): params.lanes * params.m // n for n in params.supported_n},
        "accumulator_bits": params.acc_bits, "timing": sparse_dsp_timing(params),
        "registered_mac_fmax_mhz": {t: r["fmax_mhz"] for t, r in mac.items()}}


def _sparse_dsp_markdown(rows):
    header = ["block", "lanes", "M", "N (run time)", "weights", "max K", "packed", "latency",
              "dense-equivalent MACs/cycle (per N)", "DSP busy fraction (per N, simulated)",
              "acc bits"] + _synth_header()
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        p = row["params"]
        macs = ", ".join(f"{n}:{p['m']} → {v}" for n, v in
                         row["dense_equivalent_macs_per_cycle"].items())
        busy = ", ".join(f"{n}:{p['m']} → {v:.3f}" for n, v in
                         row["timing"]["busy_fraction"].items())
        cells = [row["name"], str(p["lanes"]), str(p["m"]),
                 ", ".join(map(str, p["supported_n"])), f"INT{p['weight_bits']}",
                 str(p["max_k"]), "yes" if p.get("packed") else "no",
                 str(row["timing"]["latency_cycles"]), macs, busy, str(row["accumulator_bits"])]
        lines.append("| " + " | ".join(cells + _synth_cells(row)) + " |")
    # Fmax against the yardstick, and the LUT cost of sparse support against the dense-only
    # chain of the same lanes and M (when both are in the report).
    lines += ["", "Fmax as a fraction of a single registered DSP multiply-accumulate (8×8, "
              "inputs, product and accumulator registered, same flow), and LUTs against the "
              "dense-only chain of the same lanes and M.", ""]
    header = ["block"]
    for target in SYNTH_TARGETS:
        short = "iCE40" if target.startswith("ice40") else "ECP5"
        header += [f"{short} MAC Fmax", f"{short} chain / MAC", f"{short} LUTs vs dense-only"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    dense = {(r["params"]["lanes"], r["params"]["m"]): r for r in rows
             if tuple(r["params"]["supported_n"]) == (r["params"]["m"],)}
    for row in rows:
        p = row["params"]
        cells = [row["name"]]
        for target in SYNTH_TARGETS:
            mac = row["registered_mac_fmax_mhz"].get(target)
            synth = row.get("synth", {}).get(target) or {}
            base = dense.get((p["lanes"], p["m"]), {}).get("synth", {}).get(target) or {}
            ratio = "—" if not (mac and synth.get("fmax_mhz")) else \
                f"{synth['fmax_mhz'] / mac:.2f}"
            luts = "—" if not (synth.get("lut") and base.get("lut")) else \
                f"{synth['lut'] / base['lut']:.2f}×"
            cells += [f"{_fmt(mac, '.1f')} MHz", ratio, luts]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


FAMILY_REPORTS = {
    "gelu": (lambda params: {"accuracy": gelu_accuracy(params)}, _gelu_markdown),
    "softmax": (_softmax_figures, _softmax_markdown),
    "deform": (lambda params: {"figures": _deform_figures(params)}, _deform_markdown),
    "lut_tc": (_lut_tc_figures, _lut_tc_markdown),
    "sparse_dsp": (_sparse_dsp_figures, _sparse_dsp_markdown),
}


def write_family_reports(entries, out_dir, synth=True):
    """Measure ``entries`` and write one JSON + Markdown pair per family into ``out_dir``, and
    each family's table into its page in the repository around ``out_dir`` (``out_dir/..``, so
    ``docs/families/<family>.md`` for ``reports``; a page without markers is left alone); return
    the paths written."""
    out_dir = Path(out_dir)
    by_family = {}
    for entry in entries:
        by_family.setdefault(entry.params.family, []).append(entry)
    paths = []
    for family, members in sorted(by_family.items()):
        json_path, md_path = out_dir / f"{family}.json", out_dir / f"{family}.md"
        synth_rows = synth_entries(members, SYNTH_TARGETS, Path("build/synth")) if synth else []
        # Without synthesis, keep the figures of the last full report for unchanged blocks.
        previous = {row["name"]: row for row in
                    (json.loads(json_path.read_text()) if json_path.is_file() and not synth
                     else [])}
        rows = []
        for entry in members:
            manifest = json.loads(render(entry)[f"{entry.name}.json"])
            rows.append({
                "name": entry.name, "params": entry.params.to_dict(),
                # Families without one element format per side (several streams) leave these out.
                **{side: getattr(entry.params, side).name for side in ("in_format", "out_format")
                   if hasattr(entry.params, side)},
                "latency_cycles": manifest["latency_cycles"],
                "initiation_interval": manifest["initiation_interval"],
                **FAMILY_REPORTS[family][0](entry.params),
                "synth": {r["target"]: {k: v for k, v in r.items() if k != "name"}
                          for r in synth_rows if r["name"] == entry.name},
            })
            kept = previous.get(entry.name)
            if kept and kept["params"] == rows[-1]["params"]:
                rows[-1]["synth"] = kept["synth"]
        markdown = FAMILY_REPORTS[family][1](rows)
        write_files({json_path.name: (json.dumps(rows, indent=2, sort_keys=True) + "\n").encode(),
                     md_path.name: markdown.encode()}, out_dir)
        paths += [json_path, md_path]
        # The family's page beside the report folder (the repository's, for --out reports).
        page = family_page(out_dir.parent, family)
        if update_block(page, family, markdown):
            paths.append(page)
    return paths


def family_page(root, family):
    """The docs page of ``family`` in the repository at ``root``."""
    return Path(root) / "docs" / "families" / f"{family}.md"


def _block_span(text, name):
    """Start and end offsets of the text between a page's ``report:<name>`` markers."""
    start, end = f"<!-- report:{name} -->\n", f"<!-- /report:{name} -->"
    if start not in text or end not in text:
        return None
    return text.index(start) + len(start), text.index(end)


def report_block(text, name):
    """The text between the ``report:<name>`` markers of a page, or None."""
    span = _block_span(text, name)
    return None if span is None else text[span[0]:span[1]]


def update_block(page, name, table):
    """Put ``table`` between the ``report:<name>`` markers of ``page``; True if it has them."""
    if not page.is_file():
        return False
    text = page.read_text(encoding="utf-8")
    span = _block_span(text, name)
    if span is None:
        return False
    write_atomic(page, (text[:span[0]] + table + text[span[1]:]).encode())
    return True


# Old names: fpga/bitstream.py still writes the board table through update_readme; it moves to
# docs/boards.md (update_block) at the merge, and then these two go.
readme_block, update_readme = report_block, update_block
