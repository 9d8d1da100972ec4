"""The whole repository passes ``ruff check`` (config: [tool.ruff] in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_ruff_clean():
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."],
                         cwd=REPO_ROOT, capture_output=True, text=True)
    assert res.returncode == 0, f"ruff check failed:\n{res.stdout}{res.stderr}"
