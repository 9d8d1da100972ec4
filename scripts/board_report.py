"""The board figures: the rows of ``python -m generators bitstream`` as a report folder's
boards.json and boards.md, and the ``report:boards`` table of docs/boards.md."""

import json
from pathlib import Path

from generators.emit import write_atomic

from scripts.report import update_block

__all__ = ["board_markdown", "write_board_report"]


def board_markdown(rows):
    """The board table: utilisation (used/available) and Fmax against the board clock."""
    lines = ["| board | block | design | part | logic cells | FF | BRAM | DSP | Fmax (MHz) | "
             "clock (MHz) |",
             "|:---|:---|:---|:---|---:|---:|---:|---:|---:|---:|"]

    def site(row, key):
        return f"{row[key]['used']}/{row[key]['available']}" if key in row else "n/a"

    for row in rows:
        lines.append(f"| {row['board']} | {row['name']} | {row['design']} | {row['part']} | "
                     f"{site(row, 'lc')} | "
                     f"{site(row, 'ff')} | {site(row, 'bram')} | {site(row, 'dsp')} | "
                     f"{row['fmax_mhz']:.1f} | {row['target_mhz']:g} |")
    return "\n".join(lines) + "\n"


def write_board_report(rows, out_dir, page=Path("docs/boards.md")):
    """Merge ``rows`` into ``out_dir``/boards.json (by board and block), write boards.md and the
    ``report:boards`` block of ``page``; return the paths written."""
    out_dir = Path(out_dir)
    path = out_dir / "boards.json"
    keep = {(r["board"], r["name"], r["design"]): r for r in
            (json.loads(path.read_text()) if path.is_file() else [])}
    for row in rows:
        # Paths and hashes belong to the build folder, not to the committed report.
        keep[(row["board"], row["name"], row["design"])] = {
            k: v for k, v in row.items() if k not in ("bitstream", "bitstream_sha256")}
    merged = [keep[k] for k in sorted(keep)]
    table = board_markdown(merged)
    write_atomic(path, (json.dumps(merged, indent=2, sort_keys=True) + "\n").encode())
    write_atomic(out_dir / "boards.md", table.encode())
    paths = [path, out_dir / "boards.md"]
    if update_block(Path(page), "boards", table):
        paths.append(Path(page))
    return paths
