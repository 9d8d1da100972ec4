"""One seeded job of the sparse DSP chain as stream beats, for the board self-test and the UART
bridge (model calls only; no Amaranth): an activation vector on ``x``, a pruned, compressed
matrix on ``w``, the model's result beats on ``o``."""

import numpy as np

from .compress import compress
from .model import matvec

__all__ = ["job"]


def job(params, rng, size=None):
    """``(inputs, outputs)``: ``{member: [payload dicts]}``, inputs in the order they start
    (the vector before its matrix). ``size`` (0..1) scales K and the row count."""
    small = size is not None and size < 0.5
    k = params.m * (1 if small else int(rng.integers(1, min(8, params.max_k // params.m) + 1)))
    rows = int(rng.integers(1, (params.lanes if small else 2 * params.lanes) + 1))
    vectors = 2 if params.packed else 1
    half = 1 << (params.weight_bits - 1)
    w = rng.integers(-half, half, (rows, k))
    x = rng.integers(-128, 128, (vectors, k) if params.packed else k)
    ns = [int(rng.choice(params.supported_n)) for _ in range(rows)]
    beats, _tile_ns = compress(params, w, ns, prune=True)
    result = matvec(params, np.asarray(x), beats)
    lanes = np.asarray(x).reshape(vectors, -1, params.x_per_beat).transpose(1, 0, 2).reshape(
        -1, params.x_per_beat * vectors)
    x_beats = [{"data": [int(v) for v in row], "last": int(n == len(lanes) - 1)}
               for n, row in enumerate(lanes)]
    w_beats = []
    for n in range(len(beats)):
        weights = {"values": [int(v) for v in beats.values[n]]}
        if not params.dense_only:
            weights["index"] = [int(i) for i in beats.index[n]]
        w_beats.append({"data": weights, "user": int(beats.n_code[n]),
                        "last": int(beats.last[n])})
    o_beats = [{"data": [int(v) for v in beat.data], "user": int(beat.valid),
                "last": int(beat.last)} for beat in result]
    return {"x": x_beats, "w": w_beats}, {"o": o_beats}
