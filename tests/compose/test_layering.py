"""The composition layer sits above the families: no family imports it, and its parameters,
models and adapters' models import no Amaranth (as the families' own models do not)."""

import subprocess
import sys

import pytest

from generators.families import FAMILIES
from testbench.runner import REPO_ROOT
from tests.test_layers import imported_modules, sources


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_no_family_imports_the_composition(family):
    found = [f"{path.relative_to(REPO_ROOT)}:{line}: {module}"
             for path in sources(f"generators/{family}")
             for line, module in imported_modules(path)
             if module == "generators.compose" or module.startswith("generators.compose.")]
    assert found == []


def test_models_import_no_amaranth():
    code = ("import sys; import generators.compose, generators.compose.model, "
            "generators.compose.adapters, generators.compose.params; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'amaranth'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"
