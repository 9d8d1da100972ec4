"""Amaranth-simulator payloads for the sparse DSP chain, shared by the tier-1 tests and the
report's timing figures (``scripts/sparse_dsp_figures.py``): the beats of the ``x`` and ``w``
streams as the dicts :mod:`generators.simkit` puts."""

import numpy as np

__all__ = ["vector_payloads", "weight_payloads"]


def vector_payloads(params, x):
    """The ``x`` beats of the activation vector(s) ``x`` (K, or 2 x K when packed): vector
    ``v``'s slice of ``x_per_beat`` elements in lanes ``v * x_per_beat ...``."""
    n = params.x_per_beat
    xs = np.asarray(x).reshape(2 if params.packed else 1, -1)
    count = xs.shape[1] // n
    return [{"data": [int(v) for v in xs[:, s * n:(s + 1) * n].reshape(-1)],
             "last": int(s == count - 1)} for s in range(count)]


def weight_payloads(params, beats):
    """The ``w`` beats of ``beats`` (a :class:`.model.WeightBeats`)."""
    last = np.asarray(beats.last)
    payloads = []
    for b in range(len(beats)):
        weights = {"values": [int(v) for v in beats.values[b]]}
        if not params.dense_only:
            weights["index"] = [int(i) for i in beats.index[b]]
        payloads.append({"data": weights, "user": int(beats.n_code[b]), "last": int(last[b])})
    return payloads
