"""Demo 1, the ViT digits classifier: the adapters, the integer model against the families'
golden models, the shipped accuracy and the shipped weights against their trainer."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from generators.catalog import DEFAULT_CATALOG
from generators.demos.vit_digits import model, spec, train
from generators.demos.vit_digits.requant import add_saturate, mult_shift, requantize, saturate
from generators.gelu.params import GeluParams
from generators.lut_tc.params import LutTcParams
from generators.softmax.params import SoftmaxParams
from generators.sparse_dsp.params import SparseDspParams
from testbench.runner import REPO_ROOT

FLOAT_PATH = model.PACKAGE_DIR / model.FLOAT_FILE
WEIGHTS_PATH = model.PACKAGE_DIR / model.WEIGHTS_FILE
TARGET_POINTS = 1.5


@pytest.fixture(scope="module")
def split():
    return train.load_split()


@pytest.fixture(scope="module")
def weights():
    return model.load_weights()


@pytest.fixture(scope="module")
def float_file():
    return json.loads(FLOAT_PATH.read_text(encoding="utf-8"))


# --- the adapters -----------------------------------------------------------------------------

def _requantize_reference(acc, mult, shift, out_bits, signed=True):
    """The definition in Python integers (``//`` floors like an arithmetic shift)."""
    y = (int(acc) * mult + ((1 << (shift - 1)) if shift else 0)) // (1 << shift)
    low, high = ((-(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1) if signed
                 else (0, (1 << out_bits) - 1))
    return min(max(y, low), high)


@pytest.mark.parametrize("acc, mult, shift, want", [
    (5, 1, 1, 3),           # 2.5 rounds half up
    (-5, 1, 1, -2),         # -2.5 rounds half up too (toward +inf), not away from zero
    (-6, 1, 1, -3),
    (3, 1, 2, 1),           # 0.75
    (2, 1, 2, 1),           # 0.5
    (-2, 1, 2, 0),          # -0.5
    (-3, 1, 2, -1),         # -0.75
    (7, 3, 0, 21),          # shift 0: no rounding term
    (1000, 1, 0, 127),      # saturation
    (-1000, 1, 0, -128),
    (255, 1, 1, 127),       # the u8.8 -> u0.7 adapter at probability 255/256 saturates
    (254, 1, 1, 127),
    (253, 1, 1, 127),
    (252, 1, 1, 126),
    (1 << 50, 65535, 48, 127),              # wide accumulators take the Python-int path
    (-(1 << 47) + 1, 65535, 48, -128),
])
def test_requantize_directed(acc, mult, shift, want):
    assert int(requantize(acc, mult, shift, 8)) == want == _requantize_reference(acc, mult,
                                                                                 shift, 8)


def test_requantize_seeded_against_the_definition():
    rng = np.random.default_rng(1801)
    for _ in range(300):
        bits = int(rng.integers(2, 17))
        shift = int(rng.integers(0, 49))
        mult = int(rng.integers(0, 1 << 16))
        acc = rng.integers(-(1 << 40), 1 << 40, 16)
        signed = bool(rng.integers(0, 2))
        got = requantize(acc, mult, shift, bits, signed)
        want = [_requantize_reference(a, mult, shift, bits, signed) for a in acc]
        assert got.tolist() == want


def test_requantize_unsigned_range():
    assert requantize([-3, 0, 300], 1, 0, 8, signed=False).tolist() == [0, 0, 255]


@pytest.mark.parametrize("kwargs, message", [
    ({"mult": 1 << 16}, "mult must be"), ({"mult": -1}, "mult must be"),
    ({"mult": 1.5}, "mult must be"), ({"shift": 49}, "shift must be"),
    ({"shift": -1}, "shift must be"), ({"out_bits": 0}, "out_bits must be"),
])
def test_requantize_refuses(kwargs, message):
    args = {"acc": 1, "mult": 1, "shift": 0, "out_bits": 8, **kwargs}
    with pytest.raises(ValueError, match=message):
        requantize(**args)


def test_add_saturate():
    assert add_saturate([100, -100, 3], [100, -100, -4]).tolist() == [127, -128, -1]
    assert saturate([40000], 16).tolist() == [32767]


@pytest.mark.parametrize("ratio", [1.0, 1 / 17, 3.7e-6, 0.999999, 12345.6, 2.0**-40])
def test_mult_shift(ratio):
    mult, shift = mult_shift(ratio)
    assert 0 < mult < 1 << 16 and 0 <= shift <= 48
    assert abs(mult / 2**shift - ratio) <= ratio * 2.0**-15


def test_mult_shift_refuses():
    for bad in (0.0, -1.0, float("inf"), 1e6):
        with pytest.raises(ValueError, match="ratio"):
            mult_shift(bad)


# --- the blocks are configs the families build --------------------------------------------------

def _catalog(name):
    (entry,) = [e for e in DEFAULT_CATALOG if e.name == name]
    return entry.params


def test_blocks_are_catalog_configs(weights):
    assert spec.CHAIN == _catalog(spec.CATALOG["sparse_dsp"]) == _catalog("sparse_dsp_l8_m4")
    assert spec.SOFTMAX == _catalog(spec.CATALOG["softmax"]) == _catalog("softmax_int8")
    assert spec.GELU == _catalog(spec.CATALOG["gelu"]) == _catalog("gelu_int8")
    pairs = _catalog(spec.CATALOG["lut_tc"]).to_dict()
    for layer in (weights.ffn1, weights.ffn2):
        # The catalog's ternary-pairs core with its requantisation stage switched on.
        got = layer.params.to_dict()
        assert {k: v for k, v in got.items() if k not in ("requant", "scale_bits", "bias_bits",
                                                          "shift")} == \
            {k: v for k, v in pairs.items() if k not in ("requant", "scale_bits", "bias_bits",
                                                         "shift")}
        assert got["requant"] is True and 0 <= got["shift"] <= 48


def test_op_table_params_validate(weights):
    classes = {"sparse_dsp": SparseDspParams, "softmax": SoftmaxParams, "gelu": GeluParams,
               "lut_tc": LutTcParams}
    rows = model.op_table(weights)
    families = set()
    for row in rows:
        if row["family"] == "adapter":
            assert row["params"]["op"]
            continue
        families.add(row["family"])
        params = dict(row["params"])
        n = params.pop("run_time_n", None)
        rebuilt = classes[row["family"]].from_dict(params)
        assert rebuilt.to_dict() == params
        if n is not None:
            assert n in rebuilt.supported_n
    assert families == set(classes)
    by_op = {row["op"]: row for row in rows}
    assert by_op["q_proj"]["params"]["run_time_n"] == spec.QKV_N == 2
    assert by_op["q_proj"]["macs"] == spec.TOKENS * spec.DIM * spec.DIM // 2
    assert by_op["ffn1"]["useful_macs"] == spec.TOKENS * spec.DIM * spec.HIDDEN
    assert "| total |" in model.op_table_markdown(weights)


# --- the integer model ------------------------------------------------------------------------

def test_golden_and_fast_engines_agree_op_by_op(weights, split):
    """Every intermediate tensor of two seeded test images: the GEMMs through the families'
    golden models on their stream beats (sparse_dsp.matvec, lut_tc.lut_tc) equal the plain
    integer products the fast engine uses."""
    _, _, xte, _ = split
    picks = np.random.default_rng(20261208).choice(len(xte), 2, replace=False)
    golden = model.run_batch(weights, xte[picks], model.Golden())
    fast = model.run_batch(weights, xte[picks], model.Fast())
    assert list(golden) == list(fast)
    for name in golden:
        assert np.array_equal(golden[name], fast[name]), name


def test_softmax_padding_mask_is_exercised(weights, split):
    _, _, xte, _ = split
    t = model.run_batch(weights, xte[:8])
    pad = t["mask"]
    assert pad[..., spec.TOKENS:].all() and not pad[..., :spec.TOKENS].any()
    assert (t["probs"][pad] == 0).all()
    # Real slots do carry probability: each row sums to about one (u8.8 codes).
    sums = t["probs"].sum(axis=-1)
    assert ((sums > 200) & (sums < 300)).all()
    assert (t["logits_attn"][pad] == 0).all()       # the zero key rows' scores


def test_integer_model_reproduces_the_shipped_accuracy(weights, split, float_file):
    _, _, xte, yte = split
    accuracy = float((model.predict(model.run(weights, xte)) == yte).mean())
    assert accuracy == float_file["accuracy"]["integer"]
    assert float_file["accuracy"]["float"] - accuracy <= TARGET_POINTS / 100


def test_float_models_reproduce_the_shipped_accuracy(split, float_file):
    _, _, xte, yte = split
    floats = {k: np.asarray(v) for k, v in float_file["float"].items()}
    assert train.accuracy(floats, xte, yte) == float_file["accuracy"]["float"]
    quant = train.quant_from_float_file(float_file)
    assert train.accuracy(train.tuned_params(float_file), xte, yte, quant) == \
        float_file["accuracy"]["quantisation_aware"]


def test_split_is_fixed(split, float_file):
    xtr, ytr, xte, yte = split
    assert (len(xtr), len(xte)) == (float_file["split"]["train"], float_file["split"]["test"])
    assert len(xtr) + len(xte) == 1797
    assert np.bincount(yte).min() >= 35       # stratified: every class in the test split


def test_weights_file_is_the_export_of_the_shipped_parameters(float_file):
    """The quick check of the trainer: exporting the shipped fine-tuned parameters at the
    shipped scales gives the shipped weights file byte for byte (the full retrain is slow)."""
    exported = train.export(train.tuned_params(float_file),
                            train.quant_from_float_file(float_file))
    assert train.dumps(exported) == WEIGHTS_PATH.read_text(encoding="utf-8")


@pytest.mark.parametrize("layer, value, message", [
    ("q_proj", "dense", "q_proj: row 0"),
    ("embed", "wide", "embed must hold INT8"),
    ("ffn1", "two", "ffn1 weight must be"),
    ("pos", "shape", "pos must have shape"),
])
def test_weights_refused_naming_the_layer(layer, value, message):
    doc = json.loads(WEIGHTS_PATH.read_text(encoding="utf-8"))
    if value == "dense":
        doc[layer]["weight"] = [[1] * spec.DIM for _ in range(spec.DIM)]
    elif value == "wide":
        doc[layer]["weight"][0][0] = 200
    elif value == "two":
        doc[layer]["weight"][0][0] = 2
    else:
        doc[layer] = doc[layer][:-1]
    with pytest.raises(ValueError, match=message):
        model.Weights.from_dict(doc)


def test_pixels_refused():
    weights = model.load_weights()
    with pytest.raises(ValueError, match="pixels must be"):
        model.run(weights, np.full((1, 64), 17))


# --- slow: the whole split on the golden models, the full retrain -------------------------------

@pytest.mark.slow
def test_golden_engine_on_the_whole_test_split(weights, split):
    _, _, xte, _ = split
    assert np.array_equal(model.run(weights, xte, model.Golden()), model.run(weights, xte))


@pytest.mark.slow
def test_retrain_reproduces_the_shipped_files(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "vit_digits_train.py"),
                    "--out", str(tmp_path)], check=True, env=env, cwd=REPO_ROOT,
                   capture_output=True)
    for name in (model.FLOAT_FILE, model.WEIGHTS_FILE):
        assert (tmp_path / name).read_bytes() == (model.PACKAGE_DIR / name).read_bytes(), name


def _block(text, name):
    start, end = f"<!-- vit_digits:{name} -->\n", f"<!-- /vit_digits:{name} -->"
    return text[text.index(start) + len(start):text.index(end)]


def test_docs_tables_are_the_models(weights, float_file):
    text = (REPO_ROOT / "docs" / "demos.md").read_text(encoding="utf-8")
    assert _block(text, "ops") == model.op_table_markdown(weights)
    assert _block(text, "accuracy") == model.accuracy_markdown(float_file)
