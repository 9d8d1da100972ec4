"""Every registered family has every piece a family needs (docs/adding-a-family.md lists them),
and its package and model import without Amaranth."""

import ast
import gc
import importlib
import subprocess
import sys
import warnings

import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.lib import wiring

from generators.catalog import DEFAULT_CATALOG
from generators.families import FAMILIES, REGISTERED
from generators.family import Family
from generators.guards import Estimate, Memory
from testbench.runner import REPO_ROOT

#: The files named after a family, relative to the repository root; ``<family>`` is its name.
PIECES = (
    "generators/<family>/__init__.py",
    "generators/<family>/params.py",
    "generators/<family>/model.py",
    "generators/<family>/estimate.py",
    "testbench/<family>_tb.py",
    "scripts/<family>_figures.py",
    "tests/<family>/__init__.py",
    "tests/<family>/test_params.py",
    "tests/<family>/test_model.py",
    "tests/<family>/test_rtl.py",
    "tests/<family>/test_cocotb.py",
    "docs/families/<family>.md",
)
CHECKLIST = REPO_ROOT / "docs" / "adding-a-family.md"


@pytest.mark.parametrize("family", REGISTERED)
@pytest.mark.parametrize("piece", PIECES)
def test_piece_exists(family, piece):
    path = REPO_ROOT / piece.replace("<family>", family)
    assert path.is_file(), f"family {family!r} has no {path.relative_to(REPO_ROOT)}"


@pytest.mark.parametrize("family", REGISTERED)
def test_descriptor(family):
    descriptor = FAMILIES[family]
    assert isinstance(descriptor, Family) and descriptor.name == family
    assert descriptor.params_class.__module__ == f"generators.{family}.params"
    assert descriptor.params_class.family == family
    assert descriptor.docs_page == f"docs/families/{family}.md"
    assert descriptor.entries, f"family {family!r} has no catalog entry"
    assert all(entry.params.family == family for entry in descriptor.entries)
    for text in (descriptor.summary, descriptor.tlast, descriptor.latency):
        assert isinstance(text, str) and text.strip()
    assert descriptor.estimator == f"generators.{family}.estimate:estimate"
    for entry in descriptor.entries:
        estimate = descriptor.estimate(entry.params)
        assert isinstance(estimate, Estimate) and estimate.logic_bytes > 0
        assert all(isinstance(memory, Memory) and memory.bits > 0
                   for memory in estimate.memories)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)    # built only to check its kind
        core = descriptor.core(descriptor.entries[0].params)
        assert isinstance(core, wiring.Component)
        del core
        gc.collect()        # its warning comes when it is collected: here, inside the filter


@pytest.mark.parametrize("family", REGISTERED)
def test_figures_entry_points(family):
    figures = importlib.import_module(f"scripts.{family}_figures")
    assert callable(figures.figures) and callable(figures.markdown)


@pytest.mark.parametrize("family", REGISTERED)
def test_frame_model_shape(family):
    model = FAMILIES[family].frame_model
    if model is not None:       # the self-test's golden model of one frame, or of one job
        assert (callable(model.golden) and callable(model.longest)) or callable(model.jobs)


def test_catalog_is_the_families_entries_in_registry_order():
    assert DEFAULT_CATALOG == tuple(e for name in REGISTERED for e in FAMILIES[name].entries)
    assert len({e.name for e in DEFAULT_CATALOG}) == len(DEFAULT_CATALOG)


def test_every_family_package_is_registered():
    """A package under generators/ that exports FAMILY is in the registry."""
    exporting = set()
    for init in (REPO_ROOT / "generators").glob("*/__init__.py"):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.Assign) and
               any(isinstance(t, ast.Name) and t.id == "FAMILY" for t in node.targets)
               for node in tree.body):
            exporting.add(init.parent.name)
    assert exporting == set(REGISTERED)


@pytest.mark.parametrize("modules", [
    [f"generators.{family}", f"generators.{family}.params", f"generators.{family}.model",
     f"generators.{family}.estimate"]
    for family in REGISTERED] + [["generators.families", "generators.catalog",
                                  "generators.guards"]],
    ids=list(REGISTERED) + ["registry"])
def test_imports_without_amaranth(modules):
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n"
                                              for m in modules) + \
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'amaranth'))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "[]", f"{modules} import Amaranth"


def test_checklist_names_every_piece():
    """docs/adding-a-family.md lists what these tests check, and the registry's file."""
    text = CHECKLIST.read_text(encoding="utf-8")
    for piece in PIECES + ("generators/families.py",):
        assert f"`{piece}`" in text, f"{CHECKLIST.name} does not name {piece}"
