"""GELU figures: accuracy against exact (erf) GELU over the inputs that matter, and the table
the report shows (with the synthesis cells)."""

import numpy as np

from generators.gelu.model import gelu, gelu_reference, table

from scripts.tables import synth_cells, synth_header

__all__ = ["gelu_accuracy", "figures", "markdown"]

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
    if params.method != "i_gelu":
        tab = table(params)
        width = max(v.bit_length() for v in tab)
        result.update(table_entries=len(tab), table_width=width, table_bits=len(tab) * width)
    return result


def figures(params):
    """The report row's GELU figures."""
    return {"accuracy": gelu_accuracy(params)}


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
