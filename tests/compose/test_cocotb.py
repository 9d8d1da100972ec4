"""Tier 2: cocotb + Verilator on the emitted composed FFN layer, bit-exact against the composed
model. A small ternary layer in the default run (one Verilator build); both examples of
``generators/compose/examples/ffn.toml``, with ten times the random jobs, behind slow."""

import json
from pathlib import Path

import pytest

from generators.catalog import load_config
from generators.compose import FfnParams, LayerEntry
from generators.emit import manifest
from testbench.runner import REPO_ROOT, simulate_entry

EXAMPLES = REPO_ROOT / "generators" / "compose" / "examples" / "ffn.toml"
ENTRIES = {entry.name: entry for entry in load_config(EXAMPLES)}
#: The default run's layer: every part and adapter of the examples (the GELU narrowed to two
#: lanes, the output to two) at a quarter of their size.
SMALL = LayerEntry("ffn_small", FfnParams(
    rows=2, d_in=16, hidden=16, d_out=8, out_lanes=2, weights_seed=5,
    lut_tc=(("n", 4), ("g", 4), ("bit_serial", False), ("ternary_pairs", True))))


def _simulate(entry, tmp_path, jobs):
    described = Path(tmp_path) / f"{entry.name}.json"
    # The harness reads the streams and latency only: no need for the Verilog's digest.
    described.write_text(json.dumps(manifest(entry, "0" * 64)))
    simulate_entry(entry, "tests.compose.ffn_tb",
                   extra_env={"FFN_MANIFEST": str(described), "FFN_JOBS": str(jobs)})


def test_ffn_small_bit_exact(tmp_path):
    _simulate(SMALL, tmp_path, 6)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_ffn_examples_long(tmp_path, name):
    _simulate(ENTRIES[name], tmp_path, 60)
