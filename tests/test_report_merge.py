"""Reports lose nothing: a partial ``report`` or ``bitstream --report`` run updates only the rows
it measured, the docs pages follow only a whole-catalog run into the repository's reports/, and
an interrupted run writes nothing.

Every test works on a temporary copy of reports/ and docs/ (``scripts.report.REPO_ROOT`` points
at it), so the real files are never written.
"""

import argparse
import json
import shutil

import pytest

import scripts.report
from generators.catalog import DEFAULT_CATALOG, Entry, select
from generators.cli import main
from scripts.board_report import boards_page, write_board_report
from scripts.cli import _board_report
from scripts.report import docs_root, merge_rows, write_family_reports
from testbench.runner import REPO_ROOT

GELU_NAMES = [e.name for e in DEFAULT_CATALOG if e.params.family == "gelu"]


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A copy of the repository's reports/ and docs/ that the report code takes for the
    repository; returns its root."""
    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "reports", root / "reports")
    shutil.copytree(REPO_ROOT / "docs", root / "docs")
    monkeypatch.setattr(scripts.report, "REPO_ROOT", root)
    return root


def _snapshot(folder):
    return {path.relative_to(folder): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _rows(path):
    return json.loads(path.read_text())


def _tamper(path, name, change):
    """Change the row ``name`` of a report file in place (a marker the merge must keep or
    replace)."""
    rows = _rows(path)
    change(next(r for r in rows if r["name"] == name))
    path.write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")


def test_partial_report_keeps_the_other_rows(repo, capsys):
    """``report --only gelu_int8 --no-synth`` into the default destination: six rows stay, the
    five unmeasured ones byte for byte (synthesis figures included), the measured one is fresh,
    and no docs page changes."""
    report = repo / "reports" / "gelu.json"
    _tamper(report, "gelu_int16", lambda r: r["synth"]["ecp5-85f"].update(lut=123456))
    _tamper(report, "gelu_int8", lambda r: r.update(max_abs_err=99.0))
    before = _rows(report)
    docs = _snapshot(repo / "docs")

    assert main(["report", "--only", "gelu_int8", "--no-synth"]) == 0
    after = _rows(report)
    assert [r["name"] for r in after] == GELU_NAMES
    assert after[1:] == before[1:]
    assert after[2]["synth"]["ecp5-85f"]["lut"] == 123456
    fresh = json.loads((REPO_ROOT / "reports" / "gelu.json").read_text())[0]
    assert after[0] == fresh                        # re-measured; synth kept (same params)
    assert "123456/" in (repo / "reports" / "gelu.md").read_text()
    assert _snapshot(repo / "docs") == docs
    assert "docs pages left alone" in capsys.readouterr().out


def test_user_config_elsewhere_leaves_the_docs_alone(repo, tmp_path, capsys):
    """``report --config my.toml --only my_gelu --out elsewhere``: the user's row joins the rows
    of elsewhere/gelu.json (after the catalog's), nothing of the repository changes."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(repo / "reports" / "gelu.json", elsewhere / "gelu.json")
    config = tmp_path / "my.toml"
    config.write_text('[my_gelu]\nfamily = "gelu"\nmethod = "i_gelu"\nlanes = 2\n')
    repository = _snapshot(repo)
    before = _rows(elsewhere / "gelu.json")

    assert main(["report", "--config", str(config), "--only", "my_gelu", "--no-synth",
                 "--out", str(elsewhere)]) == 0
    after = _rows(elsewhere / "gelu.json")
    assert [r["name"] for r in after] == GELU_NAMES + ["my_gelu"]
    assert after[:-1] == before and after[-1]["synth"] == {}
    assert "| my_gelu |" in (elsewhere / "gelu.md").read_text()
    assert _snapshot(repo) == repository
    capsys.readouterr()


def test_whole_catalog_into_the_default_destination_rewrites_the_pages(repo, tmp_path):
    """Only the whole default catalog into the repository's reports/ speaks for the pages."""
    default = repo / "reports"
    assert docs_root(DEFAULT_CATALOG, default) == repo
    assert docs_root(list(reversed(DEFAULT_CATALOG)), default) == repo
    assert docs_root(select(DEFAULT_CATALOG, ["gelu_int8"]), default) is None
    assert docs_root(DEFAULT_CATALOG, tmp_path / "reports") is None
    # The catalog's names with other parameters (a user config) are not the catalog.
    first = DEFAULT_CATALOG[0]
    retuned = Entry(first.name, type(first.params).from_dict({**first.params.to_dict(),
                                                                "lanes": 2}))
    assert docs_root([retuned, *DEFAULT_CATALOG[1:]], default) is None


def test_pages_follow_the_merged_report(repo, monkeypatch):
    """With ``pages`` (the whole-catalog case), a family's page gets the fresh table and a row
    of a block no longer measured leaves the report."""
    import scripts.gelu_figures

    report = repo / "reports" / "gelu.json"
    # The committed figures stand in for the (half-minute) accuracy sweeps of six blocks.
    committed = {json.dumps(r["params"], sort_keys=True): r for r in _rows(report)}
    own = {"name", "params", "in_format", "out_format", "latency_cycles", "initiation_interval",
           "synth"}
    monkeypatch.setattr(scripts.gelu_figures, "figures", lambda params: {
        k: v for k, v in committed[json.dumps(params.to_dict(), sort_keys=True)].items()
        if k not in own})
    # ... and the committed manifests (hdl/, kept current by build --check) for elaboration.
    monkeypatch.setattr(scripts.report, "render", lambda entry: {
        f"{entry.name}.json": (REPO_ROOT / "hdl" / f"{entry.name}.json").read_text()})
    rows = _rows(report)
    report.write_text(json.dumps([*rows, {**rows[1], "name": "gelu_gone"}]) + "\n")
    entries = [e for e in DEFAULT_CATALOG if e.params.family == "gelu"]
    write_family_reports(entries, repo / "reports", synth=False, pages=repo)
    assert [r["name"] for r in _rows(report)] == GELU_NAMES
    assert (repo / "docs" / "families" / "gelu.md").read_bytes() == \
        (REPO_ROOT / "docs" / "families" / "gelu.md").read_bytes()


def test_merge_rows_in_catalog_order():
    rows = [{"name": n} for n in ("mine", "gelu_int16", "gelu_int8")]
    merged = merge_rows(rows, [{"name": "gelu_int8", "new": 1}, {"name": "yours"}])
    assert merged == [{"name": "gelu_int8", "new": 1}, {"name": "gelu_int16"}, {"name": "mine"},
                      {"name": "yours"}]


def test_interrupted_report_writes_nothing(repo, monkeypatch):
    """Ctrl-C while the second family is measured: the first family's files are not written
    either (everything is measured before the first write)."""
    import scripts.softmax_figures

    report = repo / "reports"
    _tamper(report / "gelu.json", "gelu_int8", lambda r: r.update(max_abs_err=99.0))
    before = _snapshot(repo)

    def interrupt(params):
        raise KeyboardInterrupt

    monkeypatch.setattr(scripts.softmax_figures, "figures", interrupt)
    entries = select(DEFAULT_CATALOG, ["gelu_int8", "softmax_int8_base2_l1"])
    with pytest.raises(KeyboardInterrupt):
        write_family_reports(entries, report, synth=False)
    assert _snapshot(repo) == before
    assert not [p for p in report.iterdir() if p.name.startswith(".")]   # no temp files


@pytest.mark.parametrize("below", [False, True], ids=["file", "below-a-file"])
def test_report_out_must_be_a_folder(tmp_path, capsys, below):
    target = tmp_path / "taken"
    target.write_text("mine\n")
    out = target / "sub" if below else target
    assert main(["report", "--only", "gelu_int8", "--no-synth", "--out", str(out)]) == 2
    where = "below the file" if below else "the file"
    assert capsys.readouterr().err == f"error: --out must be a folder, not {where} '{target}'\n"
    assert target.read_text() == "mine\n"


def test_report_out_must_be_writable(tmp_path, capsys, monkeypatch):
    """A read-only --out is refused before anything is measured (root may write anywhere, so
    the permission answer is what a normal user would get)."""
    import os

    import generators.cli

    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(generators.cli.os, "access",
                        lambda path, mode: os.path.realpath(path) != str(locked.resolve()))
    assert main(["report", "--only", "gelu_int8", "--no-synth", "--out",
                 str(locked / "reports")]) == 2
    assert capsys.readouterr().err == (f"error: --out '{locked / 'reports'}' cannot be "
                                       f"written: '{locked}' is read-only for this user\n")
    assert list(locked.iterdir()) == []


def _board_row(board, name, design="selftest", lc=1000):
    return {"board": board, "name": name, "design": design, "part": "part",
            "lc": {"used": lc, "available": 5280}, "ff": {"used": 10, "available": 5280},
            "fmax_mhz": 30.5, "target_mhz": 12.0, "bitstream": "/tmp/top.bin",
            "bitstream_sha256": "00"}


def test_board_report_elsewhere_merges_and_leaves_the_page(repo, tmp_path, capsys):
    """``bitstream --board icebreaker --only gelu_int8 --report myboards``: the fresh row
    replaces its own in myboards/boards.json, the others stay, docs/boards.md is untouched."""
    myboards = tmp_path / "myboards"
    myboards.mkdir()
    shutil.copy(repo / "reports" / "boards.json", myboards / "boards.json")
    before = _rows(myboards / "boards.json")
    docs = _snapshot(repo / "docs")
    assert boards_page(myboards) is None

    _board_report(argparse.Namespace(report=myboards), [_board_row("icebreaker", "gelu_int8")])
    after = _rows(myboards / "boards.json")
    assert len(after) == len(before)
    mine = [r for r in after if (r["board"], r["name"], r["design"])
            == ("icebreaker", "gelu_int8", "selftest")]
    assert mine == [{k: v for k, v in _board_row("icebreaker", "gelu_int8").items()
                     if k not in ("bitstream", "bitstream_sha256")}]
    assert [r for r in after if r not in mine] == [
        r for r in before
        if (r["board"], r["name"], r["design"]) != ("icebreaker", "gelu_int8", "selftest")]
    assert _snapshot(repo / "docs") == docs
    capsys.readouterr()


def test_board_report_into_the_repository_updates_the_merged_table(repo):
    page = boards_page(repo / "reports")
    assert page == repo / "docs" / "boards.md"
    before = _rows(repo / "reports" / "boards.json")
    write_board_report([_board_row("icebreaker", "gelu_int8", lc=4321)], repo / "reports",
                       page=page)
    after = _rows(repo / "reports" / "boards.json")
    assert len(after) == len(before)
    text = page.read_text()
    assert "4321/5280" in text
    for row in before:                      # every other row is still in the page's table
        if row["board"] != "icebreaker" or row["design"] != "selftest":
            assert f"| {row['board']} | {row['name']} | {row['design']} |" in text


def test_board_report_refuses_a_file_at_once(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("")
    assert main(["bitstream", "--board", "icebreaker", "--only", "gelu_int8",
                 "--report", str(taken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: argument --report: --report must be a folder, not the file "
                          f"'{taken}'")
