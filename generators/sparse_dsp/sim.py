"""Amaranth-simulator helpers for the sparse DSP chain, shared by the tier-1 tests and the
report's timing figures (``scripts/sparse_dsp_figures.py``)."""

import numpy as np

__all__ = ["set_vector_beat", "set_weight_beat"]


def set_vector_beat(ctx, dut, params, xs, s):
    """Drive slice ``s`` of the activation vector(s) ``xs`` (shape vectors x K) on ``dut.x``."""
    p = params
    for v in range(xs.shape[0]):
        for i in range(p.m):
            ctx.set(dut.x.p.data[v * p.m + i], int(xs[v, s * p.m + i]))
    ctx.set(dut.x.p.last, s == xs.shape[1] // p.m - 1)


def set_weight_beat(ctx, dut, params, beats, b):
    """Drive weight beat ``b`` of ``beats`` (a :class:`.model.WeightBeats`) on ``dut.w``'s
    payload."""
    for j in range(params.lanes):
        ctx.set(dut.w.p.data.values[j], int(beats.values[b, j]))
        if not params.dense_only:
            ctx.set(dut.w.p.data.index[j], int(beats.index[b, j]))
    ctx.set(dut.w.p.user, int(beats.n_code[b]))
    ctx.set(dut.w.p.last, bool(np.asarray(beats.last)[b]))
