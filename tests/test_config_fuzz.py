"""Random config tables for every family: each is either a block or one clean error line.

A property test (hypothesis, derandomized) feeds TOML-able values (ints of any size, floats with
NaN and infinities, bools, unicode strings, nested lists and tables) to random fields of every
family through ``entry_from_table``: every accepted table then passes the resource guards or is
refused by them in one line, and a small deterministic sample of accepted tables is built and
linted with our Verilator flags. Then the config faults found by hand go through the CLI.
"""

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from generators import guards
from generators.catalog import FAMILIES, Entry, entry_from_table, params_from_json
from generators.cli import main
from generators.emit import render
from generators.params import BOOL, INT, INT_LIST, STR, ParamError, declared
from testbench.runner import lint

LEAVES = st.one_of(
    st.integers(-5, 70_000),
    st.integers(),
    st.sampled_from([1 << 63, -(1 << 64), 10**400, -(1 << 4000)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 4.0, 8.0, 1.5, float("nan"), float("inf"), float("-inf")]),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["", "8", "true", "ram", "x" * 20_000, "\ufeff", "é\u0301", "a\nb"]),
)
TOML_VALUES = st.recursive(
    LEAVES, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


def _edges(params_class, spec):
    """The field's default and declared bounds (and one beyond) on the default object."""
    base = params_class()
    values = [spec.default] if isinstance(spec.default, int) else []
    for bound in (spec.low, spec.high):
        if isinstance(bound, str):
            bound = getattr(base, bound)
        elif bound is not None and not isinstance(bound, int):
            try:
                bound = bound.compute(base)
            except TypeError:       # from a field that does not apply on the default object
                bound = None
        if isinstance(bound, int):
            values += [bound - 1, bound, bound + 1]
    return values


def plausible(params_class, spec):
    """Values near what the field takes, so that accepted configs and cross checks are hit."""
    if spec.choices is not None:
        return st.sampled_from(list(spec.choices))
    if spec.kind is BOOL:
        return st.booleans()
    if spec.kind is INT:
        edges = _edges(params_class, spec)
        return st.integers(-1, 70) | (st.sampled_from(edges) if edges else st.nothing())
    if spec.kind is INT_LIST:
        return st.lists(st.integers(0, 17), min_size=0, max_size=4)
    return st.lists(st.tuples(st.integers(0, 9) | st.floats(0, 9), st.integers(-1, 13))
                    .map(list), min_size=0, max_size=4)


# Built once: hypothesis validates every new strategy object, which costs more than the test.
NEAR = {family: {name: plausible(FAMILIES[family].params_class, spec)
                 for name, spec in declared(FAMILIES[family].params_class)}
        for family in FAMILIES}
FIELD_NAMES = {family: st.lists(st.sampled_from(sorted(NEAR[family])), min_size=1,
                                max_size=4, unique=True) for family in FAMILIES}
QUARTER = st.integers(0, 3)


@st.composite
def tables(draw):
    family = draw(st.sampled_from(sorted(FAMILIES)))
    # Three in four values plausible, so that tables of several fields are often accepted.
    values = {name: draw(NEAR[family][name] if draw(QUARTER) else TOML_VALUES)
              for name in draw(FIELD_NAMES[family])}
    if draw(st.integers(0, 20)) == 0:
        values[draw(st.text(max_size=8))] = draw(LEAVES)
    return family, values


def _matches_kind(spec, value):
    """Whether a TOML value is of the field's kind (the frozen form: lists become tuples)."""
    if spec.kind is INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if spec.kind is BOOL:
        return isinstance(value, bool)
    if spec.kind is STR:
        return isinstance(value, str)
    if spec.kind is INT_LIST:
        return (isinstance(value, list) and value
                and all(isinstance(v, int) and not isinstance(v, bool) for v in value))
    return True                             # a family's own kind: not judged here


def check_outcome(family, values):
    names = FAMILIES[family].params_class.field_names()
    try:
        entry = entry_from_table("a", {"family": family, **values})
    except ParamError as error:
        message = str(error)
        assert "\n" not in message and message.startswith("[a] "), message
        assert len(message) < 500, message
        assert any(re.search(rf"\b{re.escape(n)}\b", message) for n in names + ["parameter"]), \
            message
        if len(values) == 1:
            (name, value), = values.items()
            spec = dict(declared(FAMILIES[family].params_class)).get(name)
            if spec is not None and not _matches_kind(spec, value):
                assert message.startswith(f"[a] {name}"), (values, message)
        return message
    assert isinstance(entry, Entry)
    assert params_from_json(entry.params.to_json()) == entry.params
    try:
        guards.check(entry)
    except guards.ResourceError as error:
        message = str(error)
        assert "\n" not in message and len(message) < 500, message
        assert message.startswith("[a] would ") and message.endswith(
            "; pass --force to build it anyway"), message
    return None


@settings(derandomize=True, max_examples=1000, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tables())
def test_random_tables_give_a_block_or_one_clean_line(table):
    check_outcome(*table)


@settings(derandomize=True, max_examples=200, deadline=None, database=None)
@given(TOML_VALUES)
def test_random_family_values(value):
    try:
        entry_from_table("a", {"family": value})
    except ParamError as error:
        message = str(error)
        assert "\n" not in message and len(message) < 500
        assert message.startswith("[a] family must be one of") or "needs a family" in message
    else:
        assert False, f"family {value!r} accepted"


# -- a sample of accepted tables, built and linted -------------------------------------------------

def build_and_lint(entry):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{entry.name}.v"
        path.write_bytes(render(entry)[path.name])
        lint([path], entry.name)


@st.composite
def plausible_tables(draw, family):
    """Tables of plausible values only for ``family``: most are accepted."""
    return {name: draw(NEAR[family][name]) for name in draw(FIELD_NAMES[family])}


#: Small enough to build and lint in a few seconds.
SAMPLE_LIMITS = guards.Limits(verilog_bytes=300_000, elaboration_seconds=4)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@settings(derandomize=True, max_examples=2, deadline=None, database=None,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_accepted_tables_build_lint_clean(family, data):
    values = data.draw(plausible_tables(family))
    try:
        entry = entry_from_table("a", {"family": family, **values})
        guards.check(entry, SAMPLE_LIMITS)
    except ParamError:
        assume(False)
    build_and_lint(entry)


# -- the faults found by hand, through the command line -----------------------------------------

X = "x" * 20_000
FAMILY_CHOICES = "'gelu', 'softmax', 'deform', 'lut_tc', 'sparse_dsp'"

CLI_CASES = [
    ('family = "sparse_dsp"\nm = 3', "[a] m must be one of 2, 4, 8, 16, not 3"),
    ('family = "sparse_dsp"\nm = 4.0', "[a] m must be an integer, not 4.0"),
    ('family = "sparse_dsp"\nm = ""', "[a] m must be an integer, not ''"),
    ('family = "sparse_dsp"\nm = true', "[a] m must be an integer, not True"),
    ('family = "sparse_dsp"\nweight_bits = 8.0', "[a] weight_bits must be an integer, not 8.0"),
    ('family = "sparse_dsp"\nweight_bits = 5',
     "[a] weight_bits must be one of 2, 3, 4, 8, not 5; did you mean 4?"),
    ('family = "sparse_dsp"\nact_bits = "8"', "[a] act_bits must be an integer, not '8'"),
    ('family = "sparse_dsp"\nsupported_n = [1, [2]]',
     "[a] supported_n must be a non-empty list of integers, not (1, (2,))"),
    ('family = "gelu"\nsegments = [[nan, 4]]',
     "[a] segments[0] end must be a finite number, not nan"),
    ('family = "gelu"\nsegments = [[1, 4], [inf, 4]]',
     "[a] segments[1] end must be a finite number, not inf"),
    ('family = "gelu"\nlanes = -inf', "[a] lanes must be an integer, not -inf"),
    ('family = "gelu"\nlanes = 99999999999999999999999',
     "[a] lanes must be between 1 and 16, not 99999999999999999999999"),
    ('family = ["gelu"]', f"[a] family must be one of {FAMILY_CHOICES}, not ['gelu']"),
    ('family = 3', f"[a] family must be one of {FAMILY_CHOICES}, not 3"),
    ('family = {gelu = 1}', f"[a] family must be one of {FAMILY_CHOICES}, not {{'gelu': 1}}"),
    (f'family = "gelu"\nmethod = "{X}"', "[a] method must be one of 'direct_table', 'edge_moe', "
                                         "'fitted_pwl', 'i_gelu', not '" + "x" * 56 + "..."),
    (f'family = "gelu"\n{X} = 1', "[a] gelu has no parameter '" + "x" * 56 + "..." +
     " (parameters: lanes, in_width, in_frac, out_width, out_frac, rounding, method, "
     "table_frac, table_step_log2, table_entries, segments)"),
    ('family = "deform"\nmask = 1', "[a] mask must be a bool, not 1"),
    ('family = "lut_tc"\nzp_group = 8.0', "[a] zp_group must be an integer, not 8.0"),
    ('family = "softmax"\nrecip_method = ["pwl"]',
     "[a] recip_method must be a string, not ('pwl',)"),
]


def error_line(capsys, tmp_path, data):
    config = tmp_path / "blocks.toml"
    config.write_bytes(data)
    status = main(["build", "--config", str(config), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == "" and captured.err.count("\n") == 1, captured
    assert not (tmp_path / "out").exists()
    return captured.err.removesuffix("\n")


@pytest.mark.parametrize("body, message", CLI_CASES, ids=[m[:50] for _, m in CLI_CASES])
def test_bad_value_through_the_cli(body, message, tmp_path, capsys):
    assert error_line(capsys, tmp_path, f"[a]\n{body}\n".encode()) == f"error: {message}"


@pytest.mark.parametrize("data, message", [
    (b'[a]\nfamily = "g\xffelu"\n',
     "error: blocks.toml: not UTF-8 text (byte 0xff at offset 15); TOML files are UTF-8"),
    (bytes(range(256)), "error: blocks.toml: not UTF-8 text (byte 0x80 at offset 128); TOML "
                        "files are UTF-8"),
    (b"a = " + b"9" * 5000, "error: blocks.toml: invalid TOML: Exceeds the limit (4300 digits) "
                            "for integer string conversion"),
    (b"a = " + b"[" * 5000 + b"]" * 5000,
     "error: blocks.toml: invalid TOML: arrays or tables nested too deeply"),
    (b"\x00\x01", "error: blocks.toml: invalid TOML: Invalid statement (at line 1, column 1)"),
], ids=["not utf-8", "binary", "huge integer", "deep nesting", "control bytes"])
def test_unreadable_config_through_the_cli(data, message, tmp_path, capsys):
    assert error_line(capsys, tmp_path, data) == message


def test_byte_order_mark_is_accepted(tmp_path, capsys):
    config = tmp_path / "blocks.toml"
    config.write_bytes('\ufeff[a]\nfamily = "gelu"\n'.encode())
    assert main(["build", "--list", "--config", str(config)]) == 0
    assert capsys.readouterr().out.split()[:2] == ["a", "gelu"]


def test_long_block_name_is_cut(tmp_path, capsys):
    data = f'[{X}]\nfamily = "gelu"\n'.encode()
    assert error_line(capsys, tmp_path, data) == (
        "error: block name '" + "x" * 56 + "... is not allowed: use 1 to 63 lowercase letters, "
        "digits and underscores, starting with a letter")
