"""Golden models of composed layers: exactly the parts' golden models and the adapters' models,
chained in the layer's data-flow order (pure NumPy; no Amaranth).
"""

import numpy as np

from ..gelu.model import gelu
from ..lut_tc.model import lut_tc
from .adapters import requantize, tiles_to_rows
from .params import FfnParams

__all__ = ["linear", "ffn", "ffn_stages", "ffn_output_beats", "ffn_input_beats"]


def _apply(requant, acc):
    return requantize(acc, requant.mult, requant.shift, requant.out_bits, requant.signed)


def linear(lut_params, a, q, z=None, bias=None):
    """``A @ (q - z)`` [m x N] (+ ``bias`` [N] on every row, saturating, through the core's
    accumulator input) as the LUT tensor core computes it: one tile per ``n`` columns, each
    through the family's bit-exact model."""
    n, m = lut_params.n, lut_params.m
    tiles = [lut_tc(lut_params, a, q[:, j:j + n], None if z is None else z[j:j + n],
                    acc_in=None if bias is None else np.tile(bias[j:j + n], (m, 1)))
             for j in range(0, q.shape[1], n)]
    return tiles_to_rows(np.stack(tiles))


def ffn_stages(params: FfnParams, x):
    """Every intermediate of one job ``x`` [rows x d_in] (INT8): ``acc1``, ``gelu_in``,
    ``gelu_out``, ``hidden``, ``acc2``, ``y``."""
    x = np.asarray(x, dtype=np.int64)
    if x.shape != (params.rows, params.d_in):
        raise ValueError(f"x must be {params.rows} x {params.d_in}, not "
                         f"{' x '.join(map(str, x.shape))}")
    if x.size and (x.min() < -128 or x.max() > 127):
        raise ValueError("x must hold INT8 codes, -128..127")
    q1, z1 = params.codes(1)
    q2, z2 = params.codes(2)
    b1, b2 = params.biases
    stages = {"acc1": linear(params.linear1, x, q1, z1, b1)}
    stages["gelu_in"] = _apply(params.requant1_, stages["acc1"])
    stages["gelu_out"] = gelu(params.gelu_params, stages["gelu_in"])
    stages["hidden"] = _apply(params.requant2_, stages["gelu_out"])
    stages["acc2"] = linear(params.linear2, stages["hidden"], q2, z2, b2)
    stages["y"] = _apply(params.requant3_, stages["acc2"])
    return stages


def ffn(params: FfnParams, x):
    """``y`` [rows x d_out] (INT8) of one job ``x`` [rows x d_in]."""
    return ffn_stages(params, x)["y"]


def ffn_input_beats(params: FfnParams, x):
    """The ``i`` stream's beats of one job: rows in order, ``in_lanes`` features a beat."""
    return np.asarray(x, dtype=np.int64).reshape(-1, params.in_lanes_)


def ffn_output_beats(params: FfnParams, y):
    """The ``o`` stream's beats of one result ``y``: column tile, then row, then
    ``out_lanes`` columns a beat (the GEMM block's order); ``last`` ends each column tile."""
    n = params.linear2.n
    y = np.asarray(y, dtype=np.int64)
    tiles = y.reshape(params.rows, params.tiles2, n).transpose(1, 0, 2)
    return tiles.reshape(-1, params.out_lanes_)
