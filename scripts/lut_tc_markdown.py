"""The README tables of the LUT tensor core report (rows from scripts.report)."""

TARGETS = (("ecp5-85f", "ECP5"), ("ice40-up5k", "iCE40"))
DESIGNS = (("lut_tc", "LUT TC"), ("adder_tree", "adder tree"), ("naive_lut", "naive LUT"),
           ("mult_dsp", "mult. (DSP)"), ("mult_fabric", "mult. (fabric)"))


def _table(header, lines):
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
           ["| " + " | ".join(cells) + " |" for cells in lines]


def _synth_of(row, design):
    """``(macs per cycle, {target: synth row})`` of one design in an entry's row."""
    if design == "lut_tc":
        return row["macs_per_cycle"], row.get("synth", {})
    other = row["compare"][design]
    return other["macs_per_cycle"], other["synth"]


def _per_mac(synth, macs):
    if synth is None or "error" in synth:
        return None
    return synth["lut"] / macs


def _resources(synth):
    if synth is None:
        return "not run", "—"
    if "error" in synth:
        reason = synth["error"].split(": ", 1)[-1]
        if "Assert" in reason:      # the tool itself failed, not the design
            return "yosys crashed", "—"
        return (reason if reason.startswith("does not fit") else "failed"), "—"
    fmax = "n/a" if synth["fmax_mhz"] is None else f"{synth['fmax_mhz']:.1f} MHz"
    return f"{synth['lut']}/{synth['ff']}/{synth['dsp']}/{synth['bram']}", fmax


def lut_tc_markdown(rows, synth_header, synth_cells):
    p_cells = []
    for row in rows:
        p, cyc = row["params"], row["cycles"]
        p_cells.append([row["name"], p["weight_format"],
                        f"{p['m']}×{p['n']}×{p['g']}",
                        ("ternary pairs" if p.get("ternary_pairs") else
                         ("bit-serial" if p["bit_serial"] else "bit-parallel") +
                         (", pair tables" if p.get("pair_tables") else "")),
                        f"{row['macs_per_cycle']:g}",
                        f"{cyc['cycles_per_tile']} ({cyc['steps_per_tile']} steps)",
                        str(cyc["w_stalls"])] + synth_cells(row))
    first = _table(["block", "weights", "tile m×n×g", "planes", "MACs/cycle",
                    f"cycles per tile, K = {rows[0]['cycles']['k'] if rows else 0}",
                    "w stalls"] + synth_header(), p_cells)

    c_cells = []
    for row in rows:
        for design, label in DESIGNS:
            macs, synth = _synth_of(row, design)
            cells = [row["name"], label, f"{macs:g}"]
            for target, _short in TARGETS:
                res, fmax = _resources(synth.get(target))
                per = _per_mac(synth.get(target), macs)
                cells += [res, fmax, "—" if per is None else f"{per:.1f}"]
            c_cells.append(cells)
    header = ["block", "design", "MACs/cycle"]
    for _target, short in TARGETS:
        header += [f"{short} LUT/FF/DSP/BRAM", f"{short} Fmax", f"{short} LUT per MAC/cycle"]
    second = _table(header, c_cells)

    r_cells = []
    for row in rows:
        cells = [row["name"]]
        for versus in ("adder_tree", "mult_fabric", "naive_lut"):
            for target, _short in TARGETS:
                own = _per_mac(*reversed_pair(row, "lut_tc", target))
                other = _per_mac(*reversed_pair(row, versus, target))
                cells.append("—" if own is None or other is None else f"{other / own:.2f}×")
        r_cells.append(cells)
    third = _table(["block", "adder tree / LUT TC, ECP5", "adder tree / LUT TC, iCE40",
                    "fabric mult. / LUT TC, ECP5", "fabric mult. / LUT TC, iCE40",
                    "naive LUT / LUT TC, ECP5", "naive LUT / LUT TC, iCE40"], r_cells)
    return "\n".join(first + [""] + second + [""] + third) + "\n"


def reversed_pair(row, design, target):
    """``(synth row for target, macs per cycle)`` of one design."""
    macs, synth = _synth_of(row, design)
    return synth.get(target), macs
