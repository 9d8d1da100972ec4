"""Tier 1: the LUT tensor core and the multiplier array in Amaranth's simulator, against the
models, with tvalid gaps and tready backpressure on every stream and the stream rules checked."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from generators.lut_tc.model import lut_tc_tile, mult_tile, reference
from generators.lut_tc.params import LutTcParams, MultArrayParams
from generators.lut_tc.prepare import pack_epilogue, pack_mult_tile, pack_tile
from generators.lut_tc.rtl import LutTc, MultArray
from generators.lut_tc.sim import tile_payloads
from generators.simkit import add_consumer, add_producer, monitor_streams, random_pauses
from testbench.lut_tc_cases import epilogue_inputs


def random_tile(params, rng, k=None, extreme=None):
    """``(A, q, z)`` of one tile; ``extreme``: 'max' / 'min' codes, 'zero' / 'neg' activations."""
    k = k or int(rng.integers(1, params.max_k + 1))
    half = 1 << (params.act_width - 1)
    a = rng.integers(-half, half, (params.m, k))
    top = 2 if params.weight_format == "ternary" else (1 << params.bits) - 1
    q = rng.integers(0, top + 1, (k, params.n))
    z = rng.integers(0, 1 << params.bits, params.zero_point_shape(k)) \
        if params.has_zero_point else None
    if extreme == "max":
        q[:] = top
        a[:] = half - 1
        if z is not None:
            z[:] = 0            # the largest q - z
    elif extreme == "min":
        q[:] = 0
        a[:] = -half
        if z is not None:
            z[:] = top
    elif extreme == "zero":
        a[:] = 0
    elif extreme == "neg":
        a[:] = -half
    return a, q, z


def run_tiles(params, tiles, seed=1, gaps=0.3, backpressure=0.3):
    """Stream ``tiles`` (lists of (a_beats, w_beats, z_beats[, c_beats, s_beat])) through the
    component, the stream rules monitored on every stream.

    Returns ``(output rows per tile, cycles)``: cycles from the first to the last output
    transfer.
    """
    dut = LutTc(params) if isinstance(params, LutTcParams) else MultArray(params)
    expected_beats = params.m * len(tiles)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    monitors = monitor_streams(sim, dut)
    for name, payloads in tile_payloads(params, tiles).items():
        add_producer(sim, getattr(dut, name), payloads,
                     pauses=random_pauses(gaps, f"{seed}-{name}"))
    got = add_consumer(sim, dut.o, expected_beats,
                       pauses=random_pauses(backpressure, f"{seed}-o"))
    steps = sum(len(t[1]) for t in tiles)
    sim.run_until(1e-8 * (30 * (steps + expected_beats) + 500))
    assert len(got) == expected_beats, f"{len(got)} of {expected_beats} output beats arrived"
    rows = [[beat["data"] for beat in got[i:i + params.m]] for i in range(0, len(got), params.m)]
    lasts = [beat["last"] for beat in got]
    assert lasts == ([0] * (params.m - 1) + [1]) * len(tiles), "tlast not on each tile's last row"
    times = monitors["o"].transfers
    return rows, times[-1] - times[0] + 1


CONFIGS = [
    LutTcParams(m=2, n=3, g=4, weight_format="int2", max_k=16),
    LutTcParams(m=1, n=2, g=2, weight_format="int4", max_k=9, bit_serial=False),
    LutTcParams(m=3, n=2, g=3, weight_format="ternary", max_k=12, preflip=False),
    LutTcParams(m=2, n=2, g=4, weight_format="binary", max_k=8, symmetrize=False,
                preflip=False),
    LutTcParams(m=2, n=2, g=3, weight_format="int4", max_k=7, act_width=16, symmetrize=False,
                preflip=False, bit_serial=False),
    LutTcParams(m=2, n=3, g=4, weight_format="ternary", max_k=14, bit_serial=False,
                ternary_pairs=True),
    LutTcParams(m=1, n=2, g=2, weight_format="ternary", max_k=5, act_width=16,
                bit_serial=False, ternary_pairs=True),
    # Pair tables: binary (the catalog's shape), bit-serial INT2 with per-group zero points,
    # ternary without pre-flip on INT16 activations.
    LutTcParams(m=2, n=3, g=4, weight_format="binary", max_k=14, bit_serial=False,
                pair_tables=True),
    LutTcParams(m=2, n=2, g=4, weight_format="int2", max_k=18, pair_tables=True, zp_group=8),
    LutTcParams(m=1, n=2, g=2, weight_format="ternary", max_k=7, act_width=16,
                bit_serial=False, preflip=False, pair_tables=True),
    # The adder-tree baseline in every weight format (INT4 with per-group zero points).
    LutTcParams(m=2, n=3, g=4, weight_format="ternary", max_k=14, bit_serial=False,
                adder_tree=True),
    LutTcParams(m=2, n=2, g=3, weight_format="int2", max_k=10, bit_serial=False,
                adder_tree=True),
    LutTcParams(m=1, n=2, g=2, weight_format="binary", max_k=5, act_width=16,
                bit_serial=False, adder_tree=True),
    LutTcParams(m=2, n=2, g=2, weight_format="int4", max_k=9, bit_serial=False,
                adder_tree=True, zp_group=4),
]


@pytest.mark.parametrize("params", CONFIGS, ids=lambda p: f"{p.weight_format}_g{p.g}_"
                         f"{'ser' if p.bit_serial else 'par'}_sym{int(p.symmetrize)}"
                         f"_pf{int(p.preflip)}_a{p.act_width}"
                         f"{'_pairs' if p.ternary_pairs else ''}"
                         f"{'_ptab' if p.pair_tables else ''}"
                         f"{'_adder' if p.adder_tree else ''}{p.zp_group or ''}")
def test_lut_tc_matches_model_under_backpressure(params):
    rng = np.random.default_rng(5)
    cases = [random_tile(params, rng) for _ in range(5)]
    cases += [random_tile(params, rng, k=params.max_k, extreme=e)
              for e in ("max", "min", "zero", "neg")]
    cases += [random_tile(params, rng, k=1), random_tile(params, rng, k=params.g + 1)]
    tiles = [pack_tile(params, a, q, z) for a, q, z in cases]
    rows, _ = run_tiles(params, tiles)
    for n, ((a, q, z), tile, out) in enumerate(zip(cases, tiles, rows)):
        want = reference(params.weight_format, a, q, z, params=params).tolist()
        assert lut_tc_tile(params, *tile) == want
        assert out == want, f"tile {n}"


@pytest.mark.parametrize("weight_format", ["binary", "ternary", "int2", "int4"])
def test_mult_array_matches_model(weight_format):
    params = MultArrayParams(m=2, n=2, g=3, weight_format=weight_format, max_k=10)
    rng = np.random.default_rng(6)
    cases = [random_tile(params, rng) for _ in range(4)] + \
            [random_tile(params, rng, k=10, extreme=e) for e in ("max", "min")]
    tiles = [pack_mult_tile(params, a, q, z) for a, q, z in cases]
    rows, _ = run_tiles(params, tiles)
    for (a, q, z), tile, out in zip(cases, tiles, rows):
        want = reference(weight_format, a, q, z).tolist()
        assert mult_tile(params, *tile) == want
        assert out == want


@pytest.mark.parametrize("bit_serial, zp_group, weights", [
    (True, None, "int2"), (False, None, "int2"), (True, 8, "int2"), (False, 4, "int2"),
    (True, None, "ternary"), (False, None, "ternary_pairs")])
def test_one_tile_step_per_cycle(bit_serial, zp_group, weights):
    """No gaps, no backpressure: back-to-back tiles take exactly one cycle per step (per-group
    zero points too: a group's correction joins the accumulators in its last step)."""
    params = LutTcParams(m=2, n=4, g=4, weight_format=weights.split("_")[0], max_k=32,
                         bit_serial=bit_serial, zp_group=zp_group,
                         ternary_pairs=weights == "ternary_pairs")
    rng = np.random.default_rng(7)
    cases = [random_tile(params, rng, k=32) for _ in range(6)]
    tiles = [pack_tile(params, a, q, z) for a, q, z in cases]
    rows, cycles = run_tiles(params, tiles, gaps=0.0, backpressure=0.0)
    assert rows == [reference(params.weight_format, a, q, z, params=params).tolist()
                    for a, q, z in cases]
    steps = len(tiles[0][1])
    # First to last output transfer: 5 tiles of steps cycles, plus the last tile's m rows.
    assert cycles == 5 * steps + params.m, (cycles, steps)


def test_latency():
    params = LutTcParams(m=1, n=1, g=2, weight_format="binary", max_k=2)
    dut = LutTc(params)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    monitors = monitor_streams(sim, dut)
    add_producer(sim, dut.a, [{"data": [3, -2], "last": 1}])
    add_producer(sim, dut.w, [{"data": [0b01], "last": 1}])
    got = add_consumer(sim, dut.o, 1)
    sim.run_until(1e-8 * 20)
    # Latency from the transfer of the tile's (only) weight beat to the output's transfer.
    w, o = monitors["w"].transfers, monitors["o"].transfers
    assert len(w) == len(o) == 1
    seen = {"latency": o[0] - w[0], "value": got[0]["data"][0]}
    # pattern 0b01 (preflipped, sign bit 1 clear): +1 * 3 + -1 * -2 = 5
    assert seen == {"latency": dut.latency, "value": 5}


def test_manifest_streams():
    import json

    from generators.catalog import DEFAULT_CATALOG
    from generators.emit import render

    entries = {e.name: e for e in DEFAULT_CATALOG}
    manifest = json.loads(render(entries["lut_tc_int2"])["lut_tc_int2.json"])
    widths = {name: s["signals"]["tdata"] for name, s in manifest["streams"].items()}
    # a: 2 rows x 4 activations x 8 bits; w: 8 columns x 4 bits; z: 8 x 2 bits; o: 8 x 18 bits
    assert widths == {"s_axis_a": 64, "s_axis_w": 32, "s_axis_z": 16, "m_axis": 144}
    assert manifest["latency_cycles"] == 2 and manifest["initiation_interval"] == 1
    binary = json.loads(render(entries["lut_tc_binary"])["lut_tc_binary.json"])
    assert "s_axis_z" not in binary["streams"]
    assert not any(p["name"].startswith("s_axis_z") for p in binary["ports"])


EPILOGUE_CONFIGS = [
    LutTcParams(m=2, n=3, g=4, weight_format="int2", max_k=16, acc_in=True),
    LutTcParams(m=2, n=2, g=3, weight_format="ternary", max_k=9, requant=True, scale_bits=10,
                bias_bits=6, shift=7),
    LutTcParams(m=3, n=2, g=2, weight_format="int4", max_k=8, acc_in=True, requant=True,
                shift=0, scale_bits=4, bias_bits=3),
]


@pytest.mark.parametrize("params", EPILOGUE_CONFIGS, ids=lambda p: f"{p.weight_format}_acc"
                         f"{int(p.acc_in)}_rq{int(p.requant)}")
def test_accumulator_input_and_requantisation(params):
    """O = requant(A @ (q - z) + C): C added with saturation to out_width, then per-column
    scale, rounding shift, bias and saturation to INT8; random and range-end inputs."""
    rng = np.random.default_rng(8)
    cases = [random_tile(params, rng) + epilogue_inputs(params, rng) for _ in range(6)]
    cases += [random_tile(params, rng, k=params.max_k, extreme=e) +
              epilogue_inputs(params, rng, extreme=x)
              for e, x in (("max", "max"), ("min", "min"), ("max", "min"), ("neg", "max"))]
    tiles = [pack_tile(params, a, q, z) + pack_epilogue(params, c, sc, b)
             for a, q, z, c, sc, b in cases]
    rows, _ = run_tiles(params, tiles)
    saturated = 0
    for n, ((a, q, z, c, sc, b), tile, out) in enumerate(zip(cases, tiles, rows)):
        want = reference(params.weight_format, a, q, z, acc_in=c, params=params, scale=sc,
                         bias=b)
        assert lut_tc_tile(params, *tile) == want.tolist()
        assert out == want.tolist(), f"tile {n}"
        top = 127 if params.requant else (1 << (params.out_width - 1)) - 1
        saturated += int((np.abs(want) >= top).sum())
    assert saturated, "no case reached the saturation bounds"


ZP_GROUP_CONFIGS = [
    LutTcParams(m=2, n=3, g=4, weight_format="int2", max_k=32, zp_group=8),
    LutTcParams(m=1, n=2, g=2, weight_format="int4", max_k=13, zp_group=4, bit_serial=False),
    LutTcParams(m=2, n=2, g=3, weight_format="int4", max_k=12, zp_group=3, preflip=False,
                acc_in=True),
]


@pytest.mark.parametrize("params", ZP_GROUP_CONFIGS, ids=lambda p: f"{p.weight_format}_g{p.g}"
                         f"_zp{p.zp_group}")
def test_per_group_zero_points(params):
    """One zero point per column and group of zp_group rows of K: A @ (q - z[k // zp_group]),
    with K a multiple of the group, not one, shorter than one group, and at max_k."""
    rng = np.random.default_rng(9)
    ks = [params.max_k, params.zp_group, params.zp_group + params.g, 1, params.max_k - 1]
    cases = [random_tile(params, rng, k=k) for k in ks]
    cases += [random_tile(params, rng, k=params.max_k, extreme=e) for e in ("max", "min")]
    tiles = [pack_tile(params, a, q, z) + pack_epilogue(params, *epilogue_inputs(params, rng))
             for a, q, z in cases]
    rows, _ = run_tiles(params, tiles)
    for n, ((a, q, z), tile, out) in enumerate(zip(cases, tiles, rows)):
        c = None if tile[3] is None else np.array(tile[3])
        want = reference(params.weight_format, a, q, z, acc_in=c, params=params).tolist()
        assert lut_tc_tile(params, *tile) == want
        assert out == want, f"tile {n}"
    assert any(len(set(map(tuple, z))) > 1 for _, _, z in cases), "groups share a zero point"


def test_mult_array_per_group_zero_points():
    params = MultArrayParams(m=2, n=2, g=3, weight_format="int2", max_k=12, zp_group=6)
    rng = np.random.default_rng(10)
    cases = [random_tile(params, rng, k=k) for k in (12, 7, 2)]
    tiles = [pack_mult_tile(params, a, q, z) for a, q, z in cases]
    rows, _ = run_tiles(params, tiles)
    for (a, q, z), tile, out in zip(cases, tiles, rows):
        want = reference("int2", a, q, z, params=params).tolist()
        assert mult_tile(params, *tile) == want
        assert out == want
