"""Amaranth-simulator runs of a composed layer: results, and per part the cycles it is busy.

A part is busy on a cycle when its pacing stream transfers a beat: a LUT tensor core's ``w``
(one tile step), a narrowing adapter's ``o``, any other part's ``i``. :func:`busy_fractions`
counts them over a window of steady-state jobs (each job's first input to the next job's, so
start-up and drain are left out). Used by the tier-1 tests and the figures in docs/composition.md.
"""

from amaranth.sim import Simulator

from ..simkit import add_consumer, add_producer, monitor_streams
from .model import ffn, ffn_input_beats, ffn_output_beats

__all__ = ["run_ffn", "busy_fractions", "PACING"]

#: The stream whose transfers are a part's work.
PACING = {"linear1": "w", "linear2": "w", "narrow1": "o", "narrow2": "o"}


def run_ffn(params, jobs, *, in_pauses=None, out_pauses=None):
    """Simulate ``jobs`` (a list of x [rows x d_in]) back to back through :class:`FfnCore`.

    Returns ``(received, expected, monitors)``: the output payloads, the model's, and
    ``{part: {member: StreamMonitor}}`` with ``"top"`` for the layer's own streams."""
    from .rtl.ffn import FfnCore

    core = FfnCore(params)
    sim = Simulator(core)
    sim.add_clock(1e-8)
    monitors = {"top": monitor_streams(sim, core)}
    for name, part in core.parts.items():
        monitors[name] = monitor_streams(sim, part)
    beats, expected = [], []
    for x in jobs:
        beats += [{"data": [int(v) for v in b], "last": 0} for b in ffn_input_beats(params, x)]
        out = ffn_output_beats(params, ffn(params, x))
        per_tile = params.rows * params.linear2.n // params.out_lanes_
        expected += [{"data": [int(v) for v in b], "last": int(k % per_tile == per_tile - 1)}
                     for k, b in enumerate(out)]
    add_producer(sim, core.i, beats, pauses=in_pauses)
    received = add_consumer(sim, core.o, len(expected), pauses=out_pauses)
    sim.run()
    return received, expected, monitors


def busy_fractions(params, monitors, first_job=1, last_job=None):
    """``(cycles per job, {part: busy fraction})`` over jobs ``first_job`` .. ``last_job``
    (exclusive; default: all but the last), from the first input beat of one job to that of
    the job after the window; needs every input offered without gaps (inputs waiting for the
    layer, never the layer for its inputs)."""
    starts = monitors["top"]["i"].transfers[::params.in_beats]
    last_job = len(starts) - 1 if last_job is None else last_job
    begin, end = starts[first_job], starts[last_job]
    cycles = end - begin
    busy = {}
    for name, streams in monitors.items():
        if name == "top" or name.endswith("_rom"):
            continue
        member = PACING.get(name, "i" if "i" in streams else "a")
        count = sum(1 for t in streams[member].transfers if begin <= t < end)
        busy[name] = count / cycles
    return cycles / (last_job - first_job), busy
