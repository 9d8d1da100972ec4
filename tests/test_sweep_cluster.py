"""Sweeps on Ray clusters of their own, apart from test_sweep.py's module cluster (one process
holds one Ray connection): the simulated two-node cluster (ray.cluster_utils.Cluster) and the
sweep verb end to end."""

import json

import pytest

from generators.cli import main
from scripts.sweep import load_spec, run_sweep, table_json

from tests.test_sweep import STUB_SPEC, with_sweep_verb, write_spec  # noqa: F401 (a fixture)


def test_simulated_two_node_cluster(tmp_path, monkeypatch):
    from ray.cluster_utils import Cluster

    from scripts.engine import Engine

    monkeypatch.setenv("MLHW_STUB_SECONDS", "0.5")     # long enough for both nodes to work
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        spec = load_spec(write_spec(tmp_path, STUB_SPEC.replace(
            'method = ["fitted_pwl", "edge_moe", "i_gelu"]', "lanes = [1, 2, 3, 4]")))
        with Engine(address=cluster.address) as engine:
            assert engine.capacity == 2
            rows = run_sweep(spec, engine, tmp_path / "cache")
        assert len(rows) == 8 and all(r["error"] is None for r in rows)
        assert len(set(engine.item_nodes)) == 2
        assert json.loads(table_json(rows))[0]["name"] == "tiny_000"
    finally:
        cluster.shutdown()


@pytest.mark.usefixtures("with_sweep_verb")
def test_sweep_verb_writes_table_and_plots(tmp_path, capsys, monkeypatch):
    """The verb end to end; ``--workers 1`` runs a grid in this process (no cluster)."""
    monkeypatch.chdir(tmp_path)
    path = write_spec(tmp_path, STUB_SPEC.replace("seeds = [1, 2]", "seeds = [5]"))
    assert main(["sweep", str(path), "--out", "out", "--workers", "1"]) == 0
    out = capsys.readouterr()
    assert "3 rows (0 failed)" in out.out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "tiny.csv", "tiny.json", "tiny.png", "tiny.svg"]
    assert (tmp_path / "build" / "synth" / "cache").is_dir()
