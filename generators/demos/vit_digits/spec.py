"""Shape of the ViT digits classifier and the family params of every block it runs on.

8x8 digit -> 16 patches of 2x2 pixels -> embedding (dim 32) + positional codes, plus one
learned class token: 17 tokens, held in 20 slots (the chain's M = 4 blocks) with the last 3
masked. One encoder block: Q, K, V projections (INT8, 2:4 sparse on the sparse DSP chain),
single-head attention (Q K^T and P V on the same chain, dense; softmax on the softmax block,
the 3 pad slots masked), residual; FFN 32 -> 64 -> 32 with ternary weights on the LUT tensor
core (its requantisation stage gives INT8 with per-column scale and bias), GELU on the GELU
block, residual; mean over the 17 tokens; classifier (INT8, dense on the chain).
"""

from ...gelu.params import GeluParams
from ...lut_tc.params import LutTcParams
from ...softmax.params import SoftmaxParams
from ...sparse_dsp.params import SparseDspParams

__all__ = ["PATCH", "PATCHES", "PATCH_PIXELS", "TOKENS", "SLOTS", "DIM", "HIDDEN", "CLASSES",
           "PIXEL_MAX", "ATTN_SCALE", "QKV_N", "DENSE_N", "CHAIN", "SOFTMAX", "GELU", "ffn_params",
           "LOGIT_FRAC", "PROB_BITS", "GELU_FRAC", "patches", "CATALOG"]

PATCH = 2                       # patch side in pixels
PATCHES = (8 // PATCH) ** 2     # 16 patch tokens
PATCH_PIXELS = PATCH * PATCH    # 4 pixels per patch: the embedding's K
TOKENS = PATCHES + 1            # + the class token (token 0)
SLOTS = 20                      # tokens padded to a multiple of the chain's M (P V has K = SLOTS)
DIM = 32                        # embedding width = head width (one head)
HIDDEN = 64                     # FFN hidden width
CLASSES = 10
PIXEL_MAX = 16                  # load_digits pixels are 0..16: INT8 codes as they are
ATTN_SCALE = DIM ** -0.5         # folded into the score requantisation

#: The sparse DSP chain of every GEMM but the FFN: the catalog's ``sparse_dsp_l8_m4`` (8 lanes,
#: 2:4 and 1:4 besides dense 4:4, INT8 weights and activations).
CHAIN = SparseDspParams(lanes=8, m=4, supported_n=(1, 2, 4), max_k=256)
QKV_N = 2                       # the Q, K, V projections are 2:4 sparse
DENSE_N = 4

#: The catalog's ``softmax_int8``: natural softmax, s8.4 logits, u8.8 probabilities, 4 lanes.
SOFTMAX = SoftmaxParams(method="natural", lanes=4, max_len=256)
LOGIT_FRAC = 4
PROB_BITS = 7                   # probabilities enter P V as u0.7 INT8 codes (u8.8 >> 1)

#: The catalog's ``gelu_int8``: s8.5 in and out, fitted non-uniform table.
GELU = GeluParams(method="fitted_pwl", lanes=4, in_width=8, in_frac=5, out_width=8, out_frac=5,
                  table_frac=9, segments=((1, 4), (2, 3), (4, 3)))
GELU_FRAC = 5


#: The catalog entry each block's config is (the FFN's with its requantisation stage added).
CATALOG = {"sparse_dsp": "sparse_dsp_l8_m4", "softmax": "softmax_int8", "gelu": "gelu_int8",
           "lut_tc": "lut_tc_ternary_pairs"}


def ffn_params(shift):
    """The LUT tensor core of both FFN layers: ternary weights, one lookup per pair (the
    catalog's ``lut_tc_ternary_pairs``) with its requantisation stage on (per-column 16-bit
    scale and bias, INT8 out) at the layer's ``shift``."""
    return LutTcParams(weight_format="ternary", n=8, bit_serial=False, ternary_pairs=True,
                       requant=True, scale_bits=16, bias_bits=16, shift=shift)


def patches(pixels):
    """``(images, 64)`` pixel codes -> ``(images, PATCHES, PATCH_PIXELS)``, patches row-major,
    pixels row-major inside a patch."""
    import numpy as np

    pixels = np.asarray(pixels)
    side = 8 // PATCH
    grid = pixels.reshape(-1, side, PATCH, side, PATCH).transpose(0, 1, 3, 2, 4)
    return grid.reshape(-1, PATCHES, PATCH_PIXELS)
