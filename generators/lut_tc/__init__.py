"""LUT tensor core: low-bit-weight x integer-activation GEMM by table lookup (LUT Tensor Core,
T-MAC, LUT-GEMM), with a multiplier-array baseline for comparison."""
