"""``python -m generators build --config`` with composed layers: the example emits Verilog and
schema-valid manifests, byte-identical on a second run; a layer whose streams cannot meet or
whose weights do not fit ends as one ``error:`` line, exit status 2, nothing written."""

import json
import textwrap

import jsonschema
import pytest

from generators.cli import main
from testbench.runner import REPO_ROOT

EXAMPLES = REPO_ROOT / "generators" / "compose" / "examples" / "ffn.toml"
SCHEMA = json.loads((REPO_ROOT / "generators" / "manifest.schema.json").read_text())


def test_build_example_config(tmp_path, capsys):
    out = tmp_path / "hdl"
    assert main(["build", "--config", str(EXAMPLES), "--only", "ffn_ternary",
                 "--out", str(out)]) == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(first) == ["ffn_ternary.json", "ffn_ternary.v"]
    described = json.loads(first["ffn_ternary.json"])
    jsonschema.validate(described, SCHEMA)
    assert described["family"] == "ffn" and described["params"]["hidden"] == 128
    assert described["initiation_interval"] == 128 and described["latency_cycles"] == 188
    assert sorted(described["streams"]) == ["m_axis", "s_axis"]
    assert "module ffn_ternary(" in first["ffn_ternary.v"].decode()
    assert main(["build", "--config", str(EXAMPLES), "--only", "ffn_ternary", "--check",
                 "--out", str(out)]) == 0
    capsys.readouterr()


TINY = """
    [bad]
    layer = "ffn"
    rows = 1
    d_in = 4
    hidden = 4
    d_out = 4
    weights_seed = 1
    [bad.lut_tc]
    n = 4
    g = 4
    bit_serial = false
    [bad.gelu]
    lanes = 4
    in_width = 8
    in_frac = 5
    out_width = 8
    out_frac = 5
"""

BAD = {
    "streams": (TINY.replace("lanes = 4", "lanes = 3"),
                "error: [bad] stream linear1.o (4 lanes) cannot feed gelu.i (3 lanes): "
                "gelu.lanes must divide lut_tc.n = 4"),
    "formats": (TINY + "    [bad.requant1]\n    out_bits = 12\n",
                "error: [bad] stream requant1.o (s12) cannot feed gelu.i (s8.5): element "
                "widths 12 and 8 differ"),
    "weights": (TINY.replace("weights_seed = 1", "w1 = [[0, 0, 0, 0], [0, 0, 0, 0], "
                             "[0, 0, 5, 0], [0, 0, 0, 0]]\n    w2 = [[0, 0, 0, 0], "
                             "[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]"),
                "error: [bad] w1[2, 2] does not fit ternary weights: it must be -1, 0 or +1, "
                "not 5"),
    "unknown layer": ('[bad]\n    layer = "fnn"\n',
                      "error: [bad] layer must be one of 'ffn', not 'fnn'; did you mean 'ffn'?"),
    "layer and family": ('[bad]\n    layer = "ffn"\n    family = "gelu"\n',
                         "error: [bad] names a layer and a family: give one"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_layer_config(tmp_path, capsys, case):
    text, message = BAD[case]
    config = tmp_path / "layers.toml"
    config.write_text(textwrap.dedent(text))
    out = tmp_path / "hdl"
    assert main(["build", "--config", str(config), "--out", str(out)]) == 2
    assert capsys.readouterr().err == message + "\n"
    assert not out.exists()


def test_good_tiny_layer_config(tmp_path, capsys):
    """The bad cases' base config is itself good (so each case fails for its one reason)."""
    config = tmp_path / "layers.toml"
    config.write_text(textwrap.dedent(TINY))
    assert main(["build", "--config", str(config), "--list"]) == 0
    assert capsys.readouterr().out.startswith("bad ")
