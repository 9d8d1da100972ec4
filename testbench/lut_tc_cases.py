"""Random and range-end inputs of LUT tensor core tiles, shared by the tier-1 tests and the
cocotb testbench (no simulator here)."""

__all__ = ["epilogue_inputs"]


def epilogue_inputs(params, rng, extreme=None):
    """``(C, scale, bias)`` of one tile, None where ``params`` have no such input; ``extreme``
    ``"max"`` / ``"min"`` puts them at the ends of their ranges (saturating both stages)."""
    c = scale = bias = None
    if params.acc_in:
        half = 1 << (params.out_width - 1)
        c = rng.integers(-half, half, (params.m, params.n))
        if extreme in ("max", "min"):
            c[:] = half - 1 if extreme == "max" else -half
    if params.requant:
        smax, bmax = 1 << (params.scale_bits - 1), 1 << (params.bias_bits - 1)
        scale = rng.integers(-smax, smax, params.n)
        bias = rng.integers(-bmax, bmax, params.n)
        if extreme in ("max", "min"):
            scale[:], bias[:] = (smax - 1, bmax - 1) if extreme == "max" else (-smax, -bmax)
    return c, scale, bias
