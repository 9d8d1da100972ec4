"""What the LUT tensor core's options cost: the catalog's INT2 core with per-group zero points,
the accumulator input and the requantisation stage, one at a time and all together, synthesised
out of context like the report's rows (cached with the baselines in ``build/synth/lut_tc_cmp``).

``python -m scripts.lut_tc_options`` prints the table the README shows.
"""

import dataclasses

from generators.catalog import DEFAULT_CATALOG
from scripts.lut_tc_figures import TARGETS, cached_synth

BASE = "lut_tc_int2"
VARIANTS = {
    "as in the catalog": {},
    "zp_group = 32": {"zp_group": 32},
    "acc_in": {"acc_in": True},
    "requant (16-bit scale and bias)": {"requant": True},
    "all three": {"zp_group": 32, "acc_in": True, "requant": True},
}


def option_rows():
    base = {e.name: e.params for e in DEFAULT_CATALOG}[BASE]
    rows = []
    for label, changes in VARIANTS.items():
        params = dataclasses.replace(base, **changes)
        tag = "_".join(f"{k}{int(v)}" for k, v in sorted(changes.items())) or "base"
        rows.append((label, {t: cached_synth(params, f"opt_{BASE}_{tag}", t) for t in TARGETS}))
    return rows


def markdown(rows):
    header = ["option"]
    for target in TARGETS:
        short = "iCE40" if target.startswith("ice40") else "ECP5"
        header += [f"{short} LUT/FF/DSP/BRAM", f"{short} Fmax", f"{short} LUTs vs catalog"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    base = rows[0][1]
    for label, synth in rows:
        cells = [label]
        for target in TARGETS:
            r = synth[target] or {}
            if "error" in r or not r:
                cells += [r.get("error", "not run"), "—", "—"]
                continue
            fmax = f"{r['fmax_mhz']:.1f} MHz" if r.get("fmax_mhz") else "—"
            ratio = r["lut"] / base[target]["lut"] if base[target].get("lut") else None
            cells += [f"{r['lut']}/{r['ff']}/{r['dsp']}/{r['bram']}", fmax,
                      f"{ratio:.2f}×" if ratio else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(option_rows()), end="")
