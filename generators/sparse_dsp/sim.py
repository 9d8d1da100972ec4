"""Amaranth-simulator helpers for the sparse DSP chain, shared by the tier-1 tests and the
report's timing figures (``scripts/sparse_dsp_figures.py``)."""

import numpy as np

__all__ = ["set_vector_beat", "set_weight_beat"]


def set_vector_beat(ctx, dut, params, xs, s):
    """Drive beat ``s`` of the activation vector(s) ``xs`` (shape vectors x K) on ``dut.x``."""
    n = params.x_per_beat
    for v in range(xs.shape[0]):
        for i in range(n):
            ctx.set(dut.x.p.data[v * n + i], int(xs[v, s * n + i]))
    ctx.set(dut.x.p.last, s == xs.shape[1] // n - 1)


def set_weight_beat(ctx, dut, params, beats, b):
    """Drive weight beat ``b`` of ``beats`` (a :class:`.model.WeightBeats`) on ``dut.w``'s
    payload."""
    for j in range(params.lanes):
        ctx.set(dut.w.p.data.values[j], int(beats.values[b, j]))
        if not params.dense_only:
            ctx.set(dut.w.p.data.index[j], int(beats.index[b, j]))
    ctx.set(dut.w.p.user, int(beats.n_code[b]))
    ctx.set(dut.w.p.last, bool(np.asarray(beats.last)[b]))
