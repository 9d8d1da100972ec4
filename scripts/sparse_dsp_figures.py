"""Sparse DSP chain figures measured in Amaranth's simulator: DSP busy fraction per N and latency.

For each supported N one matrix of back-to-back tiles streams through the chain with every
stream always valid/ready. Busy fraction = weight beats taken / cycles from the first beat taken
to the last (each beat gives every lane one non-zero product). Latency = cycles from the last
weight beat taken to the matrix's last output beat. The outputs are checked against the model,
so a figure is never reported for a run that computed the wrong thing.
"""

from pathlib import Path

import numpy as np
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from generators.simkit import add_consumer, monitor_streams, put_many
from generators.sparse_dsp.compress import compress
from generators.sparse_dsp.model import matvec
from generators.sparse_dsp.rtl import SparseDspChain
from generators.sparse_dsp.sim import vector_payloads, weight_payloads

from scripts.tables import SYNTH_TARGETS, fmt, synth_cells, synth_header

__all__ = ["sparse_dsp_timing", "RegisteredMac", "registered_mac_synth"]

TILES = 32


def _run_matrix(params, x, beats):
    """Load ``x``, then stream the matrix ``beats`` back to back, the output always ready;
    return the cycles of the weight transfers and ``(cycle, data)`` of the output transfers."""
    p = params
    dut = SparseDspChain(p)
    expected = matvec(p, x, beats)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    monitors = monitor_streams(sim, dut)

    async def feed(ctx):
        await put_many(ctx, dut.x, vector_payloads(p, x))
        await put_many(ctx, dut.w, weight_payloads(p, beats))

    sim.add_testbench(feed)
    received = add_consumer(sim, dut.o, len(expected))
    sim.run_until(1e-8 * (len(vector_payloads(p, x)) + 100 * (len(beats) + 100)))
    if len(received) < len(expected):
        raise RuntimeError("sparse_dsp_timing: the chain stopped producing output")
    outputs = [(cycle, tuple(beat["data"]))
               for cycle, beat in zip(monitors["o"].transfers, received)]
    if [data for _c, data in outputs] != [b.data for b in expected]:
        raise AssertionError("sparse_dsp_timing: RTL output differs from the model")
    return monitors["w"].transfers, outputs


def sparse_dsp_timing(params, seed=0):
    """{"busy_fraction": {N: fraction}, "beats": {N: beats}, "latency_cycles": measured}."""
    p = params
    rng = np.random.default_rng(seed)
    k = min(p.max_k, 4 * p.m)
    busy, beat_counts, latencies = {}, {}, set()
    for n in p.supported_n:
        rows = p.lanes // n * TILES
        w = rng.integers(-(1 << (p.weight_bits - 1)), 1 << (p.weight_bits - 1), (rows, k))
        x = rng.integers(-128, 128, (2, k) if p.packed else k)
        beats, _tile_ns = compress(p, w, n, prune=True)
        taken, outputs = _run_matrix(p, x, beats)
        busy[str(n)] = len(taken) / (taken[-1] - taken[0] + 1)
        beat_counts[str(n)] = len(taken)
        latencies.add(outputs[-1][0] - taken[-1])
    if len(latencies) != 1:
        raise AssertionError(f"sparse_dsp_timing: latency depends on N: {sorted(latencies)}")
    return {"busy_fraction": busy, "beats": beat_counts, "latency_cycles": latencies.pop()}


MAC_CACHE = Path("build/synth/sparse_dsp_mac")


class RegisteredMac(wiring.Component):
    """The Fmax yardstick: one 8x8 signed multiply-accumulate with registered inputs, product
    and accumulator (the best case for a DSP block), accumulator as wide as the chain's."""

    def __init__(self, acc_bits):
        super().__init__({"a": In(signed(8)), "b": In(signed(8)), "acc": Out(signed(acc_bits))})

    def elaborate(self, platform):
        m = Module()
        a, b = Signal(signed(8)), Signal(signed(8))
        product = Signal(signed(16))
        m.d.sync += [a.eq(self.a), b.eq(self.b), product.eq(a * b),
                     self.acc.eq(self.acc + product)]
        return m


def registered_mac_synth(acc_bits, targets):
    """{target: synthesis row} of :class:`RegisteredMac`, cached by the Verilog's content."""
    from amaranth.back import verilog

    from fpga.ooc import synthesize_cached

    name = f"registered_mac_acc{acc_bits}"
    text = verilog.convert(RegisteredMac(acc_bits), name=name, emit_src=False)
    return {target: synthesize_cached(text, name, target, MAC_CACHE, clock="clk")
            for target in targets}


def figures(params):
    """Dense-equivalent MACs per cycle from the shape (L*M/N: one non-zero product per lane per
    cycle), the busy fraction and latency measured in simulation, and the Fmax yardstick: a
    single registered DSP multiply-accumulate built by the same flow."""
    mac = registered_mac_synth(params.acc_bits, SYNTH_TARGETS)
    return {"dense_equivalent_macs_per_cycle": {
        str(n): params.lanes * params.m // n for n in params.supported_n},
        "accumulator_bits": params.acc_bits, "timing": sparse_dsp_timing(params),
        "registered_mac_fmax_mhz": {t: r["fmax_mhz"] for t, r in mac.items()}}


def _by_n(per_n):
    return sorted(per_n.items(), key=lambda item: int(item[0]))


def markdown(rows):
    """The report tables of sparse DSP chain rows: figures, then Fmax against the yardstick."""
    header = ["block", "lanes", "M", "N (run time)", "weights", "max K", "packed", "latency",
              "dense-equivalent MACs/cycle (per N)", "DSP busy fraction (per N, simulated)",
              "acc bits"] + synth_header()
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        p = row["params"]
        # By N as a number: a row read back from the JSON report has its keys sorted as text.
        macs = ", ".join(f"{n}:{p['m']} → {v}" for n, v in
                         _by_n(row["dense_equivalent_macs_per_cycle"]))
        busy = ", ".join(f"{n}:{p['m']} → {v:.3f}" for n, v in
                         _by_n(row["timing"]["busy_fraction"]))
        cells = [row["name"], str(p["lanes"]), str(p["m"]),
                 ", ".join(map(str, p["supported_n"])), f"INT{p['weight_bits']}",
                 str(p["max_k"]), "yes" if p.get("packed") else "no",
                 str(row["timing"]["latency_cycles"]), macs, busy, str(row["accumulator_bits"])]
        lines.append("| " + " | ".join(cells + synth_cells(row)) + " |")
    # Fmax against the yardstick, and the LUT cost of sparse support against the dense-only
    # chain of the same lanes and M (when both are in the report).
    lines += ["", "Fmax as a fraction of a single registered DSP multiply-accumulate (8×8, "
              "inputs, product and accumulator registered, same flow), and LUTs against the "
              "dense-only chain of the same lanes and M.", ""]
    header = ["block"]
    for target in SYNTH_TARGETS:
        short = "iCE40" if target.startswith("ice40") else "ECP5"
        header += [f"{short} MAC Fmax", f"{short} chain / MAC", f"{short} LUTs vs dense-only"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    dense = {(r["params"]["lanes"], r["params"]["m"]): r for r in rows
             if tuple(r["params"]["supported_n"]) == (r["params"]["m"],)}
    for row in rows:
        p = row["params"]
        cells = [row["name"]]
        for target in SYNTH_TARGETS:
            mac = row["registered_mac_fmax_mhz"].get(target)
            synth = row.get("synth", {}).get(target) or {}
            base = dense.get((p["lanes"], p["m"]), {}).get("synth", {}).get(target) or {}
            ratio = "—" if not (mac and synth.get("fmax_mhz")) else \
                f"{synth['fmax_mhz'] / mac:.2f}"
            luts = "—" if not (synth.get("lut") and base.get("lut")) else \
                f"{synth['lut'] / base['lut']:.2f}×"
            cells += [f"{fmt(mac, '.1f')} MHz", ratio, luts]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
