"""The layers import one way: core (generators/) <- boards and synthesis (fpga/) <- figures and
reports (scripts/). Every import statement counts, function-local ones included; and no family
package imports another."""

import ast

import pytest

from generators.families import FAMILIES
from testbench.runner import REPO_ROOT

#: Top-level package -> its layer; a module may import packages of its own layer or below.
LAYERS = {"generators": 0, "fpga": 1, "scripts": 2}


def imported_modules(path):
    """``(line, absolute module name)`` of every import in the file at ``path``."""
    package = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.append((node.lineno, module))
            # ``from scripts import report`` names the package; the alias may be a module too.
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def sources(package):
    return sorted((REPO_ROOT / package).rglob("*.py"))


def test_the_import_parser_sees_relative_and_local_imports(tmp_path):
    """The check below cannot pass vacuously: the parser resolves what it must catch."""
    found = dict((m, n) for n, m in imported_modules(REPO_ROOT / "fpga" / "cli.py"))
    assert "generators.cli" in found and "fpga.ooc" in found        # relative, in a function
    assert any(m.startswith("generators.") for _, m in
               imported_modules(REPO_ROOT / "generators" / "gelu" / "__init__.py"))


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_no_upward_import(package):
    layer = LAYERS[package]
    upward = []
    for path in sources(package):
        for line, module in imported_modules(path):
            top = module.split(".")[0]
            if LAYERS.get(top, -1) > layer:
                upward.append(f"{path.relative_to(REPO_ROOT)}:{line}: {module}")
    assert upward == [], f"{package}/ must not import the layers above it"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_no_family_imports_another(family):
    others = {f"generators.{name}" for name in FAMILIES if name != family}
    crossing = [f"{path.relative_to(REPO_ROOT)}:{line}: {module}"
                for path in sources(f"generators/{family}")
                for line, module in imported_modules(path)
                if any(module == o or module.startswith(o + ".") for o in others)]
    assert crossing == []
