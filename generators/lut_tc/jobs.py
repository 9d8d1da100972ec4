"""One seeded tile of the LUT tensor core as stream beats, for the board self-test and the UART
bridge (model calls only; no Amaranth)."""

from .model import reference
from .prepare import pack_epilogue, pack_tile
from .sim import tile_payloads

__all__ = ["job"]


def job(params, rng, size=None):
    """``(inputs, outputs)``: ``{member: [payload dicts]}`` of one random tile (K up to
    ``8 g``, or ``g`` when ``size`` < 0.5) and the model's result rows."""
    top_k = params.g if size is not None and size < 0.5 else 8 * params.g
    k = int(rng.integers(1, min(params.max_k, top_k) + 1))
    half = 1 << (params.act_width - 1)
    a = rng.integers(-half, half, (params.m, k))
    top = 2 if params.weight_format == "ternary" else (1 << params.bits) - 1
    q = rng.integers(0, top + 1, (k, params.n))
    z = (rng.integers(0, 1 << params.bits, params.zero_point_shape(k))
         if params.has_zero_point else None)
    c = scale = bias = None
    if params.acc_in:
        out_half = 1 << (params.out_width - 1)
        c = rng.integers(-out_half, out_half, (params.m, params.n))
    if params.requant:
        smax, bmax = 1 << (params.scale_bits - 1), 1 << (params.bias_bits - 1)
        scale = rng.integers(-smax, smax, params.n)
        bias = rng.integers(-bmax, bmax, params.n)
    a_beats, w_beats, z_beats = pack_tile(params, a, q, z)
    c_beats, s_beat = pack_epilogue(params, c, scale, bias)
    want = reference(params.weight_format, a, q, z, acc_in=c, params=params, scale=scale,
                     bias=bias)
    inputs = tile_payloads(params, [(a_beats, w_beats, z_beats, c_beats, s_beat)])
    outputs = [{"data": [int(v) for v in row], "last": int(r == len(want) - 1)}
               for r, row in enumerate(want)]
    return inputs, {"o": outputs}
