"""The README stays true: its figures are the committed report, its catalog the real one."""

from generators.catalog import DEFAULT_CATALOG
from scripts.report import readme_block
from testbench.runner import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


FAMILIES = sorted({entry.params.family for entry in DEFAULT_CATALOG})


def test_figures_are_the_committed_report():
    for family in FAMILIES:
        assert readme_block(README, family) == \
            (REPO_ROOT / "reports" / f"{family}.md").read_text()


def test_report_covers_the_catalog():
    for entry in DEFAULT_CATALOG:
        table = (REPO_ROOT / "reports" / f"{entry.params.family}.md").read_text()
        assert f"| {entry.name} |" in table
        assert f"| `{entry.name}` |" in README


def test_two_commands_are_what_ci_runs():
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert '.venv/bin/pip install -e ".[dev]"' in README and 'pip install --quiet -e ".[dev]"' in ci
    assert ".venv/bin/python -m pytest -n auto" in README and ".venv/bin/python -m pytest -n auto" in ci


def test_config_example_builds(tmp_path):
    """The TOML example in the README is a working config."""
    from generators.cli import main

    example = README.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "my.toml").write_text(example)
    assert main(["build", "--config", str(tmp_path / "my.toml"), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "my_gelu.v").is_file()
