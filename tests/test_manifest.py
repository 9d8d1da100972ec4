"""Manifests: every committed and rendered manifest validates against the versioned JSON Schema,
its field tables and expressions hold together, the facts third parties had to probe are in
it, and the field tables are the layouts' (derivation, expressions, packing)."""

import copy
import dataclasses
import json
import random
from pathlib import Path

import jsonschema
import pytest
from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from generators.catalog import DEFAULT_CATALOG, Entry
from generators.deform.params import DeformParams
from generators.emit import manifest as render_manifest
from generators.emit import render
from generators.gelu.params import GeluParams
from generators.lut_tc.params import LutTcParams
from generators.softmax.params import SoftmaxParams
from generators.sparse_dsp.params import SparseDspParams
from generators.axis import payload_shape, stream_members
from generators.streams import (
    SCHEMA_VERSION,
    Note,
    Padding,
    describe_streams,
    evaluate,
    layout_fields,
)
from testbench.harness import (
    Beat,
    ManifestTB,  # noqa: F401  (the harness imports cleanly)
    _Layout,
    field_range,
    put_field,
)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "generators" / "manifest.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

# Configurations outside the catalog: every optional stream and mode of each family.
EXTRA = [
    Entry("t_gelu_igelu_l1", GeluParams(method="i_gelu", lanes=1, in_width=8, in_frac=4,
                                        out_width=8, out_frac=4)),
    Entry("t_gelu_edge_moe_l3", GeluParams(method="edge_moe", lanes=3)),
    Entry("t_softmax_l2_newton", SoftmaxParams(method="natural", lanes=2, max_len=64,
                                               recip_method="newton")),
    Entry("t_softmax_ibert_l8", SoftmaxParams(method="ibert", lanes=8, max_len=64)),
    Entry("t_sparse_fabric", SparseDspParams(lanes=8, m=8, supported_n=(1, 2, 8), max_k=64,
                                             sparse_mux="fabric")),
    Entry("t_sparse_packed", SparseDspParams(lanes=4, m=8, supported_n=(1, 2, 4),
                                             weight_bits=3, max_k=64, packed=True, oau=True)),
    Entry("t_lut_int4_epilogue", LutTcParams(weight_format="int4", n=4, zp_group=8,
                                             acc_in=True, requant=True)),
    Entry("t_lut_binary_m1", LutTcParams(weight_format="binary", m=1, n=2, g=2)),
    Entry("t_deform_full_bilinear", DeformParams(
        mode="full", offset_mode="bilinear", pe=2, po=2, c_max=8, co_max=8, h_max=8, w_max=8,
        d_max=2, weight_bits=4, offset_frac=3, mask=True, mask_bits=5)),
    Entry("t_deform_dw_rounded_pe1", DeformParams(offset_mode="rounded", pe=1, c_max=4,
                                                  h_max=8, w_max=8, d_max=3)),
]
ALL = list(DEFAULT_CATALOG) + EXTRA


def manifest_of(entry):
    """The committed manifest of a catalog entry (``build --check`` keeps it current, see
    tests/test_cli.py), else one rendered without Verilog."""
    committed = ROOT / "hdl" / f"{entry.name}.json"
    if entry in DEFAULT_CATALOG:
        return json.loads(committed.read_text())
    return render_manifest(entry, "0" * 64)


MANIFESTS = {e.name: manifest_of(e) for e in ALL}


def small_job(manifest, rng):
    """A job's variables and derived names (small values), as a third party would pick."""
    env = {}
    for var in manifest["job"]["variables"]:
        if "choices" in var:
            env[var["name"]] = rng.choice(var["choices"])
        else:
            top = var["max"] if var["max"] is not None else var["min"] + 8 * var["step"]
            env[var["name"]] = var["min"] + var["step"] * rng.randint(
                0, min((top - var["min"]) // var["step"], 5))
    for derived in manifest["job"]["derived"]:
        env[derived["name"]] = evaluate(derived["expr"], env)
    return env


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["properties"]["schema_version"] == {"const": SCHEMA_VERSION}


@pytest.mark.parametrize("path", sorted((ROOT / "hdl").glob("*.json")), ids=lambda p: p.stem)
def test_committed_manifest_validates(path):
    manifest = json.loads(path.read_text())
    VALIDATOR.validate(manifest)
    assert manifest["schema_version"] == SCHEMA_VERSION


def test_every_catalog_entry_has_a_committed_manifest():
    assert {e.name for e in DEFAULT_CATALOG} == {p.stem for p in (ROOT / "hdl").glob("*.json")}


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_rendered_manifest_validates_and_holds_together(name):
    manifest = MANIFESTS[name]
    VALIDATOR.validate(manifest)
    ports = {p["name"]: p for p in manifest["ports"]}
    for prefix, stream in manifest["streams"].items():
        for signal, width in stream["signals"].items():
            port = ports[f"{prefix}_{signal}"]
            assert port["width"] == width
            assert port["direction"] == stream["direction"]
        for port in ("tvalid", "tready"):
            assert f"{prefix}_{port}" in ports
        _check_fields(prefix, stream["fields"], stream["signals"])
        for alt, fields in stream.get("layouts", {}).items():
            _check_fields(f"{prefix} {alt}", fields, {"tdata": stream["signals"]["tdata"]})
    rng = random.Random(name)
    for _ in range(20):
        env = small_job(manifest, rng)
        _check_job(manifest, env)


def _check_fields(where, fields, signals):
    used = {signal: 0 for signal in signals}
    for field in fields:
        assert field["int_bits"] + field["frac_bits"] == field["width"], (where, field)
        lanes, stride = field.get("lanes", 1), field.get("stride", field["width"])
        assert stride >= field["width"], (where, field)
        for lane in range(lanes):
            bits = ((1 << field["width"]) - 1) << (field["offset"] + lane * stride)
            assert not used[field["signal"]] & bits, f"{where}: {field['name']} overlaps"
            used[field["signal"]] |= bits
        assert used[field["signal"]] < 1 << signals[field["signal"]], (where, field)
        low, high = field_range(field)
        assert all(low <= c <= high for c in field.get("choices", [])), (where, field)


def _check_job(manifest, env):
    beats = {}
    for prefix, stream in manifest["streams"].items():
        beats[prefix] = total = evaluate(stream["beats"], env)
        assert total >= 0
        if stream["tlast"]["role"] == "delimits":
            every = evaluate(stream["tlast"]["every"], env)
            assert every > 0 and total % every == 0, (prefix, env)
        if "segments" in stream:
            assert sum(evaluate(s["beats"], env) for s in stream["segments"]) == total
            for seg in stream["segments"]:
                count = 1
                for index in seg.get("index", []):
                    count *= evaluate(index["count"], env)
                assert "index" not in seg or count == evaluate(seg["beats"], env)
                loop = {i["name"]: 0 for i in seg.get("index", [])}
                fields = stream["fields"] if seg["layout"] == "payload" else \
                    stream["layouts"][seg["layout"]]
                for field in fields:
                    for key in ("value", "used_when"):
                        if key in field:
                            evaluate(field[key], {**env, **loop})
        if "padding" in stream:
            evaluate(stream["padding"]["valid"], {**env, "beat": 0})
    latency = manifest["latency"]
    for event in latency["from"]:
        assert manifest["streams"][event["stream"]]["direction"] == "input"
    assert manifest["streams"][latency["to"]["stream"]]["direction"] == "output"
    assert evaluate(latency["cycles"], env) >= 1
    for event in [*latency["from"], latency["to"]]:
        assert evaluate(event["beat"], env) >= 0


def test_a_typo_does_not_validate():
    manifest = copy.deepcopy(MANIFESTS["softmax_int8"])
    manifest["streams"]["s_axis"]["tlats"] = manifest["streams"]["s_axis"].pop("tlast")
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(manifest)
    manifest = copy.deepcopy(MANIFESTS["gelu_int8"])
    manifest["streams"]["s_axis"]["fields"][0]["frac"] = 5
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(manifest)


def test_rendering_is_deterministic():
    entry = DEFAULT_CATALOG[0]
    assert render(entry) == render(entry)
    assert json.loads(render(entry)[f"{entry.name}.json"]) == MANIFESTS[entry.name]
    assert render_manifest(EXTRA[-2], "0" * 64) == MANIFESTS[EXTRA[-2].name]


# -- the facts a third party had to probe, now in the manifests ---------------------------------

def _field(fields, name):
    return next(f for f in fields if f["name"] == name)


def test_deform_bilinear_states_the_accumulator_format():
    manifest = MANIFESTS["deform_dw_bilinear"]
    acc = next(q for q in manifest["function"]["quantities"] if q["name"] == "acc")
    assert acc["format"]["frac_bits"] == 15 and acc["format"]["signed"]
    # The requantiser's shift covers the accumulator's 15 fraction bits (16 + 15): a calibrated
    # scale then maps real layers without saturating.
    assert manifest["params"]["shift"] == 31
    assert "((acc * scale + 2**30) >> 31)" in manifest["function"]["formula"]
    mask = _field(manifest["streams"]["s_axis_off"]["fields"], "user[]")
    assert (mask["width"], mask["frac_bits"], mask["lanes"]) == (8, 7, 9)


def test_deform_header_is_a_layout_at_exact_offsets():
    stream = MANIFESTS["deform_full_square"]["streams"]["s_axis_w"]
    header = {f["name"]: (f["offset"], f["width"], f["value"]) for f in stream["layouts"]["header"]}
    assert header == {"height": (0, 16, "height"), "width": (16, 16, "width"),
                      "channels": (32, 16, "channels"), "frames": (48, 16, "frames"),
                      "stride2": (64, 1, "stride2"), "relu": (65, 1, "relu"),
                      "out_channels": (66, 16, "out_channels")}
    assert [s["layout"] for s in stream["segments"]] == ["header", "payload"]


def test_deform_full_mode_scale_and_bias_count_on_the_groups_last_beat():
    stream = MANIFESTS["deform_full_square"]["streams"]["s_axis_w"]
    p = DEFAULT_CATALOG[[e.name for e in DEFAULT_CATALOG].index("deform_full_square")].params
    fields = stream["fields"]
    for name in ("data[].scale", "data[].bias"):
        assert _field(fields, name)["used_when"] == "in_group == groups - 1"
    weights = stream["segments"][1]
    assert [i["name"] for i in weights["index"]] == ["out_group", "in_group"]
    # The full-mode field order as a layout: input channel outer, tap inner, then scale, bias.
    names = [f["name"] for f in fields if f["signal"] == "tdata"]
    assert names[:3] == ["data[].w0_0", "data[].w0_1", "data[].w0_2"]
    assert names[9] == "data[].w1_0" and names[-2:] == ["data[].scale", "data[].bias"]
    assert _field(fields, "data[].w1_0")["offset"] == 9 * p.weight_bits
    assert _field(fields, "data[].w0_0")["stride"] == p.lane_bits


def test_softmax_pad_lanes_are_marked_by_a_lane_granular_tkeep():
    for name in ("softmax_int8", "softmax_int8_ibert", "softmax_int8_base2_l1"):
        manifest = MANIFESTS[name]
        lanes = manifest["params"]["lanes"]
        for prefix in ("s_axis", "m_axis"):
            stream = manifest["streams"][prefix]
            assert list(stream["signals"])[:2] == ["tdata", "tkeep"]
            assert stream["signals"]["tkeep"] == lanes            # one bit per lane
            keep = _field(stream["fields"], "keep")
            assert (keep["signal"], keep["offset"], keep["width"]) == ("tkeep", 0, lanes)
            assert "lanes" not in keep                            # bit k is lane k
            assert stream["padding"]["keep_field"] == "keep"
            assert "mask_field" not in stream["padding"]
            assert evaluate(stream["padding"]["valid"], {"length": 6, "beat": 1}) == \
                min(lanes, 6 - lanes)
        stream = manifest["streams"]["s_axis"]
        assert "lane-granular" in _field(stream["fields"], "keep")["meaning"]
        assert "element when keep bit k is 1 and mask bit k is 0" in \
            _field(stream["fields"], "mask")["meaning"]
        mask = _field(stream["fields"], "mask")
        assert (mask["signal"], mask["offset"], mask["width"]) == ("tuser", 0, lanes)
        assert "1.0 saturates to 255" in manifest["function"]["formula"]
        assert any("keep 0 is honoured on any beat" in rule for rule in manifest["rules"])


def test_padding_in_the_schema():
    """A padding names a keep field, a mask field with its value, or both; nothing else."""
    for padding, valid in [({"keep_field": "keep"}, True),
                           ({"mask_field": "mask", "mask_value": 1}, True),
                           ({"keep_field": "keep", "mask_field": "mask", "mask_value": 1}, True),
                           ({}, False), ({"mask_field": "mask"}, False),
                           ({"keep_field": "keep", "mask_value": 1}, False)]:
        manifest = copy.deepcopy(MANIFESTS["softmax_int8"])
        manifest["streams"]["s_axis"]["padding"] = {"valid": "4", "meaning": "pads", **padding}
        assert VALIDATOR.is_valid(manifest) == valid, padding


def test_padding_spec_refuses_what_the_manifest_cannot_say():
    with pytest.raises(ValueError, match="needs a keep_field or a mask_field"):
        Padding("1", "pads")
    with pytest.raises(ValueError, match="mask_value is given exactly when mask_field is"):
        Padding("1", "pads", mask_field="mask")
    with pytest.raises(ValueError, match="mask_value must be 0 or 1, not 2"):
        Padding("1", "pads", mask_field="mask", mask_value=2)
    from generators.softmax.rtl import softmax_core
    core = softmax_core(SoftmaxParams(lanes=2, max_len=8))
    spec = core.block_spec
    wrong = dataclasses.replace(spec.streams["i"], padding=Padding("1", "p", keep_field="mask"))
    spec = dataclasses.replace(spec, streams={**spec.streams, "i": wrong})
    layouts = {n: payload_shape(s) for n, (_f, s) in stream_members(core.signature).items()}
    with pytest.raises(ValueError, match="padding keep_field 'mask' is not a field on tkeep"):
        describe_streams(spec, layouts, {"i": "s_axis", "o": "m_axis"},
                         {"i": "input", "o": "output"})


@pytest.mark.parametrize("name", ["lut_tc_binary", "lut_tc_ternary", "lut_tc_ternary_pairs"])
def test_lut_tc_binary_and_ternary_compute_a_times_w(name):
    formula = MANIFESTS[name]["function"]["formula"]
    assert formula.startswith("O = A @ w") and "(q - z)" not in formula


def test_latency_numbers_by_one_convention():
    """The corrected numbers (measured by tests/test_manifest_cocotb.py): softmax counts from
    the last input's transfer edge like GELU and the sparse chain."""
    cycles = {name: MANIFESTS[name]["latency"]["cycles"] for name in MANIFESTS}
    assert cycles["gelu_int8"] == "7"
    # Four more than before issue 19: the reciprocal's Newton step (product, residual,
    # narrow product, rounded sum).
    assert cycles["softmax_int8"] == cycles["softmax_int8_base2"] == "37"
    assert cycles["softmax_int8_base2_l1"] == "35"
    assert cycles["softmax_int8_ibert"] == "39 + beats"
    assert cycles["sparse_dsp_l8_m4"] == "7" and cycles["lut_tc_int2"] == "2"
    assert cycles["deform_dw_square"] == "8" and cycles["deform_dw_bilinear"] == "11"
    assert cycles["deform_full_square"] == "7 + groups"
    # One number for tables: the latency at the largest job.
    assert MANIFESTS["softmax_int8_ibert"]["latency_cycles"] == 39 + 256 // 4
    assert MANIFESTS["deform_full_square"]["latency_cycles"] == 7 + 32 // 4


# -- field tables from layouts, expressions, packing ---------------------------------------------

def test_layout_fields_derive_offsets_lanes_and_formats():
    lane = data.StructLayout({"a": signed(3), "b": unsigned(5)})
    layout = data.StructLayout({"data": data.StructLayout({
        "values": data.ArrayLayout(lane, 4), "extra": data.ArrayLayout(
            data.ArrayLayout(unsigned(2), 3), 2)}), "user": 2, "last": 1})
    signal_of = {"data": "tdata", "user": "tuser", "last": "tlast"}
    table = layout_fields(layout, {"data.values[].a": Note(2, "a")}, signal_of)
    rows = {r["name"]: (r["signal"], r["offset"], r["width"], r["signed"], r["frac_bits"],
                        r.get("lanes"), r.get("stride")) for r in table}
    assert rows == {
        "data.values[].a": ("tdata", 0, 3, True, 2, 4, 8),
        "data.values[].b": ("tdata", 3, 5, False, 0, 4, 8),
        "data.extra[][0]": ("tdata", 32, 2, False, 0, 2, 6),
        "data.extra[][1]": ("tdata", 34, 2, False, 0, 2, 6),
        "data.extra[][2]": ("tdata", 36, 2, False, 0, 2, 6),
        "user": ("tuser", 0, 2, False, 0, None, None),
        "last": ("tlast", 0, 1, False, 0, None, None)}
    with pytest.raises(ValueError, match="notes name fields the layout does not have: data"):
        layout_fields(layout, {"data[]": Note()}, signal_of)


@pytest.mark.parametrize("text, value", [
    ("1 + 2 * 3", 7), ("(7 - 1) // 4", 1), ("cdiv(9, 4)", 3), ("min(3, x - 1)", 3),
    ("max(2, 9) % 4", 1), ("x == 5 and not 0", 1), ("1 < x <= 4", 0), ("-x + 6", 1)])
def test_expressions(text, value):
    assert evaluate(text, {"x": 5}) == value


@pytest.mark.parametrize("text", ["__import__('os')", "x ** 2", "x / 2", "x.y", "[1]", "1.5"])
def test_expressions_refuse_anything_else(text):
    with pytest.raises(ValueError):
        evaluate(text, {"x": 5})


def test_expression_names_must_be_bound():
    with pytest.raises(ValueError, match="unknown name 'y'"):
        evaluate("y + 1", {"x": 1})


def _random_payload(layout, rng):
    payload = {}
    for field, _path in layout.fields:
        low, high = field_range(field)
        for lane in range(field.get("lanes", 1)) if "lanes" in field else [None]:
            put_field(payload, field["name"], lane, rng.randint(low, high))
    return payload


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_harness_packing_round_trips(name, monkeypatch):
    rng = random.Random(name)
    for prefix, stream in MANIFESTS[name]["streams"].items():
        layouts = {"payload": stream["fields"], **stream.get("layouts", {})}
        for alt, fields in layouts.items():
            layout = _Layout(prefix, fields)
            for _ in range(5):
                payload = _random_payload(layout, rng)
                beat = layout.pack(payload)
                assert layout.unpack(beat) == payload, (prefix, alt)


def test_harness_packs_at_the_manifests_offsets():
    stream = MANIFESTS["softmax_int8"]["streams"]["s_axis"]
    layout = _Layout("s_axis", stream["fields"])
    beat = layout.pack({"data": [1, -1, 2, -128], "mask": 0b1010, "last": 1})
    assert beat == Beat(0x80_02_FF_01, 0b1010, 1, 0b1111)       # keep left out: every lane
    beat = layout.pack({"data": [1, -1, 2, -128], "keep": 0b0011, "mask": 0, "last": 1})
    assert beat == Beat(0x80_02_FF_01, 0, 1, 0b0011)
    assert layout.unpack(beat)["keep"] == 0b0011
    header = _Layout("s_axis_w", MANIFESTS["deform_dw_square"]["streams"]["s_axis_w"]
                     ["layouts"]["header"])
    word = header.pack({"height": 5, "width": 7, "channels": 16, "frames": 2, "stride2": 1,
                        "relu": 0}).tdata
    assert word == 5 | 7 << 16 | 16 << 32 | 2 << 48 | 1 << 64
    with pytest.raises(ValueError, match="s_axis field data\\[\\] lane 0 must be an integer in "
                                         "-128..127, not 128"):
        layout.pack({"data": [128, 0, 0, 0]})
    with pytest.raises(ValueError, match="payload has keys the stream does not: dat"):
        layout.pack({"dat": [0] * 4})
