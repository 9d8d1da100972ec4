"""The docs hold together: every relative link in README.md and docs/ leads to a file of the
repository (and an anchor to a heading there), no document points outside the repository, and
``report`` writes its tables into the docs pages, never into the README."""

import re
import shutil

import pytest

from scripts.report import family_page, report_block
from testbench.runner import REPO_ROOT

DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]
DOC_IDS = [str(path.relative_to(REPO_ROOT)) for path in DOCUMENTS]

FENCE = re.compile(r"^```.*?^```[^\n]*$", flags=re.MULTILINE | re.DOTALL)
# A code span may run over a line break, not over a blank line.
CODE_SPAN = re.compile(r"`(?:[^`\n]|\n(?![ \t]*\n))*`")
# [text](target "title") and ![alt](target); the text may run over a line break, the target
# may be wrapped in <>.
INLINE_LINK = re.compile(
    r"!?\[(?:[^\]\n]|\n(?![ \t]*\n))*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", flags=re.MULTILINE)
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.+?)\s*#*\s*$", flags=re.MULTILINE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Paths that only exist on one machine: a reader's clone has none of them.
MACHINE_PATHS = re.compile(r"file:|(?<![\w.])(?:/work|/tmp|/home|/root|/Users|/mnt)/|~/")
# A relative path that climbs: ../x, ../../x (checked wherever it appears, code included).
CLIMBING_PATH = re.compile(r"(?<![\w./])((?:\.\./)+[\w./-]*)")


def _prose(text):
    """``text`` without fenced code blocks and code spans (their brackets are not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def _links(text):
    prose = _prose(text)
    return INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)


def github_slug(heading):
    """The anchor GitHub gives a heading: markup dropped, lower case, punctuation removed (word
    characters, spaces and hyphens stay), spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)     # links keep their text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text):
    """Every heading anchor of a page, with GitHub's -1, -2, ... for repeated headings."""
    seen, out = {}, set()
    for _hashes, heading in HEADING.findall(FENCE.sub("", text)):
        slug = github_slug(heading)
        out.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return out


def _problems(path, root=REPO_ROOT):
    """What is wrong with the links of the document at ``path`` in the repository at ``root``
    (an empty list when nothing)."""
    text = path.read_text(encoding="utf-8")
    problems = []
    for target in _links(text):
        if not target:
            problems.append("an empty link")
            continue
        if SCHEME.match(target):
            if not target.startswith(("http://", "https://")):
                problems.append(f"{target}: only http(s) links may leave the repository")
            continue                    # external: allowed, not fetched
        if target.startswith("/"):
            problems.append(f"{target}: absolute path (use a path relative to the page)")
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.is_relative_to(root):
            problems.append(f"{target}: leaves the repository")
            continue
        relative = resolved.relative_to(root).as_posix()
        if not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" \
                and anchor not in anchors(resolved.read_text(encoding="utf-8")):
            problems.append(f"{target}: no heading #{anchor} in {relative}")
    for found in MACHINE_PATHS.findall(text):
        problems.append(f"{found!r}: a path outside the repository")
    # Paths in prose and code too (links are checked above).
    for climbing in CLIMBING_PATH.findall(INLINE_LINK.sub("", text)):
        if not (path.parent / climbing).resolve().is_relative_to(root):
            problems.append(f"{climbing}: leaves the repository")
    return problems


@pytest.mark.parametrize("path", DOCUMENTS, ids=DOC_IDS)
def test_links_resolve_inside_the_repository(path):
    assert _problems(path) == []


def test_the_link_check_catches_bad_links(tmp_path):
    """The checker itself: each kind of bad link is reported, good ones are not."""
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "there.md").write_text("# There\n\n## Two words, `code`!\n\n"
                                            "## Two words, `code`!\n")
    page = root / "docs" / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#two-words-code) [ok](there.md#two-words-code-1)\n"
        "[ok](#here) [ok](https://example.org/x) `[not a link](nowhere.md)` `code over a\n"
        "line break [not a link](nowhere.md)` [a link over a\nline break](gone.md)\n"
        "# Here\n"
        "[a](missing.md) [b](there.md#missing) [c](../../outside.md) [d](/etc/passwd)\n"
        "[e](file:///etc/passwd) see /work/main and `../../shared/x.md`\n")
    assert _problems(page, root) == [
        "gone.md: no such file",
        "missing.md: no such file",
        "there.md#missing: no heading #missing in docs/there.md",
        "../../outside.md: leaves the repository",
        "/etc/passwd: absolute path (use a path relative to the page)",
        "file:///etc/passwd: only http(s) links may leave the repository",
        "'file:': a path outside the repository",
        "'/work/': a path outside the repository",
        "../../shared/x.md: leaves the repository",
    ]


def test_report_writes_the_family_page_not_the_readme(tmp_path, monkeypatch):
    """``report`` on a copy of the repository's reports, docs pages and README: a partial run
    leaves the page and the README as they were; a run that rewrites the pages (a whole-catalog
    run into reports/; here the same call on one block) puts the table between the page's
    markers, changes nothing else there, and never writes the README."""
    import scripts.report
    from generators.catalog import DEFAULT_CATALOG, select
    from generators.cli import main
    from scripts.report import measure_family_reports, write_all

    shutil.copytree(REPO_ROOT / "reports", tmp_path / "reports")
    shutil.copytree(REPO_ROOT / "docs", tmp_path / "docs")
    shutil.copy(REPO_ROOT / "README.md", tmp_path / "README.md")
    monkeypatch.setattr(scripts.report, "REPO_ROOT", tmp_path)
    page = family_page(tmp_path, "gelu")
    before = page.read_text(encoding="utf-8")

    assert main(["report", "--no-synth", "--only", "gelu_int8"]) == 0
    assert page.read_text(encoding="utf-8") == before
    assert (tmp_path / "README.md").read_bytes() == (REPO_ROOT / "README.md").read_bytes()

    files = measure_family_reports(select(DEFAULT_CATALOG, ["gelu_int8"]), tmp_path / "reports",
                                   synth=False, pages=tmp_path)
    assert page in files and tmp_path / "README.md" not in files
    write_all(files)
    after = page.read_text(encoding="utf-8")
    table = (tmp_path / "reports" / "gelu.md").read_text(encoding="utf-8")
    assert report_block(after, "gelu") == table
    assert "| gelu_int8 |" in table and "| gelu_int16 |" not in table    # just this run's entry
    old = report_block(before, "gelu")
    assert after.replace(table, "") == before.replace(old, ""), "only the table changed"
    assert (tmp_path / "README.md").read_bytes() == (REPO_ROOT / "README.md").read_bytes()
    assert "<!-- report:" not in (tmp_path / "README.md").read_text(encoding="utf-8")
