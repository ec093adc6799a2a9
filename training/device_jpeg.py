"""A JPEG save and read-back as Pillow does it (libjpeg-turbo, baseline, 4:2:0), in jax.numpy: jittable.

Why: the blind models' recipe saves 40% of its patches as JPEG (`Recipe.jpeg_share`), the cases where
they trail the classical filters most (docs/model-design.md), and the GPU path draws its patches inside
the jitted step (`training/device_sampler.py`), where there is no JPEG encoder. Without this, the device
sampler refused such a recipe and the blind models could only be trained with the host sampler, whose one
numpy thread makes a tenth of the patches the GPU eats.

Each stage is libjpeg's, in the order and with the rounding it uses (jccolor.c, jcsample.c, jcparam.c,
jcdctmgr.c, jdsample.c, jdcolor.c):
- JFIF RGB -> YCbCr, rounded to whole levels;
- Cb and Cr averaged over 2x2 pixels with libjpeg's alternating bias (1, 2);
- an 8x8 DCT of each block level-shifted by 128, divided by the quality's table (the IJG scaling of the
  standard tables, at most 255, as `jpeg_set_quality(..., force_baseline=TRUE)` makes them) and rounded
  half away from zero;
- back: times the table, the inverse DCT, +128, rounded and clipped; Cb and Cr up by libjpeg's "fancy"
  (triangle) filter; YCbCr -> RGB as jdcolor.c rounds it.
The one difference is the DCT: here exact in float32, libjpeg's `islow` in fixed point. Against Pillow's
own save, most values come back identical and the rest within a few levels (`tests/test_device_jpeg.py`).
Entropy coding is lossless, so it is left out.
"""

from __future__ import annotations

import numpy as np

# The IJG's standard tables (JPEG Annex K), in row order.
LUMA_TABLE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.int32).reshape(8, 8)
CHROMA_TABLE = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99], dtype=np.int32).reshape(8, 8)


def quant_tables(quality):
    """(luma, chroma) tables for integer qualities 1..100 of any shape: (..., 8, 8) int32.

    jcparam.c: scale 5000/q below 50, else 200 - 2q; each entry (base * scale + 50) / 100 in integers,
    clipped to 1..255 (baseline)."""
    import jax.numpy as jnp

    q = jnp.clip(jnp.asarray(quality, jnp.int32), 1, 100)
    scale = jnp.where(q < 50, 5000 // q, 200 - 2 * q)[..., None, None]
    return tuple(jnp.clip((jnp.asarray(base) * scale + 50) // 100, 1, 255) for base in (LUMA_TABLE, CHROMA_TABLE))


def _dct_matrix() -> np.ndarray:
    """The orthonormal 8-point DCT-II: JPEG's FDCT is D @ block @ D.T, its IDCT D.T @ coefficients @ D."""
    k, n = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    d = np.sqrt(2 / 8) * np.cos((2 * n + 1) * k * np.pi / 16)
    d[0] /= np.sqrt(2)
    return d.astype(np.float32)


def _blocks_roundtrip(plane, table):
    """One component's (B, H, W) whole levels (H, W multiples of 8) through DCT, quantisation and back."""
    import jax.numpy as jnp

    b, h, w = plane.shape
    d = jnp.asarray(_dct_matrix())
    blocks = (plane - 128.0).reshape(b, h // 8, 8, w // 8, 8)
    coefficients = jnp.einsum("ux,bixjy,vy->bijuv", d, blocks, d, precision="highest")  # not TF32 on a GPU
    table = table.astype(jnp.float32)[:, None, None]  # (B, 1, 1, 8, 8)
    scaled = coefficients / table
    quantised = jnp.sign(scaled) * jnp.floor(jnp.abs(scaled) + 0.5)  # jcdctmgr.c: half away from zero
    back = jnp.einsum("ux,bijuv,vy->bixjy", d, quantised * table, d, precision="highest").reshape(b, h, w)
    return jnp.clip(jnp.round(back + 128.0), 0.0, 255.0)


def _downsample(plane):
    """jcsample.c h2v2_downsample on int32: (sum of 2x2 + bias) >> 2, the bias 1, 2, 1, 2 ... along a row."""
    import jax.numpy as jnp

    b, h, w = plane.shape
    sums = plane.reshape(b, h // 2, 2, w // 2, 2).sum(axis=(2, 4))
    bias = jnp.where(jnp.arange(w // 2) % 2 == 0, 1, 2).astype(jnp.int32)
    return jnp.right_shift(sums + bias, 2)


def _fancy_upsample(plane):
    """jdsample.c h2v2_fancy_upsample on int32: each output value 9/16 of its nearest input, 3/16 of the
    next one across and down, 1/16 diagonally, with libjpeg's biases (8 and 7); edges repeat the last
    row or column, as libjpeg's context rows and its first and last columns do."""
    import jax.numpy as jnp

    b, h, w = plane.shape
    above = jnp.concatenate([plane[:, :1], plane[:, :-1]], axis=1)
    below = jnp.concatenate([plane[:, 1:], plane[:, -1:]], axis=1)
    rows = jnp.stack([3 * plane + above, 3 * plane + below], axis=2).reshape(b, 2 * h, w)  # column sums
    left = jnp.concatenate([rows[:, :, :1], rows[:, :, :-1]], axis=2)
    right = jnp.concatenate([rows[:, :, 1:], rows[:, :, -1:]], axis=2)
    even = jnp.right_shift(3 * rows + left + 8, 4)
    odd = jnp.right_shift(3 * rows + right + 7, 4)
    return jnp.stack([even, odd], axis=3).reshape(b, 2 * h, 2 * w)


SCALE_BITS = 16
ONE_HALF = 1 << (SCALE_BITS - 1)


def _fix(x: float) -> int:
    """libjpeg's FIX(): a coefficient in 16-bit fixed point."""
    return int(x * (1 << SCALE_BITS) + 0.5)


def jpeg_roundtrip(rgb, quality):
    """(B, H, W, 3) whole levels 0..255 (any real dtype), H and W multiples of 16, saved as JPEG at
    integer `quality` (B,) with 4:2:0 chroma and read back: whole levels, float32. Jittable.

    The colour and resampling stages run in int32, exactly as libjpeg's fixed point (float32 would round
    its sums of up to 2^24 wrongly); only the DCT is float."""
    import jax.numpy as jnp

    if rgb.ndim != 4 or rgb.shape[-1] != 3 or rgb.shape[1] % 16 or rgb.shape[2] % 16:
        raise ValueError(f"JPEG here takes (B, H, W, 3) with H and W multiples of 16, not {tuple(rgb.shape)}")
    pixels = jnp.round(rgb).astype(jnp.int32)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    # jccolor.c: Y rounds half up; Cb and Cr carry CBCR_OFFSET and ONE_HALF - 1.
    offset = (128 << SCALE_BITS) + ONE_HALF - 1
    y = jnp.right_shift(_fix(0.299) * r + _fix(0.587) * g + _fix(0.114) * b + ONE_HALF, SCALE_BITS)
    cb = jnp.right_shift(-_fix(0.16874) * r - _fix(0.33126) * g + _fix(0.5) * b + offset, SCALE_BITS)
    cr = jnp.right_shift(_fix(0.5) * r - _fix(0.41869) * g - _fix(0.08131) * b + offset, SCALE_BITS)
    luma_table, chroma_table = quant_tables(quality)
    y = _blocks_roundtrip(y, luma_table).astype(jnp.int32)
    cb, cr = (_fancy_upsample(_blocks_roundtrip(_downsample(c), chroma_table).astype(jnp.int32)) - 128
              for c in (cb, cr))
    # jdcolor.c's tables: R = Y + round(1.402 Cr), B = Y + round(1.772 Cb), G = Y + one rounded sum of two.
    red = y + jnp.right_shift(_fix(1.40200) * cr + ONE_HALF, SCALE_BITS)
    green = y + jnp.right_shift(-_fix(0.34414) * cb - _fix(0.71414) * cr + ONE_HALF, SCALE_BITS)
    blue = y + jnp.right_shift(_fix(1.77200) * cb + ONE_HALF, SCALE_BITS)
    return jnp.clip(jnp.stack([red, green, blue], axis=-1), 0, 255).astype(jnp.float32)
