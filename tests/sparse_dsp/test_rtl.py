"""Tier 1: the sparse DSP chain in Amaranth's simulator against the model, under backpressure,
with the stream rules monitored on every stream."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from generators.simkit import add_consumer, add_producer, monitor_streams, random_pauses
from generators.sparse_dsp.compress import compress, prune_nm, rows_of
from generators.sparse_dsp.model import matvec
from generators.sparse_dsp.params import SparseDspParams
from generators.sparse_dsp.rtl import SparseDspChain
from generators.sparse_dsp.sim import vector_payloads, weight_payloads


def random_job(params, rng, k=None, rows=None, ns=None):
    p = params
    k = k or p.m * int(rng.integers(1, p.max_k // p.m + 1))
    rows = rows or int(rng.integers(1, 3 * p.lanes))
    low, high = -(1 << (p.weight_bits - 1)), 1 << (p.weight_bits - 1)
    w = rng.integers(low, high, (rows, k))
    x = rng.integers(-128, 128, (2, k) if p.packed else k)
    ns = ns or [int(rng.choice(p.supported_n)) for _ in range(rows)]
    beats, tile_ns = compress(p, w, ns, prune=True)
    return x, beats, tile_ns


def run_jobs(params, jobs, seed=1, gaps=0.2, backpressure=0.3):
    """Push (x, beats) jobs through the component, the stream rules monitored; return the
    output beats per job as ``(data, user, last)``."""
    p = params
    dut = SparseDspChain(p)
    expected_beats = sum(len(matvec(p, x, b)) for x, b in jobs)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    monitor_streams(sim, dut)
    # Separate producers: the next vector may load while the current matrix streams.
    add_producer(sim, dut.x, [beat for x, _beats in jobs for beat in vector_payloads(p, x)],
                 pauses=random_pauses(gaps, f"{seed}-x"))
    add_producer(sim, dut.w, [beat for _x, beats in jobs for beat in weight_payloads(p, beats)],
                 pauses=random_pauses(gaps, f"{seed}-w"))
    received = add_consumer(sim, dut.o, expected_beats,
                            pauses=random_pauses(backpressure, f"{seed}-o"))
    cycles = 20 * sum(len(b) + np.asarray(x).size for x, b in jobs) + 500
    sim.run_until(1e-8 * cycles)
    got, current = [], []
    for beat in received:
        current.append((tuple(beat["data"]), beat["user"], bool(beat["last"])))
        if beat["last"]:
            got.append(current)
            current = []
    return got


CONFIGS = [
    dict(lanes=4, m=4, supported_n=(1, 2, 4), max_k=16),
    dict(lanes=8, m=16, supported_n=(2, 4, 8), max_k=64, weight_bits=3),
    dict(lanes=2, m=2, supported_n=(2,), max_k=8, weight_bits=2),
    dict(lanes=4, m=4, supported_n=(2, 4), max_k=16, packed=True, oau=True),
    dict(lanes=4, m=4, supported_n=(1, 2), max_k=8, packed=True, weight_bits=4),
    # The sparse MUX in fabric (one shared buffer, M:1 multiplexers) instead of block RAM.
    dict(lanes=8, m=8, supported_n=(1, 2, 8), max_k=32, sparse_mux="fabric"),
    dict(lanes=4, m=4, supported_n=(2, 4), max_k=16, packed=True, oau=True,
         sparse_mux="fabric"),
]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda kw: "-".join(f"{v}" for v in kw.values()))
def test_chain_matches_model(kwargs):
    p = SparseDspParams(**kwargs)
    rng = np.random.default_rng(7)
    jobs = [random_job(p, rng)[:2] for _ in range(4)]
    jobs.append(random_job(p, rng, k=p.max_k)[:2])                       # K at max
    jobs.append(random_job(p, rng, k=p.m, rows=1)[:2])                   # one block, one row
    got = run_jobs(p, jobs)
    expected = [[(b.data, b.valid, b.last) for b in matvec(p, x, beats)] for x, beats in jobs]
    assert got == expected


def test_rows_equal_matmul_with_extremes():
    """The model and RTL path used by the cocotb test: -128 x -128 sums at K max, all rows."""
    p = SparseDspParams(lanes=4, m=4, supported_n=(1, 2, 4), max_k=16)
    w = np.full((5, p.max_k), -128)
    x = np.full(p.max_k, -128)
    beats, _tile_ns = compress(p, w, 4)
    got = run_jobs(p, [(x, beats)], gaps=0.0, backpressure=0.5)
    from generators.sparse_dsp.model import OutBeat
    out = [OutBeat(*b) for b in got[0]]
    assert np.array_equal(rows_of(p, out, 5), w @ x)
    assert (w @ x)[0] == 16 * 16384
    _ = prune_nm


@pytest.mark.parametrize("sparse_mux", ["ram", "fabric"])
def test_measured_latency_is_the_manifests(sparse_mux):
    """The report's simulated latency (outputs checked against the model in the same run)
    equals the latency the component declares in its manifest, for both MUX placements."""
    import json

    from generators.catalog import Entry
    from generators.emit import render
    from scripts.sparse_dsp_figures import sparse_dsp_timing

    p = SparseDspParams(lanes=8, m=4, supported_n=(1, 2, 4), max_k=32, sparse_mux=sparse_mux)
    timing = sparse_dsp_timing(p)
    manifest = json.loads(render(Entry("chain", p))["chain.json"])
    assert timing["latency_cycles"] == manifest["latency_cycles"]
    assert set(timing["busy_fraction"]) == {"1", "2", "4"}
