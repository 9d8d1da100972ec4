"""The README and the docs pages stay true: the figures on each family's page are the committed
report, the README's catalog the real one, its two commands what CI runs."""

import re

from generators.catalog import DEFAULT_CATALOG
from generators.families import FAMILIES as FAMILY_DESCRIPTORS
from scripts.report import family_page, parameter_table, report_block
from testbench.runner import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")

FAMILIES = sorted({entry.params.family for entry in DEFAULT_CATALOG})

#: The README is the front door; family detail, tables and figures live on the docs pages.
README_MAX_LINES = 200

#: What every family page tells, in this order.
FAMILY_SECTIONS = ("Catalog entries", "What it computes", "Streams", "Parameters", "Figures",
                   "Verification", "Limitations")


def _page(family):
    return family_page(REPO_ROOT, family).read_text(encoding="utf-8")


def test_figures_are_the_committed_report():
    for family in FAMILIES:
        report = (REPO_ROOT / "reports" / f"{family}.md").read_text(encoding="utf-8")
        assert report_block(_page(family), family) == report, family


def test_report_covers_the_catalog():
    for entry in DEFAULT_CATALOG:
        table = (REPO_ROOT / "reports" / f"{entry.params.family}.md").read_text()
        assert f"| {entry.name} |" in table
        assert f"| `{entry.name}` | {entry.params.family} |" in README, entry.name
        assert f"| `{entry.name}` |" in _page(entry.params.family), entry.name


def test_readme_is_a_front_door():
    assert len(README.splitlines()) <= README_MAX_LINES
    assert "<!-- report:" not in README, "generated tables belong on the docs pages"


def test_readme_links_every_family_page():
    pages = {path.stem for path in (REPO_ROOT / "docs" / "families").glob("*.md")}
    assert pages == set(FAMILIES), "one page per family, no page without a family"
    for family in FAMILIES:
        assert f"](docs/families/{family}.md)" in README, family


def test_family_pages_have_their_sections():
    for family in FAMILIES:
        page = _page(family)
        headings = re.findall(r"^## (.+)$", page, flags=re.MULTILINE)
        assert [h for h in headings if h in FAMILY_SECTIONS] == list(FAMILY_SECTIONS), family
        assert page.index("## Parameters") < page.index("<!-- report:params -->") \
            < page.index("## Figures"), family


def test_parameter_tables_are_the_declarations():
    """Each page's parameter table is the one generated from its family's declarations
    (``python -m generators report`` rewrites it)."""
    for family in FAMILIES:
        assert report_block(_page(family), "params") == \
            parameter_table(FAMILY_DESCRIPTORS[family]), family


def test_two_commands_are_what_ci_runs():
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert '.venv/bin/pip install -e ".[dev]"' in README and 'pip install --quiet -e ".[dev]"' in ci
    test = ".venv/bin/python -m pytest -n auto"
    assert test in README and test in ci


def test_config_example_builds(tmp_path):
    """The TOML example in the README is a working config."""
    from generators.cli import main

    example = README.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "my.toml").write_text(example)
    assert main(["build", "--config", str(tmp_path / "my.toml"), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "my_gelu.v").is_file()
