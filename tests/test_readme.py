"""The README stays true: its figures are the committed report, its catalog the real one."""

from generators.catalog import DEFAULT_CATALOG
from scripts.report import readme_block
from testbench.runner import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_figures_are_the_committed_report():
    assert readme_block(README, "gelu") == (REPO_ROOT / "reports" / "gelu.md").read_text()


def test_report_covers_the_catalog():
    table = (REPO_ROOT / "reports" / "gelu.md").read_text()
    for entry in DEFAULT_CATALOG:
        assert f"| {entry.name} |" in table
        assert f"| `{entry.name}` |" in README


def test_two_commands_are_what_ci_runs():
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert '.venv/bin/pip install -e ".[dev]"' in README and 'pip install --quiet -e ".[dev]"' in ci
    assert ".venv/bin/python -m pytest -n auto" in README and ".venv/bin/python -m pytest -n auto" in ci
