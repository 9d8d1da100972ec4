"""The board figures: the rows of ``python -m generators bitstream`` merged into a report
folder's boards.json and boards.md, and (for the repository's reports/ only) the
``report:boards`` table of docs/boards.md."""

import json
from pathlib import Path

from generators.cli import check_out_folder
from scripts.report import default_reports_dir, read_rows, replace_block, write_all

__all__ = ["board_markdown", "boards_page", "write_board_report"]


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


def boards_page(report_dir):
    """The repository's boards page when ``report_dir`` is the repository's ``reports`` folder
    (the only destination that speaks for the published table), else None."""
    if Path(report_dir).resolve() == default_reports_dir().resolve():
        return default_reports_dir().parent / "docs" / "boards.md"
    return None


def write_board_report(rows, out_dir, page=None):
    """Merge ``rows`` into ``out_dir``/boards.json (by board, block and design; the other rows
    are kept whole), write boards.md and, given a ``page``, its ``report:boards`` block (the
    merged table). Everything is composed before the first file is written. Return the paths."""
    out_dir = Path(out_dir)
    check_out_folder(out_dir, "--report")
    path = out_dir / "boards.json"
    keep = {(r["board"], r["name"], r["design"]): r for r in read_rows(path)}
    for row in rows:
        # Paths and hashes belong to the build folder, not to the committed report.
        keep[(row["board"], row["name"], row["design"])] = json.loads(json.dumps(
            {k: v for k, v in row.items() if k not in ("bitstream", "bitstream_sha256")}))
    merged = [keep[k] for k in sorted(keep)]
    table = board_markdown(merged)
    files = {path: (json.dumps(merged, indent=2, sort_keys=True) + "\n").encode(),
             out_dir / "boards.md": table.encode()}
    if page is not None and Path(page).is_file():
        text = Path(page).read_text(encoding="utf-8")
        files[Path(page)] = replace_block(text, "boards", table).encode()
    return write_all(files)
