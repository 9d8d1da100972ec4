"""cocotb tests of an emitted composed FFN layer, through the manifest-driven harness (parameters
in GEN_PARAMS): seeded random jobs and directed corners under random tvalid gaps and tready
backpressure, bit-exact against the composed model; then a full-rate run that measures the
latency and the cycles per job in steady state against the manifest."""

import json
import os
import random
from pathlib import Path

import cocotb
import numpy as np

from generators.compose import params_from_json
from generators.compose.model import ffn, ffn_input_beats, ffn_output_beats
from testbench.harness import ManifestTB

PARAMS = params_from_json(os.environ["GEN_PARAMS"])
MANIFEST = json.loads(Path(os.environ["FFN_MANIFEST"]).read_text())
RANDOM_JOBS = int(os.environ.get("FFN_JOBS", "6"))


def directed_jobs():
    """Every input at each INT8 limit, zero, and alternating limits in both phases (the
    requantisers' saturation, both signs)."""
    shape = (PARAMS.rows, PARAMS.d_in)
    alternate = np.where(np.indices(shape).sum(axis=0) % 2, 127, -128)
    return [np.full(shape, 127), np.full(shape, -128), np.zeros(shape, dtype=np.int64),
            alternate, -1 - alternate]


def random_jobs(rng, count):
    return [rng.integers(-128, 128, (PARAMS.rows, PARAMS.d_in)) for _ in range(count)]


def queue(tb, jobs):
    per_tile = PARAMS.rows * PARAMS.linear2.n // PARAMS.out_lanes_
    for x in jobs:
        beats = ffn_input_beats(PARAMS, x)
        tb.send("s_axis", [{"data": [int(v) for v in b], "last": int(k == len(beats) - 1)}
                           for k, b in enumerate(beats)])
        out = ffn_output_beats(PARAMS, ffn(PARAMS, x))
        tb.expect("m_axis", [{"data": [int(v) for v in b],
                              "last": int(k % per_tile == per_tile - 1)}
                             for k, b in enumerate(out)])


@cocotb.test()
async def test_bit_exact_under_backpressure(dut):
    """Directed corners and seeded random jobs, random gaps and backpressure on both ports."""
    rng = np.random.default_rng(random.getrandbits(32))
    tb = ManifestTB(dut, MANIFEST)
    await tb.reset()
    tb.set_traffic("random")
    jobs = directed_jobs() + random_jobs(rng, RANDOM_JOBS)
    queue(tb, jobs)
    await tb.wait()
    await tb.drain()
    dut._log.info("checked %d jobs (%d results) bit-exact", len(jobs),
                  len(jobs) * PARAMS.rows * PARAMS.d_out)


@cocotb.test()
async def test_full_rate_latency_and_cycles(dut):
    """From idle, at full rate: the first job's latency equals the manifest's; jobs back to back
    take the manifest's initiation interval each in steady state."""
    rng = np.random.default_rng(random.getrandbits(32))
    tb = ManifestTB(dut, MANIFEST)
    await tb.reset()
    jobs = random_jobs(rng, 6)
    queue(tb, jobs)
    await tb.wait()
    await tb.drain()
    measured, announced = tb.latency({})
    assert measured == announced, f"latency {measured}, the manifest says {announced}"
    starts = tb.transfers["s_axis"][::PARAMS.in_beats]
    ends = tb.transfers["m_axis"][PARAMS.out_beats - 1::PARAMS.out_beats]
    # Steady state: jobs 2..5 (the first two fill the two buffers' banks).
    in_period = (starts[5] - starts[2]) / 3
    out_period = (ends[5] - ends[2]) / 3
    dut._log.info("latency %d cycles; steady state: a job every %.1f cycles in, %.1f out "
                  "(%d rows a job: %.1f cycles per input vector)", measured, in_period,
                  out_period, PARAMS.rows, out_period / PARAMS.rows)
    interval = MANIFEST["initiation_interval"]
    assert in_period == interval and out_period == interval, \
        f"a job every {in_period} / {out_period} cycles, the manifest says {interval}"
