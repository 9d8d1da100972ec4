"""Softmax figures: accuracy against float64 beside the I-BERT and hls4ml baselines, and the
throughput measured in simulation on back-to-back vectors."""

import math

import numpy as np

from generators.softmax.baselines import hls4ml_softmax_stable, ibert_softmax
from generators.softmax.baselines import softmax_reference as softmax_float
from generators.softmax.model import softmax

from scripts.tables import synth_cells, synth_header

SEED = 2026
ROWS = 300
ROW_LENGTH = 64
#: Logits like attention scores: N(0, sigma) for several sigma, and heavy-tailed rows.
DISTRIBUTIONS = ("normal 1", "normal 2", "normal 4", "student-t 2")


def _rows(params, name, rng):
    length = min(ROW_LENGTH, params.max_len) // params.lanes * params.lanes
    kind, spread = name.split()
    for _ in range(ROWS):
        if kind == "normal":
            values = rng.normal(0.0, float(spread), length)
        else:
            values = rng.standard_t(float(spread), length)
        codes = np.floor(values * 2**params.in_frac + 0.5)
        yield np.clip(codes, params.in_format.min_code, params.in_format.max_code).astype(np.int64)


def _methods(params):
    """(label, output codes of one row, float reference of one row) per compared method."""
    in_fmt, out_fmt = params.in_format, params.out_format
    scale = math.log(2.0) if params.method == "base2" else 1.0
    return [
        (params.method, lambda x: softmax(params, x),
         lambda x: softmax_float(in_fmt.to_float(x) * scale)),
        ("ibert", lambda x: ibert_softmax(x, in_fmt, out_fmt),
         lambda x: softmax_float(in_fmt.to_float(x))),
        # Saturating output cast: with hls4ml's default wrap, p = 1.0 becomes 0 in an 8.8 output.
        ("hls4ml_stable", lambda x: hls4ml_softmax_stable(x, in_fmt, out_fmt,
                                                          out_overflow="AP_SAT"),
         lambda x: softmax_float(in_fmt.to_float(x))),
    ]


def softmax_accuracy(params):
    """Per method: max/mean |error| (real and output LSBs), worst |sum - 1|, top-1 agreement."""
    lsb = params.out_format.lsb
    result = {}
    for label, hardware, ideal in _methods(params):
        worst = total = worst_sum = 0.0
        count = agree = decisive = decisive_agree = 0
        by_distribution = {}
        rng = np.random.default_rng(SEED)
        for name in DISTRIBUTIONS:
            worst_here, decisive_here, agree_here = 0.0, 0, 0
            for x in _rows(params, name, rng):
                got = params.out_format.to_float(hardware(x))
                ref = ideal(x)
                error = np.abs(got - ref)
                worst, total, count = max(worst, error.max()), total + error.sum(), count + len(x)
                worst_sum = max(worst_sum, abs(got.sum() - 1.0))
                same = int(np.argmax(got) == np.argmax(ref))
                agree += same
                top2 = np.sort(ref)[-2:]
                worst_here = max(worst_here, error.max())
                if len(ref) < 2 or top2[1] - top2[0] > lsb:
                    decisive += 1
                    decisive_agree += same
                    decisive_here += 1
                    agree_here += same
            by_distribution[name] = {
                "max_error_lsb": float(worst_here / lsb),
                "top1_agreement_decisive": agree_here / decisive_here if decisive_here else 1.0}
        rows = ROWS * len(DISTRIBUTIONS)
        result[label] = {
            "max_abs_error": float(worst), "mean_abs_error": float(total / count),
            "max_error_lsb": float(worst / lsb), "mean_error_lsb": float(total / count / lsb),
            "worst_sum_error": float(worst_sum), "top1_agreement": agree / rows,
            "top1_agreement_decisive": decisive_agree / decisive if decisive else 1.0,
            "by_distribution": by_distribution,
        }
    return result


def softmax_throughput(params, vectors=24):
    """Input elements per cycle on back-to-back vectors of mixed lengths, no backpressure,
    measured in Amaranth's simulator: accepted elements over cycles from first to last accept.
    The outputs are checked against the model, so a figure never comes from a wrong run."""
    from amaranth.sim import Simulator

    from generators.simkit import add_consumer, add_producer, monitor_streams
    from generators.softmax.rtl import softmax_core

    dut = softmax_core(params)
    rng = np.random.default_rng(SEED)
    lanes, beats_max = params.lanes, params.max_len // params.lanes
    lengths = [int(b) for b in rng.integers(1, beats_max + 1, vectors)] + [1, beats_max, 1]
    beats, rows = [], []
    for length in lengths:
        rows.append([])
        for beat in range(length):
            codes = [int(rng.integers(-8, 8)) for _ in range(lanes)]
            rows[-1] += codes
            beats.append({"data": codes, "mask": 0, "last": int(beat == length - 1)})

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    monitors = monitor_streams(sim, dut)
    add_producer(sim, dut.i, beats)
    outputs = add_consumer(sim, dut.o, len(beats))
    sim.run()
    expected = [int(v) for row in rows for v in softmax(params, np.array(row))]
    if [v for beat in outputs for v in beat["data"]] != expected:
        raise AssertionError("softmax_throughput: RTL output differs from the model")
    accepted = monitors["i"].transfers
    cycles = accepted[-1] - accepted[0] + 1
    return {"vectors": len(lengths), "beats": len(accepted), "cycles": cycles,
            "elements_per_cycle": len(accepted) * lanes / cycles}


def figures(params):
    """The report row's softmax figures."""
    return {"accuracy": softmax_accuracy(params), "throughput": softmax_throughput(params)}


def markdown(rows):
    """The report tables of softmax rows: figures per block, then per kind of row."""
    header = ["block", "method", "in → out", "lanes", "max_len", "latency", "elements/cycle",
              "max err (LSB)", "mean err (LSB)", "worst \\|sum−1\\|", "top-1 (decisive)",
              "I-BERT max err (LSB)", "I-BERT top-1", "hls4ml max err (LSB)", "hls4ml top-1"]
    header += synth_header()
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
        lines.append("| " + " | ".join(cells + synth_cells(row)) + " |")
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
