"""Softmax figures: accuracy against float64 beside the I-BERT and hls4ml baselines, and the
throughput measured in simulation on back-to-back vectors.

Accuracy has two parts (issue 19: figures that hold as bounds):

* the population: ``ROWS`` seeded random rows per distribution at each length of
  :func:`lengths` (16, 64 and ``max_len``), every method on the same rows;
* an adversarial search for the worst rows: every length 1..max_len of a dominant element over
  equal others (every code of the others, so p runs over 0.5..0.99 and beyond), near-ties,
  the input range's extremes, then a hill climb from the worst rows found. The table reports
  the worst found; the baselines are measured on the same structured rows (not climbed).

A row's error is max |y - p| in output LSBs over its elements; ``unsaturated`` leaves out the
elements whose ideal p lies within half an LSB of 1.0, which the output format cannot hold (a
p of 1.0 saturates to 1 - 1 LSB: 1.0 LSB is the format's floor there).
"""

import math

import numpy as np

from generators.softmax.baselines import hls4ml_softmax_stable, ibert_softmax
from generators.softmax.baselines import softmax_reference as softmax_float
from generators.softmax.model import softmax

from scripts.tables import synth_cells, synth_header

SEED = 2026
ROWS = 100_000
#: Logits like attention scores: N(0, sigma) for several sigma, and heavy-tailed rows.
DISTRIBUTIONS = ("normal 1", "normal 2", "normal 4", "student-t 2")
#: Elements per batch evaluated at once (memory, not results, depends on it).
BATCH_ELEMENTS = 1 << 21
#: The hill climb: rows kept, mutants per row and rounds.
CLIMB_POOL, CLIMB_MUTANTS, CLIMB_ROUNDS = 48, 24, 40


def lengths(params):
    """The population's row lengths: 16, 64 and max_len (those up to max_len)."""
    return tuple(sorted({n for n in (16, 64) if n <= params.max_len} | {params.max_len}))


def random_rows(params, name, length, count, rng):
    """``count`` rows of ``length`` logit codes of distribution ``name``."""
    kind, spread = name.split()
    if kind == "normal":
        values = rng.normal(0.0, float(spread), (count, length))
    else:
        values = rng.standard_t(float(spread), (count, length))
    codes = np.floor(values * 2**params.in_frac + 0.5)
    return np.clip(codes, params.in_format.min_code, params.in_format.max_code).astype(np.int64)


def _methods(params):
    """(label, output codes of a batch, float reference of a batch) per compared method; each
    takes ``(x, mask)``."""
    in_fmt, out_fmt = params.in_format, params.out_format
    scale = math.log(2.0) if params.method == "base2" else 1.0

    def natural(x, mask):
        return softmax_float(in_fmt.to_float(x), mask)

    return [
        (params.method, lambda x, mask: softmax(params, x, mask),
         lambda x, mask: softmax_float(in_fmt.to_float(x) * scale, mask)),
        ("ibert", lambda x, mask: ibert_softmax(x, in_fmt, out_fmt, mask), natural),
        # Saturating output cast: with hls4ml's default wrap, p = 1.0 becomes 0 in an 8.8 output.
        ("hls4ml_stable", lambda x, mask: hls4ml_softmax_stable(x, in_fmt, out_fmt, mask=mask,
                                                                out_overflow="AP_SAT"), natural),
    ]


def row_errors(params, hardware, ideal, x, mask):
    """Per row: max error (LSB), max error on unsaturated elements (LSB), sum of |error| (LSB),
    |sum - 1|, whether the top-1 agrees, whether the row is decisive (its two largest ideal
    probabilities differ by more than an LSB)."""
    lsb = params.out_format.lsb
    got = params.out_format.to_float(hardware(x, mask))
    ref = ideal(x, mask)
    error = np.abs(got - ref) / lsb
    unsaturated = np.where(ref < 1.0 - lsb / 2, error, 0.0)
    same = np.argmax(got, axis=-1) == np.argmax(ref, axis=-1)
    if ref.shape[-1] > 1:
        top2 = np.sort(ref, axis=-1)[:, -2:]
        decisive = top2[:, 1] - top2[:, 0] > lsb
    else:
        decisive = np.ones(len(ref), dtype=bool)
    return (error.max(axis=-1), unsaturated.max(axis=-1), error.sum(axis=-1),
            np.abs(got.sum(axis=-1) - 1.0), same, decisive)


class Tally:
    """Running figures of one method over batches of rows."""

    def __init__(self):
        self.rows = self.elements = self.decisive = self.agree = 0
        self.worst = self.worst_unsaturated = self.total = self.worst_sum = 0.0
        self.worst_row = None

    def add(self, errors, x, mask):
        worst, unsaturated, total, sums, same, decisive = errors
        if len(worst) and worst.max() > self.worst:
            i = int(np.argmax(worst))
            self.worst = float(worst[i])
            self.worst_row = [int(v) for v, m in zip(x[i], mask[i]) if not m]
        self.worst_unsaturated = max(self.worst_unsaturated, float(unsaturated.max(initial=0)))
        self.rows += len(worst)
        self.elements += int((~mask).sum())
        self.total += float(total.sum())
        self.worst_sum = max(self.worst_sum, float(sums.max(initial=0)))
        self.decisive += int(decisive.sum())
        self.agree += int((same & decisive).sum())

    def figures(self):
        return {"rows": self.rows, "max_error_lsb": self.worst,
                "max_error_lsb_unsaturated": self.worst_unsaturated,
                "mean_error_lsb": self.total / max(self.elements, 1),
                "worst_sum_error": self.worst_sum,
                "top1_agreement_decisive": self.agree / self.decisive if self.decisive else 1.0,
                "worst_row": self.worst_row}


def _batches(x, mask):
    step = max(BATCH_ELEMENTS // x.shape[1], 1)
    for start in range(0, len(x), step):
        yield x[start:start + step], mask[start:start + step]


def population_accuracy(params, seed=SEED, rows=ROWS):
    """Per method, per length and distribution, and over everything: a :class:`Tally`'s
    figures on ``rows`` random rows per distribution and length (the same rows for every
    method)."""
    methods = _methods(params)
    overall = {label: Tally() for label, _, _ in methods}
    cells = {}
    rng = np.random.default_rng(seed)
    for length in lengths(params):
        for name in DISTRIBUTIONS:
            here = {label: Tally() for label, _, _ in methods}
            x = random_rows(params, name, length, rows, rng)
            for xb, mb in _batches(x, np.zeros(x.shape, dtype=bool)):
                for label, hardware, ideal in methods:
                    errors = row_errors(params, hardware, ideal, xb, mb)
                    here[label].add(errors, xb, mb)
                    overall[label].add(errors, xb, mb)
            cells[f"{name} @ {length}"] = {label: t.figures() for label, t in here.items()}
    return {label: t.figures() for label, t in overall.items()}, cells


def _padded(rows, width):
    """Rows of several lengths as one batch: each padded with masked elements to ``width``
    (a masked element is not an element: the same as a shorter vector)."""
    x = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.ones((len(rows), width), dtype=bool)
    for i, row in enumerate(rows):
        x[i, :len(row)] = row
        mask[i, :len(row)] = False
    return x, mask


def structured_rows(params, lengths_=None):
    """The adversarial search's directed rows, per length (1..max_len unless given): a dominant
    element (at the first or the last position, several codes) over equal others of every code
    below it; two near-tied leaders over equal others; the extremes of the input range."""
    fmt = params.in_format
    top, bottom = fmt.max_code, fmt.min_code
    # Leaders at the top of the range, at 0 and with fraction bits that land between table nodes.
    leaders = sorted({top, 0, min(top, 7), min(top, 13)})
    for length in (lengths_ or range(1, params.max_len + 1)):
        rows = []
        for leader in leaders:
            others = np.arange(bottom, leader + 1, dtype=np.int64)
            block = np.repeat(others[:, None], length, axis=1)
            first = block.copy()
            first[:, 0] = leader
            last = block.copy()
            last[:, -1] = leader
            rows += [first, last]
            if length >= 2:
                tied = block.copy()
                tied[:, 0] = leader
                tied[:, 1] = max(leader - 1, bottom)
                rows.append(tied)
        extremes = [np.full(length, top), np.full(length, bottom),
                    np.where(np.arange(length) % 2, bottom, top),
                    np.where(np.arange(length) % 2, top, bottom)]
        rows.append(np.array(extremes, dtype=np.int64))
        yield length, np.concatenate(rows)


def _climb(params, hardware, ideal, seeds, rng):
    """Hill climb on the row's unsaturated error (the saturated one is the format's floor)
    from ``seeds`` (rows of various lengths): each round every
    kept row spawns mutants (one to three elements moved by up to 16 codes, or set anywhere);
    a row is replaced by its worst mutant when that is worse. Returns (error, row) pairs."""
    fmt = params.in_format
    pool = [np.asarray(row, dtype=np.int64) for row in seeds]
    x, mask = _padded(pool, params.max_len)
    scores = row_errors(params, hardware, ideal, x, mask)[1]
    for _ in range(CLIMB_ROUNDS):
        mutants, owners = [], []
        for i, row in enumerate(pool):
            for _ in range(CLIMB_MUTANTS):
                child = row.copy()
                for _ in range(int(rng.integers(1, 4))):
                    k = int(rng.integers(len(child)))
                    if rng.random() < 0.25:
                        child[k] = int(rng.integers(fmt.min_code, fmt.max_code + 1))
                    else:
                        child[k] += int(rng.integers(-16, 17))
                mutants.append(np.clip(child, fmt.min_code, fmt.max_code))
                owners.append(i)
        x, mask = _padded(mutants, params.max_len)
        errors = row_errors(params, hardware, ideal, x, mask)[1]
        owners = np.asarray(owners)
        for i in range(len(pool)):
            mine = np.flatnonzero(owners == i)
            best = mine[int(np.argmax(errors[mine]))]
            if errors[best] > scores[i]:
                pool[i], scores[i] = mutants[best], errors[best]
    return list(zip(scores, pool))


def adversarial_accuracy(params, seed=SEED, lengths_=None, climb=True):
    """Per method: a :class:`Tally`'s figures over :func:`structured_rows`; the block's own
    method then climbs from its worst rows (and the population's worst, ``seeds``), and the
    climb's worst row enters its figures."""
    methods = _methods(params)
    tallies = {label: Tally() for label, _, _ in methods}
    own = params.method
    candidates = []
    for _, rows in structured_rows(params, lengths_):
        mask = np.zeros(rows.shape, dtype=bool)
        for xb, mb in _batches(rows, mask):
            for label, hardware, ideal in methods:
                errors = row_errors(params, hardware, ideal, xb, mb)
                tallies[label].add(errors, xb, mb)
                if label == own:
                    worst = np.argsort(errors[1])[-4:]
                    candidates += [(float(errors[1][i]), xb[i][~mb[i]]) for i in worst]
    figures = {label: t.figures() for label, t in tallies.items()}
    if climb:
        _, hardware, ideal = methods[0]
        rng = np.random.default_rng(seed)
        candidates.sort(key=lambda pair: -pair[0])
        seeds = [row for _, row in candidates[:CLIMB_POOL]]
        results = _climb(params, hardware, ideal, seeds, rng)
        x, mask = _padded([row for _, row in results], params.max_len)
        tally = Tally()
        tally.add(row_errors(params, hardware, ideal, x, mask), x, mask)
        climbed = tally.figures()
        best = figures[own]
        for key in ("max_error_lsb", "max_error_lsb_unsaturated", "worst_sum_error"):
            if climbed[key] > best[key]:
                best[key] = climbed[key]
                if key == "max_error_lsb":
                    best["worst_row"] = climbed["worst_row"]
        best["climbed_rows"] = len(results) * CLIMB_MUTANTS * CLIMB_ROUNDS
    return figures


def softmax_accuracy(params, seed=SEED, rows=ROWS):
    """Per method: the population's figures, the adversarial search's, and both together
    (``bound``: the larger of the two maxima)."""
    population, cells = population_accuracy(params, seed, rows)
    adversarial = adversarial_accuracy(params, seed)
    result = {}
    for label in population:
        pop, adv = population[label], adversarial[label]
        result[label] = {
            "population": pop, "adversarial": adv,
            "by_distribution": {cell: methods[label] for cell, methods in cells.items()},
            "max_error_lsb": max(pop["max_error_lsb"], adv["max_error_lsb"]),
            "max_error_lsb_unsaturated": max(pop["max_error_lsb_unsaturated"],
                                             adv["max_error_lsb_unsaturated"]),
            "mean_error_lsb": pop["mean_error_lsb"],
            "worst_sum_error": max(pop["worst_sum_error"], adv["worst_sum_error"]),
            "worst_sum_error_64": max((m[label]["worst_sum_error"] for c, m in cells.items()
                                       if c.endswith("@ 64")), default=None),
            "top1_agreement_decisive": pop["top1_agreement_decisive"],
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
    lengths_ = [int(b) for b in rng.integers(1, beats_max + 1, vectors)] + [1, beats_max, 1]
    beats, rows = [], []
    for length in lengths_:
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
    return {"vectors": len(lengths_), "beats": len(accepted), "cycles": cycles,
            "elements_per_cycle": len(accepted) * lanes / cycles}


def figures(params):
    """The report row's softmax figures."""
    return {"accuracy": softmax_accuracy(params), "throughput": softmax_throughput(params)}


def _population_text(rows):
    if not rows:
        return ""
    row = rows[0]
    own = row["accuracy"][row["params"]["method"]]
    cells = list(own["by_distribution"])
    per_cell = own["by_distribution"][cells[0]]["rows"]
    adv = own["adversarial"]
    sizes = ", ".join(sorted({cell.split(" @ ")[1] for cell in cells}, key=int))
    return (f"Population: {per_cell:,} seeded rows (seed {SEED}) per distribution "
            f"({', '.join(DISTRIBUTIONS)}) and length ({sizes}), "
            f"{own['population']['rows']:,} rows per block, every method on the same rows; "
            f"then an adversarial search: {adv['rows']:,} directed rows (a dominant element "
            f"over equal others of every code, first or last, near-ties, the range's extremes; "
            f"every length 1..max_len) and a hill climb of {adv.get('climbed_rows', 0):,} "
            f"mutated rows from the worst. Max err is the worst over both (a bound found, not "
            f"a sample); \"unsat.\" leaves out elements whose ideal p is within ½ LSB of 1.0, "
            f"which u8.8 cannot hold (1.0 saturates to 255/256: 1.0 LSB is the format's floor). "
            f"Mean err and top-1 are over the population. I-BERT and hls4ml are measured on "
            f"the same rows (the directed ones, not climbed for them).")


def markdown(rows):
    """The report tables of softmax rows: figures per block, then per kind of row."""
    header = ["block", "method", "in → out", "lanes", "max_len", "latency", "elements/cycle",
              "max err (LSB)", "max err, unsat. (LSB)", "mean err (LSB)",
              "worst \\|sum−1\\| @64", "worst \\|sum−1\\|", "top-1 (decisive)",
              "I-BERT max err (LSB)", "I-BERT top-1", "hls4ml max err (LSB)", "hls4ml top-1"]
    header += synth_header()
    lines = [_population_text(rows), "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for row in rows:
        p, acc = row["params"], row["accuracy"]
        own, ibert, hls = acc[p["method"]], acc["ibert"], acc["hls4ml_stable"]
        cells = [row["name"], p["method"], f"{row['in_format']} → {row['out_format']}",
                 str(p["lanes"]), str(p["max_len"]), str(row["latency_cycles"]),
                 f"{row['throughput']['elements_per_cycle']:.2f}",
                 f"{own['max_error_lsb']:.2f}", f"{own['max_error_lsb_unsaturated']:.2f}",
                 f"{own['mean_error_lsb']:.3f}", f"{own['worst_sum_error_64']:.3f}",
                 f"{own['worst_sum_error']:.3f}", f"{own['top1_agreement_decisive']:.4f}",
                 f"{ibert['max_error_lsb']:.1f}", f"{ibert['top1_agreement_decisive']:.3f}",
                 f"{hls['max_error_lsb']:.1f}", f"{hls['top1_agreement_decisive']:.3f}"]
        lines.append("| " + " | ".join(cells + synth_cells(row)) + " |")
    # Where the error comes from: the same figures per kind of row.
    lines += ["", "Per kind of row (population): max error in output LSBs, on unsaturated "
              "elements (ours / I-BERT / hls4ml), and top-1 agreement on decisive rows (ours / "
              "I-BERT / hls4ml); then the adversarial search's worst (ours / I-BERT / hls4ml).",
              ""]
    kinds = list(rows[0]["accuracy"][rows[0]["params"]["method"]]["by_distribution"]) \
        if rows else []
    header = ["block", "kind of row", "max err unsat. (LSB)", "top-1 (decisive)"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        acc = row["accuracy"]
        labels = [row["params"]["method"], "ibert", "hls4ml_stable"]
        for kind in kinds:
            cell = [acc[m]["by_distribution"][kind] for m in labels]
            errors = " / ".join(f"{c['max_error_lsb_unsaturated']:.2f}" for c in cell)
            top1 = " / ".join(f"{c['top1_agreement_decisive']:.4f}" for c in cell)
            lines.append(f"| {row['name']} | {kind} | {errors} | {top1} |")
        adv = [acc[m]["adversarial"] for m in labels]
        lines.append(f"| {row['name']} | adversarial | "
                     + " / ".join(f"{a['max_error_lsb_unsaturated']:.2f}" for a in adv) + " | "
                     + " / ".join(f"{a['top1_agreement_decisive']:.4f}" for a in adv) + " |")
    return "\n".join(lines) + "\n"
