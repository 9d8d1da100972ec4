"""GELU figures: accuracy against exact (erf) GELU over the inputs that matter, and the table
the report shows (with the synthesis cells)."""

from pathlib import Path

import numpy as np

from generators.gelu.model import direct_table, gelu, gelu_reference, table
from generators.gelu.params import GeluParams

from scripts.tables import SYNTH_TARGETS, synth_cells, synth_header, synth_target_cells

__all__ = ["gelu_accuracy", "figures", "markdown", "COMPARISON_FORMATS", "comparison_params",
           "method_comparison", "comparison_markdown"]

#: GELU accuracy is measured where it is not trivial, as Edge-MoE's figure is: |x| <= 8.
GELU_RANGE = 8
#: Every code up to this many; beyond, every k-th code (k odd, so positions inside table
#: segments vary) for at least half as many points.
EXHAUSTIVE_LIMIT = 1 << 22


def accuracy_inputs(fmt, bound):
    """Input codes of ``fmt`` within ``[-bound, bound]`` used for the accuracy figures."""
    low = max(fmt.min_code, -(bound << fmt.frac))
    high = min(fmt.max_code, bound << fmt.frac)
    count = high - low + 1
    stride = 1 if count <= EXHAUSTIVE_LIMIT else (count // (EXHAUSTIVE_LIMIT // 2)) | 1
    return np.arange(low, high + 1, stride, dtype=np.int64), stride


def gelu_accuracy(params):
    """Max and mean |error| against exact (erf) GELU, in real units and output LSBs."""
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
    if params.method == "direct_table":
        entries = len(direct_table(params))
        result.update(table_entries=entries, table_width=params.out_width,
                      table_bits=entries * params.out_width)
    elif params.method != "i_gelu":
        tab = table(params)
        width = max(v.bit_length() for v in tab)
        result.update(table_entries=len(tab), table_width=width, table_bits=len(tab) * width)
    return result


def figures(params):
    """The report row's GELU figures."""
    return {"accuracy": gelu_accuracy(params)}


# --- direct table against interpolation ----------------------------------------------------------

#: (in_width, in_frac) of the comparison, output in the input's format: ranges +-4 at 8 and 10
#: bits, +-8 at 12 and 16 bits.
COMPARISON_FORMATS = ((8, 5), (10, 7), (12, 8), (16, 12))
COMPARISON_METHODS = ("direct_table", "fitted_pwl")
#: Two lanes everywhere: four 16-bit direct tables (4 Mbit) would not fit the ECP5 85F.
COMPARISON_LANES = 2
#: Out-of-context builds outside the catalog, cached by the Verilog's content.
COMPARISON_CACHE = Path("build/synth/gelu_direct_vs_pwl")


def comparison_params(width, frac, method):
    return GeluParams(method=method, lanes=COMPARISON_LANES, in_width=width, in_frac=frac,
                      out_width=width, out_frac=frac)


def _comparison_synth(params, target, cached_only):
    from amaranth.back import verilog

    from fpga.ooc import synthesize_cached
    from generators.axis import AxisTop
    from generators.gelu.rtl import Gelu

    text = verilog.convert(AxisTop(Gelu(params)), name="gelu_block", emit_src=False)
    return synthesize_cached(text, "gelu_block", target, COMPARISON_CACHE,
                             cached_only=cached_only)


def method_comparison(cached_only=False):
    """Both methods at every width of :data:`COMPARISON_FORMATS`: accuracy over every input
    code (exhaustive: the formats are at most 16 bits, within +-8) and synthesis per target
    (``None`` where ``cached_only`` and not yet built)."""
    rows = []
    for width, frac in COMPARISON_FORMATS:
        for method in COMPARISON_METHODS:
            params = comparison_params(width, frac, method)
            rows.append({"in_width": width, "format": params.in_format.name, "method": method,
                         "lanes": params.lanes, "accuracy": gelu_accuracy(params),
                         "synth": {t: _comparison_synth(params, t, cached_only)
                                   for t in SYNTH_TARGETS}})
    return rows


def comparison_markdown(rows):
    header = ["in → out", "method", "lanes", "table bits", "max err (LSB)", "mean err (LSB)"]
    header += synth_header()
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        acc = row["accuracy"]
        cells = [f"{row['format']} → {row['format']}", row["method"], str(row["lanes"]),
                 str(acc["table_bits"]), f"{acc['max_error_lsb']:.3f}",
                 f"{acc['mean_error_lsb']:.3f}"]
        cells += [c for t in SYNTH_TARGETS for c in synth_target_cells(row["synth"][t])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown(rows):
    """The report table of GELU rows."""
    header = ["block", "method", "in → out", "lanes", "latency", "table bits",
              "max \\|err\\|", "mean \\|err\\|", "max err (LSB)", "mean err (LSB)"]
    header += synth_header()
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        p, acc = row["params"], row["accuracy"]
        cells = [row["name"], p["method"], f"{row['in_format']} → {row['out_format']}",
                 str(p["lanes"]), str(row["latency_cycles"]),
                 str(acc.get("table_bits", "—")),
                 f"{acc['max_abs_error']:.3g}", f"{acc['mean_abs_error']:.3g}",
                 f"{acc['max_error_lsb']:.3g}", f"{acc['mean_error_lsb']:.3g}"]
        lines.append("| " + " | ".join(cells + synth_cells(row)) + " |")
    return "\n".join(lines) + "\n"
