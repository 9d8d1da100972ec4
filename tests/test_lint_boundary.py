"""Every accepted boundary configuration lints clean under the cocotb builds' Verilator flags.

The configurations come from the declared parameters: on each family's bases (the defaults and
one table per method or mode, so that every method-specific field applies somewhere), each field
at its low and high bound and at each of its choices, the others at their defaults; then the
cases found by hand (issue 16) and a few combined extremes. A configuration the parameter class
refuses is skipped: refusing is the validator's business, and the fuzz tests check its messages.

High bounds that describe resource limits rather than datapath shapes (``max_k = 65536``,
``h_max = 4096``, ...) are linted at a large but sane value instead (:data:`SANE`): their full
size takes minutes and gigabytes to elaborate, which the resource guards refuse before
elaboration. The whole list is ``slow``; a default subset covers every case found by hand.
"""

import pytest
from amaranth.hdl import Module, Shape, Signal, signed, unsigned
from amaranth.sim import Simulator

from generators.catalog import FAMILIES, Entry
from generators.emit import render
from generators.hw import clamp, index_range, memory, shape_bounds
from generators.params import BOOL, INT, INT_LIST, Derived, ParamError, declared
from testbench.runner import lint

#: The tables that enable each family's methods and modes (besides the defaults, ``{}``).
BASES = {
    "gelu": [{"method": "edge_moe"}, {"method": "i_gelu"}],
    "softmax": [{"method": "ibert"}, {"recip_method": "newton"}, {"lanes": 4, "max_len": 64}],
    "sparse_dsp": [{"packed": True, "oau": True}, {"sparse_mux": "fabric"},
                   {"supported_n": [4]}, {"packed": True, "max_k": 4}],
    "lut_tc": [{"requant": True, "acc_in": True, "zp_group": 8},
               {"weight_format": "ternary", "ternary_pairs": True, "bit_serial": False},
               {"weight_format": "binary", "symmetrize": False, "preflip": False}],
    "deform": [{"mode": "full"}, {"offset_mode": "rounded"},
               {"offset_mode": "bilinear", "mask": True}],
}

#: Representative values for high bounds that only size memories (see the module doc).
SANE = {
    ("softmax", "max_len"): 4096,
    ("sparse_dsp", "max_k"): 4096,
    ("deform", "h_max"): 256,
    ("deform", "w_max"): 256,
    ("deform", "c_max"): 256,
    ("deform", "co_max"): 256,
    ("lut_tc", "max_k"): 1024,
    ("lut_tc", "zp_group"): 1024,
}

#: The configurations issue 16 found refused by our own Verilator flags, and their neighbours.
NAMED = [
    ("softmax", {"max_len": 1}),
    ("softmax", {"lanes": 4, "max_len": 4}),
    ("softmax", {"lanes": 16, "max_len": 16}),
    ("softmax", {"method": "ibert", "lanes": 2, "max_len": 2}),
    ("sparse_dsp", {"max_k": 4}),
    ("sparse_dsp", {"m": 2, "supported_n": [1, 2], "max_k": 2}),
    ("sparse_dsp", {"m": 16, "supported_n": [1, 2], "lanes": 2}),
    ("sparse_dsp", {"m": 2, "supported_n": [1, 2], "lanes": 32}),
    ("sparse_dsp", {"m": 16, "supported_n": [16], "lanes": 16, "max_k": 16}),
    ("sparse_dsp", {"max_k": 4, "sparse_mux": "fabric"}),
    ("sparse_dsp", {"max_k": 4, "packed": True}),
    ("deform", {"mode": "full", "pe": 4, "c_max": 4, "po": 2, "co_max": 2}),
    ("deform", {"mode": "full", "pe": 16, "c_max": 16, "po": 16, "co_max": 16, "h_max": 2,
                "w_max": 2}),
    ("deform", {"c_max": 4, "h_max": 1, "w_max": 1, "d_max": 1}),
    ("deform", {"d_max": 31, "offset_bits": 2}),
    ("deform", {"d_max": 31, "offset_bits": 2, "rows": 64}),
    ("lut_tc", {"max_k": 1}),
    ("lut_tc", {"max_k": 3}),
    ("lut_tc", {"max_k": 2, "g": 4, "zp_group": 4}),
    ("lut_tc", {"max_k": 4, "g": 4, "m": 1, "n": 1}),
    ("gelu", {"lanes": 16, "in_width": 8, "in_frac": 0, "out_width": 8, "out_frac": 0}),
]

#: Bounds the sweep cannot reach alone, as a default of a later field conflicts with them.
FITTED = [
    ("gelu", {"in_width": 8, "in_frac": 6}),
    ("gelu", {"out_width": 8, "out_frac": 6}),
    ("gelu", {"method": "edge_moe", "in_width": 8, "in_frac": 6, "out_width": 8,
              "out_frac": 6}),
    ("softmax", {"in_width": 4, "in_frac": 2}),
    ("softmax", {"out_width": 2, "out_frac": 2}),
    ("softmax", {"exp_frac": 2, "sum_frac": 2}),
    ("softmax", {"recip_frac": 2, "out_frac": 2}),
    ("softmax", {"method": "ibert", "in_width": 4, "in_frac": 2, "out_width": 2,
                 "out_frac": 1}),
    ("softmax", {"recip_method": "newton", "recip_frac": 2, "out_frac": 2}),
    ("sparse_dsp", {"lanes": 2, "supported_n": [1, 2]}),
    ("sparse_dsp", {"m": 2, "supported_n": [1, 2]}),
    ("sparse_dsp", {"m": 2, "supported_n": [2]}),
    ("sparse_dsp", {"m": 8, "max_k": 8, "packed": True}),
    ("sparse_dsp", {"m": 16, "max_k": 16, "packed": True, "sparse_mux": "fabric"}),
    ("sparse_dsp", {"lanes": 2, "supported_n": [1, 2], "packed": True, "max_k": 4}),
    ("deform", {"rows": 10}),
    ("deform", {"d_max": 1, "rows": 4}),
    ("deform", {"offset_mode": "bilinear", "offset_bits": 2, "offset_frac": 1}),
    ("deform", {"offset_mode": "bilinear", "mask": True, "offset_bits": 16, "offset_frac": 8}),
    ("lut_tc", {"symmetrize": False, "preflip": False}),
    ("lut_tc", {"symmetrize": False, "preflip": False, "bit_serial": False,
                "weight_format": "int4"}),
    ("lut_tc", {"weight_format": "ternary", "ternary_pairs": True, "bit_serial": False,
                "g": 2}),
]

#: Combined extremes: several fields at their bounds at once.
COMBINED = [
    ("gelu", {"method": "edge_moe", "in_width": 32, "in_frac": 30, "out_width": 32,
              "out_frac": 30}),
    ("gelu", {"method": "i_gelu", "in_width": 32, "in_frac": 0, "out_width": 8, "out_frac": 6}),
    ("softmax", {"lanes": 16, "max_len": 4096, "in_width": 32, "in_frac": 30, "out_width": 32,
                 "out_frac": 32, "exp_frac": 24, "recip_frac": 24, "sum_frac": 16}),
    ("softmax", {"lanes": 1, "max_len": 1, "in_width": 4, "in_frac": 0, "out_width": 2,
                 "out_frac": 1, "exp_frac": 2, "sum_frac": 0, "recip_frac": 2,
                 "exp_segments_log2": 0, "recip_segments_log2": 0}),
    ("sparse_dsp", {"lanes": 2, "m": 2, "supported_n": [1, 2], "weight_bits": 2, "max_k": 2}),
    ("sparse_dsp", {"lanes": 32, "m": 16, "supported_n": [1, 2, 4, 8, 16], "max_k": 4096,
                    "packed": True, "oau": True}),
    ("lut_tc", {"m": 8, "n": 64, "g": 2, "weight_format": "int4", "act_width": 16,
                "max_k": 1, "zp_group": 2, "acc_in": True, "requant": True, "scale_bits": 18,
                "bias_bits": 24, "shift": 48}),
    ("lut_tc", {"m": 1, "n": 1, "g": 2, "weight_format": "binary", "max_k": 1,
                "requant": True, "scale_bits": 2, "bias_bits": 2, "shift": 0}),
    ("deform", {"mode": "full", "offset_mode": "bilinear", "mask": True, "mask_bits": 9,
                "pe": 1, "po": 2, "c_max": 1, "co_max": 2, "h_max": 1, "w_max": 1,
                "weight_bits": 4, "offset_bits": 16, "offset_frac": 8, "scale_bits": 18,
                "bias_bits": 24}),
    ("deform", {"offset_mode": "rounded", "d_max": 31, "offset_bits": 2, "pe": 16,
                "c_max": 16, "h_max": 1, "w_max": 1, "shift": 0}),
]


def _bound(value, params):
    """A declared bound as a number on ``params`` (None where it does not resolve)."""
    if isinstance(value, str):
        return getattr(params, value)
    if isinstance(value, Derived):
        try:
            return value.compute(params)
        except TypeError:           # computed from a field that does not apply here
            return None
    return value


def _field_values(family, name, spec, params):
    """The values a boundary sweep gives one field on ``params``."""
    if spec.applies is not None and not spec.applies.holds(params):
        return []
    if spec.kind is BOOL:
        return [False, True]
    if spec.choices is not None:
        return list(_bound(spec.choices, params))
    if spec.kind is INT_LIST:               # sparse_dsp's supported_n: each N alone, and all
        high = _bound(spec.high, params)
        return [[n] for n in (1, high)] + [[1 << j for j in range(high.bit_length())]]
    if spec.kind is not INT:                # a family's own kind (GELU segments): defaults only
        return []
    values = [_bound(spec.low, params), _bound(spec.high, params)]
    if values[1] is not None and (family, name) in SANE:
        values[1] = min(values[1], SANE[family, name])
    return [v for v in values if v is not None]


def sweep():
    """``(family, table)``: each field at its bounds and choices on each base."""
    configs = []
    for family_name, family in FAMILIES.items():
        cls = family.params_class
        for base in [{}, *BASES[family_name]]:
            params = cls.from_dict(base)
            for name, spec in declared(cls):
                for value in _field_values(family_name, name, spec, params):
                    configs.append((family_name, {**base, name: value}))
    return configs


def boundary_configs():
    """``(family, table)`` of every boundary configuration, without repeats, in a fixed order."""
    unique, seen = [], set()
    for family_name, table in sweep() + NAMED + FITTED + COMBINED:
        try:        # one lint per block: a bound may equal the default or another bound
            key = FAMILIES[family_name].params_class.from_dict(table).to_json()
        except ParamError:
            key = (family_name, repr(sorted(table.items())))
        if key not in seen:
            seen.add(key)
            unique.append((family_name, table))
    return unique


def config_id(config):
    family_name, table = config
    return family_name + ":" + ",".join(f"{k}={v}" for k, v in table.items()).replace(" ", "")


def emit_and_lint(family_name, table, tmp_path):
    """Emit the block of ``table`` and lint it as the cocotb builds do (skip it if refused)."""
    try:
        params = FAMILIES[family_name].params_class.from_dict(table)
    except ParamError as error:
        pytest.skip(f"refused: {error}")
    entry = Entry("boundary", params)
    verilog = tmp_path / f"{entry.name}.v"
    verilog.write_bytes(render(entry)[verilog.name])
    # Zero-width signals are declared [-1:0], which other tools read as two bits.
    assert b"[-1:0]" not in verilog.read_bytes()
    lint([verilog], entry.name)


ALL = boundary_configs()
DEFAULT = NAMED + FITTED[::4] + COMBINED[::3]


@pytest.mark.parametrize("config", DEFAULT, ids=map(config_id, DEFAULT))
def test_named_configs_lint_clean(config, tmp_path):
    emit_and_lint(*config, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("config", ALL, ids=map(config_id, ALL))
def test_boundary_configs_lint_clean(config, tmp_path):
    emit_and_lint(*config, tmp_path)


def test_hand_written_configs_are_accepted():
    """The cases found by hand and the extremes must stay accepted, or their lint tests prove
    nothing."""
    for family_name, table in NAMED + FITTED + COMBINED:
        FAMILIES[family_name].params_class.from_dict(table)


def test_every_family_and_field_is_swept():
    swept = {(family_name, name) for family_name, table in sweep() for name in table}
    for family_name, family in FAMILIES.items():
        for name, spec in declared(family.params_class):
            if spec.kind in (INT, BOOL, INT_LIST) or spec.choices is not None:
                assert (family_name, name) in swept, (family_name, name)


# -- the helpers that keep zero widths and constant compares out ---------------------------------

def test_index_range_has_a_bit_and_memory_two_words():
    assert Shape.cast(index_range(1)) == unsigned(1)
    assert [Shape.cast(index_range(n)) for n in (2, 3, 5, 256)] == \
        [Shape.cast(range(n)) for n in (2, 3, 5, 256)]
    rom = memory(shape=unsigned(4), depth=1, init=[9])
    assert (rom.depth, list(rom.init)) == (2, [9, 9])       # any address reads the one word
    assert memory(shape=unsigned(4), depth=3, init=[1, 2]).depth == 3


@pytest.mark.parametrize("shape, low, high", [
    (signed(3), -4, 3), (signed(3), -3, 2), (signed(3), None, 1), (unsigned(2), None, 3),
    (unsigned(2), None, 2), (unsigned(2), 1, 5)])
def test_clamp_is_exact_and_drops_constant_compares(shape, low, high):
    value = Signal(shape)
    clamped = clamp(value, low, high)
    least, most = shape_bounds(value)
    if (low is None or low <= least) and (high is None or high >= most):
        assert clamped is value
    m = Module()
    out = Signal(signed(8))
    m.d.comb += out.eq(clamped)
    sim = Simulator(m)
    seen = []

    async def sweep(ctx):
        for x in range(least, most + 1):
            ctx.set(value, x)
            seen.append((x, ctx.get(out)))

    sim.add_testbench(sweep)
    sim.run()
    assert seen == [(x, min(max(x, least if low is None else low),
                           most if high is None else high)) for x in range(least, most + 1)]
