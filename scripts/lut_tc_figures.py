"""LUT tensor core figures: cycles per tile measured in simulation, and the comparison at equal
MACs per cycle with the naive LUT design (full 2**g tables, no pre-flip: the same generator with
both tricks off) and the multiplier array (with DSPs, and with multipliers forced into fabric),
synthesised out of context on ECP5 85F and iCE40 UP5K.

``python -m generators report --only lut_tc_int2`` runs everything for one catalog entry;
``python -m scripts.lut_tc_figures`` only the baselines' synthesis (results cached under
``build/synth/lut_tc_cmp``, keyed by the Verilog's SHA-256, so reruns are cheap;
``LUT_TC_CACHED_ONLY=1`` makes a report use only cached results).
"""

import dataclasses
import os
from pathlib import Path

import numpy as np

from generators.lut_tc.params import LutTcParams, MultArrayParams
from generators.lut_tc.prepare import pack_mult_tile, pack_tile

from scripts.tables import synth_cells, synth_header

CACHE = Path("build/synth/lut_tc_cmp")
TARGETS = ("ecp5-85f", "ice40-up5k")
SEED = 2026
#: Tiles of the longest K, back to back, for the cycle count.
TILES = 4


def equal_rate_mult(params: LutTcParams):
    """The multiplier array with the LUT tensor core's MACs per cycle: n / (steps per group)
    columns of g multipliers (a bit-serial core does one K-group in B cycles)."""
    columns = max(1, params.n // params.steps_per_group)
    return MultArrayParams(m=params.m, n=columns, g=params.g, weight_format=params.weight_format,
                           act_width=params.act_width, max_k=params.max_k)


def equal_rate_adder_tree(params: LutTcParams):
    """The adder-tree baseline with the LUT tensor core's MACs per cycle (one K-group per
    cycle, so n / (steps per group) columns), same tile rows, g, formats and widths."""
    columns = max(1, params.n // params.steps_per_group)
    return dataclasses.replace(params, n=columns, adder_tree=True, bit_serial=False,
                               ternary_pairs=False, pair_tables=False, symmetrize=True,
                               preflip=True)


def baselines(params: LutTcParams):
    """``{design: (params, [(target label, ooc target)])}`` compared with ``params``."""
    # The naive design looks weights up bit-plane by bit-plane (ternary_pairs has no full-table
    # form: its pair tables are the symmetric half by construction).
    naive = dataclasses.replace(params, symmetrize=False, preflip=False, ternary_pairs=False,
                                pair_tables=False)
    mult = equal_rate_mult(params)
    return {
        "adder_tree": (equal_rate_adder_tree(params), [(t, t) for t in TARGETS]),
        "naive_lut": (naive, [(t, t) for t in TARGETS]),
        "mult_dsp": (mult, [(t, t) for t in TARGETS]),
        "mult_fabric": (mult, [(t, f"{t}-nodsp") for t in TARGETS]),
    }


def _verilog(params, name):
    from amaranth.back import verilog

    from generators.axis import AxisTop
    from generators.lut_tc.rtl import LutTc, MultArray

    core = LutTc(params) if isinstance(params, LutTcParams) else MultArray(params)
    return verilog.convert(AxisTop(core), name=name, emit_src=False).encode()


def cached_synth(params, name, target):
    """Out-of-context synthesis of ``params`` for ``target``, reusing an earlier identical run."""
    from fpga.ooc import synthesize_cached

    # A report run beside a running baseline batch shows "not run" instead of waiting.
    return synthesize_cached(_verilog(params, name), name, target, CACHE,
                             cached_only=bool(os.environ.get("LUT_TC_CACHED_ONLY")))


def _design_name(params):
    if isinstance(params, MultArrayParams):
        return f"cmp_mult_{params.weight_format}_m{params.m}n{params.n}g{params.g}"
    if params.adder_tree:
        return f"cmp_adder_{params.weight_format}_m{params.m}n{params.n}g{params.g}" + \
            (f"_a{params.act_width}" if params.act_width != 8 else "")
    tricks = ("sym" if params.symmetrize else "full") + ("_pf" if params.preflip else "") + \
        ("_pairs" if params.ternary_pairs else "") + ("_ptab" if params.pair_tables else "") + \
        (f"_a{params.act_width}" if params.act_width != 8 else "")
    mode = "ser" if params.bit_serial else "par"
    return f"cmp_lut_{params.weight_format}_m{params.m}n{params.n}g{params.g}_{mode}_{tricks}"


def comparison(params: LutTcParams):
    """Synthesis rows and MACs per cycle of each baseline of ``params``."""
    out = {}
    for design, (bparams, targets) in baselines(params).items():
        rows = {label: cached_synth(bparams, _design_name(bparams), target)
                for label, target in targets}
        out[design] = {"params": bparams.to_dict(), "macs_per_cycle": bparams.macs_per_cycle,
                       "synth": rows}
    return out


def tile_cycles(params, tiles=TILES):
    """Cycles per output tile for back-to-back tiles of K = max_k, measured in Amaranth's
    simulator with all inputs always valid and the output always ready: cycles between the
    first output beats of consecutive tiles, and the weight-stream stalls (valid, not ready)."""
    from amaranth.sim import Simulator

    from generators.lut_tc.rtl import LutTc, MultArray
    from generators.lut_tc.sim import tile_payloads
    from generators.simkit import add_consumer, add_producer, monitor_streams

    lut = isinstance(params, LutTcParams)
    dut = LutTc(params) if lut else MultArray(params)
    rng = np.random.default_rng(SEED)
    packed = []
    for _ in range(tiles):
        a = rng.integers(-(1 << (params.act_width - 1)), 1 << (params.act_width - 1),
                         (params.m, params.max_k))
        top = 2 if params.weight_format == "ternary" else (1 << params.bits) - 1
        q = rng.integers(0, top + 1, (params.max_k, params.n))
        z = rng.integers(0, 1 << params.bits, params.zero_point_shape(params.max_k)) \
            if params.has_zero_point else None
        packed.append((pack_tile if lut else pack_mult_tile)(params, a, q, z))
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    monitors = monitor_streams(sim, dut)
    for name, payloads in tile_payloads(params, packed).items():
        add_producer(sim, getattr(dut, name), payloads)
    outputs = add_consumer(sim, dut.o, tiles * params.m)
    sim.run()
    # A tile's first output beat is the one after a beat with last (or the very first).
    firsts = [cycle for n, cycle in enumerate(monitors["o"].transfers)
              if n == 0 or outputs[n - 1]["last"]]
    gaps = [b - a for a, b in zip(firsts, firsts[1:])]
    steps = len(packed[0][1])
    return {"k": params.max_k, "tiles": tiles, "steps_per_tile": steps,
            "cycles_per_tile": max(gaps), "w_stalls": monitors["w"].stalls,
            "macs_per_cycle": params.m * params.n * params.max_k / max(gaps)}


def lut_tc_figures(params):
    """Everything the report shows for one catalog entry."""
    return {"macs_per_cycle": params.macs_per_cycle, "cycles": tile_cycles(params),
            "compare": comparison(params)}


def main():
    from generators.catalog import DEFAULT_CATALOG

    for entry in DEFAULT_CATALOG:
        if entry.params.family == "lut_tc":
            for design, row in comparison(entry.params).items():
                for target, synth in row["synth"].items():
                    print(entry.name, design, target,
                          synth.get("error") or f"{synth['lut']} LUT {synth['ff']} FF "
                          f"{synth['dsp']} DSP {synth['fmax_mhz']} MHz", flush=True)


def figures(params):
    """The report row's LUT tensor core figures."""
    return lut_tc_figures(params)


def markdown(rows):
    """The report tables of LUT tensor core rows."""
    from scripts.lut_tc_markdown import lut_tc_markdown

    return lut_tc_markdown(rows, synth_header, synth_cells)


if __name__ == "__main__":
    main()
