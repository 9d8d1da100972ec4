"""The shared parameter machinery: declarations of every family enforced as declared, value text
in messages, "did you mean" on any type, the parameter tables and the ``params`` verb."""

import dataclasses
import re

import pytest

from generators.catalog import FAMILIES
from generators.cli import main
from generators.lut_tc.params import MultArrayParams
from generators.params import (BOOL, INT, INT_LIST, STR, BlockParams, Derived, ParamError,
                               ParamTypeError, ParamValueError, check_choice, declared,
                               did_you_mean, param, parameter_table, parameter_table_markdown,
                               parameter_table_text, show, when)

CLASSES = [f.params_class for f in FAMILIES.values()] + [MultArrayParams]
FIELDS = [(cls, name, spec) for cls in CLASSES for name, spec in declared(cls)]
FIELD_IDS = [f"{cls.__name__}.{name}" for cls, name, _ in FIELDS]


def anchored(message):
    return "^" + re.escape(message) + "$"


# -- value text and suggestions ------------------------------------------------------------------

@pytest.mark.parametrize("value", [0, -7, 4.0, float("nan"), True, None, "ram", (1, 2), (3,),
                                   [1, [2.5, "x"]], {"a": 1}, ()])
def test_short_values_show_as_repr(value):
    assert show(value) == repr(value)


def test_long_values_are_cut():
    text = show("x" * 20_000)
    assert len(text) == 60 and text.startswith("'xxx") and text.endswith("...")
    numbers = show(list(range(10_000)))
    assert numbers.startswith("[0, 1, 2, ") and len(numbers) == 60
    # Python refuses to print ints of more than 4300 digits; show never tries.
    assert show(1 << 20_000) == "<a 20001-bit integer>"
    assert show([1, -(1 << 20_000)]) == "[1, <a 20001-bit integer>]"
    assert show(10**56) == repr(10**56) and show(10**58) == "<a 193-bit integer>"
    deep = []
    for _ in range(50):
        deep = [deep]
    assert len(show(deep)) == 60


@pytest.mark.parametrize("value, choices, suggestion", [
    ("int3", ("binary", "ternary", "int2", "int4"), "; did you mean 'int4'?"),
    ("zzzz", ("ram", "fabric"), ""),
    (5, (2, 4, 8, 16), "; did you mean 4?"),
    (3, (2, 4, 8, 16), ""),                 # 2 and 4 are as near: no guess
    (1000, (2, 4, 8, 16), "; did you mean 16?"),
    (7.5, (4, 8), "; did you mean 8?"),
    (float("nan"), (4, 8), ""),
    (float("inf"), (4, 8), ""),
    (3, ("a", "b"), ""),
    ("4", (2, 4), ""),
    (True, (1, 2), ""),
    ([4], (2, 4), ""),
    (4, ("x", 4.5, 2), "; did you mean 4.5?"),
    (10**400, (2, 4.5), "; did you mean 4.5?"),
    (-(1 << 4000), (2, 4.5, float("inf")), "; did you mean 2?"),
])
def test_did_you_mean_any_type(value, choices, suggestion):
    assert did_you_mean(value, choices) == suggestion


@pytest.mark.parametrize("value, suggestion", [(True, ""), (1.0, "; did you mean 1?"),
                                               ("1", ""), ((1,), "")])
def test_choice_needs_the_same_kind(value, suggestion):
    with pytest.raises(ParamValueError,
                       match=anchored(f"x must be one of 1, 2, not {value!r}{suggestion}")):
        check_choice("x", value, (1, 2))


# -- every declared field, enforced as declared -------------------------------------------------

#: What a condition needs to pass the cross-field checks: packed without the overflow adjust
#: unit is exact only for short vectors.
COMPANIONS = {("sparse_dsp", "packed"): {"max_k": 4}}


def applicable(cls, name):
    """Values that make ``name`` apply (its method, mode or flag, recursively)."""
    spec = dict(declared(cls))[name]
    if spec.applies is None:
        return {}
    return {**applicable(cls, spec.applies.field), spec.applies.field: spec.applies.values[0],
            **COMPANIONS.get((cls.family, spec.applies.field), {})}


def inapplicable(cls, name):
    """Values where ``name`` does not apply."""
    when = dict(declared(cls))[name].applies
    owner = dict(declared(cls))[when.field]
    if when.flag:
        other = False
    else:
        other = next(c for c in owner.choices if c not in when.values)
    return {**applicable(cls, when.field), when.field: other}


def test_every_field_is_declared():
    for cls in CLASSES:
        assert [name for name, _ in declared(cls)] == cls.field_names()


@pytest.mark.parametrize("cls, name, spec", FIELDS, ids=FIELD_IDS)
def test_field_has_one_sentence_of_doc_and_its_default(cls, name, spec):
    assert re.fullmatch(r"[^\n]{10,}[.)]", spec.doc) and not re.search(r"\. [A-Z]", spec.doc)
    assert spec.kind in (INT, BOOL, STR, INT_LIST) or spec.kind.name
    params = cls(**applicable(cls, name))
    if spec.default is None:                # optional: unset means the feature is off
        assert getattr(params, name) is None
    elif not hasattr(spec.default, "compute"):
        assert getattr(params, name) == spec.default
    else:
        assert getattr(params, name) == spec.default.compute(params)


WRONG_KIND = {INT: ("4", 4.0, True, None, [4]), BOOL: (1, 0, "true", None),
              STR: (1, None, ["ram"], True), INT_LIST: ((), (1.0,), (True,), 4, "1")}


@pytest.mark.parametrize("cls, name, spec", FIELDS, ids=FIELD_IDS)
def test_kind_is_enforced(cls, name, spec):
    setup = applicable(cls, name)
    for value in WRONG_KIND.get(spec.kind, ("x", 1.5, True)):
        if value is None and spec.field_default is None:
            continue                        # None asks for the default there
        with pytest.raises(ParamTypeError, match=rf"^{name}(\[0\])? must be "):
            cls(**{**setup, name: value})


@pytest.mark.parametrize("cls, name, spec",
                         [f for f in FIELDS if f[2].low is not None or f[2].high is not None],
                         ids=[i for i, f in zip(FIELD_IDS, FIELDS)
                              if f[2].low is not None or f[2].high is not None])
def test_range_is_enforced(cls, name, spec):
    params = cls(**applicable(cls, name))
    low, high = (getattr(params, b) if isinstance(b, str) else
                 b.compute(params) if hasattr(b, "compute") else b
                 for b in (spec.low, spec.high))
    label = f"{name} entries" if spec.kind is INT_LIST else name
    for value in (low - 1, high + 1, high + 10**40):
        given = (value,) if spec.kind is INT_LIST else value
        with pytest.raises(ParamValueError, match=anchored(
                f"{label} must be between {low} and {high}, not {value}")):
            cls(**{**applicable(cls, name), name: given})


@pytest.mark.parametrize("cls, name, spec", [f for f in FIELDS if f[2].choices is not None],
                         ids=[i for i, f in zip(FIELD_IDS, FIELDS) if f[2].choices is not None])
def test_choices_are_enforced(cls, name, spec):
    numeric = spec.kind is INT
    value = max(spec.choices) * 2 + 1 if numeric else "not_a_" + spec.choices[0]
    with pytest.raises(ParamValueError, match=rf"^{name} must be .*, not {re.escape(repr(value))}"):
        cls(**{**applicable(cls, name), name: value})
    for choice in spec.choices:             # each declared choice is accepted on its own
        try:
            cls(**{**applicable(cls, name), name: choice})
        except ParamError as error:         # ... or refused by a cross-field check, not the choice
            assert not str(error).startswith(f"{name} must be one of"), error


@pytest.mark.parametrize("cls, name, spec", [f for f in FIELDS if f[2].applies is not None],
                         ids=[i for i, f in zip(FIELD_IDS, FIELDS) if f[2].applies is not None])
def test_applies_is_enforced(cls, name, spec):
    value = getattr(cls(**applicable(cls, name)), name)
    if spec.kind is BOOL:
        value = True
    elif value is None:                     # optional: any allowed value
        value = getattr(cls(**applicable(cls, name)), spec.low) * 2
    setup = inapplicable(cls, name)
    where = getattr(cls(**setup), spec.applies.field)
    expected = (f"{name} applies only with {spec.applies.field} = true" if spec.applies.flag
                else f"{name} applies only to {spec.applies}, not {where!r}")
    with pytest.raises(ParamValueError, match=anchored(expected)):
        cls(**{**setup, name: value})
    assert name not in cls(**setup).to_dict() or spec.kind is BOOL


@pytest.mark.parametrize("cls, name, spec",
                         [f for f in FIELDS if f[2].power_of_two or f[2].multiple_of],
                         ids=[i for i, f in zip(FIELD_IDS, FIELDS)
                              if f[2].power_of_two or f[2].multiple_of])
def test_power_of_two_and_multiple_are_enforced(cls, name, spec):
    setup = applicable(cls, name)
    if spec.power_of_two:
        with pytest.raises(ParamValueError, match=anchored(f"{name} must be a power of two, "
                                                           f"not 12")):
            cls(**{**setup, name: 12})
    if spec.multiple_of:
        divisor = getattr(cls(**setup), spec.multiple_of)
        if divisor == 1:                    # every value is a multiple of 1
            divisor = setup[spec.multiple_of] = 2
        value = 3 * divisor + 1
        with pytest.raises(ParamValueError, match=anchored(
                f"{name} must be a multiple of {spec.multiple_of} ({divisor}), not {value}")):
            cls(**{**setup, name: value})


def test_default_objects_and_to_dict_keep_their_shape():
    # to_dict leaves out method-specific fields that do not apply: manifests depend on it.
    from generators.deform.params import DeformParams

    assert set(DeformParams().to_dict()) == set(DeformParams.field_names()) - {
        "po", "co_max", "offset_frac", "mask_bits"}
    for cls in CLASSES:
        assert cls.from_dict(cls().to_dict()) == cls()


# -- tables and the params verb ------------------------------------------------------------------

@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_parameter_table_rows(cls):
    rows = parameter_table(cls)
    assert [row.name for row in rows] == cls.field_names()
    assert all(all(cell and "\n" not in cell for cell in row) for row in rows)
    markdown = parameter_table_markdown(cls).splitlines()
    assert len(markdown) == 2 + len(rows)
    for line in markdown:
        assert len(re.split(r"(?<!\\)\|", line)) == 8, line     # six cells, none split
    assert len(parameter_table_text(cls).splitlines()) == 1 + len(rows)


def test_table_text_of_declarations():
    from generators.deform.params import DeformParams
    from generators.sparse_dsp.params import SparseDspParams

    rows = {row.name: row for row in parameter_table(DeformParams)}
    assert rows["co_max"][1:5] == ("int", "16", "po..1024, a multiple of po", 'mode = "full"')
    assert rows["rows"].default == "2 * d_max + 2 (3 without offsets)"
    assert rows["mask_bits"].applies == "mask = true"
    sparse = {row.name: row for row in parameter_table(SparseDspParams)}
    assert sparse["m"].allowed == "2, 4, 8, 16" and sparse["supported_n"].default == "[1, 2, 4]"
    assert sparse["sparse_mux"].allowed == '"ram", "fabric"' and sparse["packed"].default == "false"


@pytest.mark.parametrize("family", list(FAMILIES))
def test_params_verb(family, capsys):
    assert main(["params", family]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = FAMILIES[family].params_class.field_names()
    assert lines[0].split()[:2] == ["parameter", "kind"]
    assert [line.split()[0] for line in lines[1:]] == names
    assert main(["params", family, "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out == parameter_table_markdown(FAMILIES[family].params_class)


@pytest.mark.parametrize("argv, message", [
    (["params", "gelus"], "error: family must be one of 'gelu', 'softmax', 'deform', 'lut_tc', "
                          "'sparse_dsp', not 'gelus'; did you mean 'gelu'?"),
    (["params", "x" * 20_000], "error: family must be one of 'gelu', 'softmax', 'deform', "
                               "'lut_tc', 'sparse_dsp', not '" + "x" * 56 + "..."),
    (["params"], "error: the following arguments are required: FAMILY "
                 "(see python -m generators params --help)"),
])
def test_params_verb_errors(argv, message, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == message + "\n" and captured.out == ""


# -- the machinery on a small declaration of its own --------------------------------------------

@dataclasses.dataclass(frozen=True)
class Toy(BlockParams):
    family = "toy"

    style: str = param("a", kind=STR, choices=("a", "b"), doc="The style.")
    width: int = param(8, kind=INT, low=2, high=32, power_of_two=True, doc="The width.")
    depth: int = param(Derived("2 * width", lambda p: 2 * p.width), kind=INT, low="width",
                       high=1024, multiple_of="width", doc="The depth.")
    extra: int = param(3, kind=INT, low=0, high=Derived("width - 1", lambda p: p.width - 1),
                       applies=when("style", "b"), doc="Only for style b.")
    flag: bool = param(False, kind=BOOL, applies=when("style", "b"), doc="A flag of style b.")
    level: int = param(1, kind=INT, low=1, high=4, applies=when("flag", True), doc="With flag.")


@pytest.mark.parametrize("values, error, message", [
    (dict(style="c"), ParamValueError, "style must be one of 'a', 'b', not 'c'"),
    (dict(width=6), ParamValueError, "width must be a power of two, not 6"),
    (dict(width=64), ParamValueError, "width must be between 2 and 32, not 64"),
    (dict(depth=4), ParamValueError, "depth must be between 8 and 1024, not 4"),
    (dict(depth=20), ParamValueError, "depth must be a multiple of width (8), not 20"),
    (dict(extra=1), ParamValueError, "extra applies only to style 'b', not 'a'"),
    (dict(style="b", extra=8), ParamValueError, "extra must be between 0 and 7, not 8"),
    (dict(flag=True), ParamValueError, "flag applies only to style 'b', not 'a'"),
    (dict(flag=None), ParamTypeError, "flag must be a bool, not None"),
    (dict(style="b", level=2), ParamValueError, "level applies only with flag = true"),
    (dict(width=None), ParamTypeError, "width must be an integer, not None"),
])
def test_wrong_toy(values, error, message):
    with pytest.raises(error, match=anchored(message)):
        Toy(**values)


def test_toy_resolves_and_tabulates():
    assert Toy().to_dict() == {"style": "a", "width": 8, "depth": 16, "flag": False}
    b = Toy(style="b", width=4, flag=True)
    assert (b.depth, b.extra, b.level) == (8, 3, 1)
    assert [tuple(row) for row in parameter_table(Toy)] == [
        ("style", "str", '"a"', '"a", "b"', "all", "The style."),
        ("width", "int", "8", "2..32, a power of two", "all", "The width."),
        ("depth", "int", "2 * width", "width..1024, a multiple of width", "all", "The depth."),
        ("extra", "int", "3", "0..width - 1", 'style = "b"', "Only for style b."),
        ("flag", "bool", "false", "true, false", 'style = "b"', "A flag of style b."),
        ("level", "int", "1", "1..4", "flag = true", "With flag."),
    ]


def test_method_specific_flag_defaults_to_false():
    with pytest.raises(TypeError, match=anchored("a method-specific flag must default to False")):
        param(True, kind=BOOL, applies=when("style", "b"), doc="Cannot be set.")
