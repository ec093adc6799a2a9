"""Dense U-Net for impulse noise that was saved as JPEG after it struck (issue 15's hardest cells).

Why a model of its own: a JPEG save moves every value near an impulse (8x8 ringing in luma; with 4:2:0, a
chroma blob 16 pixels wide), so after it nothing is left bit for bit for a switching output to keep. The
blind model's detector has to tell such ringing from texture and from the clean values it must leave alone,
and every stage that added JPEG patches to its training cost it the unsaved kinds (docs/model-design.md,
stops 29 and 30). Here every value may change: the output is the input plus a residual, which starts at
zero (the model starts as the identity, and a clean JPEG patch is its own target, so it learns to leave a
clean photo alone) while the residual learns to undo impulses and their ringing.

Inputs the net cannot compute well, given weight-free: the per-channel 3x3 median and its median (a 5x5-wide
robust estimate; the 5x5 median was the best classical filter on JPEG-saved noise at density 0.3), and the
input's distance to the first; at half resolution, the local means of that distance and of the median at
two coarse scales (how noisy the neighbourhood is, and its colour where chroma was smeared).
The U-Net is `prefill-unet`'s (`unet_residual`), over these 12 channels instead of its pre-fill.
Input: (B, H, W, 3) floats in [0, 1], H and W multiples of `PAD_MULTIPLE` (the caller pads).

Shipped opt-in in stop 31 after 28 epochs of 1,000 steps on CBSD432, trained 24 more in stop 32 (`fit
--init` from the shipped file, peak rate 2e-4) and 18,000 steps of 64 patches on a lent GPU in stop 33. On
CBSD68, salt-and-pepper 0.1 / 0.3 / 0.5 then JPEG 90: 28.14 / 24.81 / 22.29 dB (stop 31: 27.44 / 24.27 /
21.61), against the best classical filter's 26.32 / 22.20 / 17.98 and blind-unet's 24.04 / 21.25 / 18.46. A
clean JPEG 90 kept at 48.6 dB. On grey photos blind-unet stays better at JPEG 90 (docs/model-design.md, stops
31-33).
"""

from __future__ import annotations

import keras
from keras import layers, ops

from training.architectures.blind_unet import median3
from training.architectures.prefill_unet import coarse_means, unet_residual
from training.recipe import Recipe

PAD_MULTIPLE = 32  # the U-Net's stride (8) times the context's coarsest pooling (4)
CONTEXT_LEVELS = (2, 4)  # the half-resolution context's scales: means over 12 and 48 pixels
# Trained on patches saved as JPEG from their own corner, so on 8x8 grids that start at the input's corner:
# off it (a JPEG cropped by 3 rows and 5 columns) it lost 0.96 dB, stop 31's weights (`python scripts/jpeg_grid_checks.py --data
# ../shared/data/CBSD68 --limit 10 --phase-model models/jpeg-unet.onnx`). Export writes it into the ONNX
# metadata (`jpeg_grid`), and the service pads an upload so that its grid starts at the corner
# (app.inference.Denoiser, app.jpeg_grid.grid_phase).
JPEG_GRID = 8

RECIPE = Recipe(
    loss="l1",
    learning_rate=5e-4,
    clipnorm=1.0,
    cosine_decay=True,
    batch=16,
    patch=96,
    density_max=0.5,
    per_pixel_share=0.3,
    grey_share=0.15,  # trained on colour CBSD432 alone: on grey photos blind-unet already beat the medians
    clip_augment_share=0.1,
    salt_ratio_range=(0.3, 0.7),
    pad_multiple=PAD_MULTIPLE,
    grey_photos_per_pixel=True,
    impulse_range_share=0.15,
    random_valued_share=0.15,
    clean_share=0.15,
    jpeg_share=1.0,  # every patch saved as JPEG: the model is for photos that were
    spread_max=60.0,
    real_world_density_max=0.4,
    jpeg_quality_min=60,
    validation_cases="saved",
)


class SavedEvidence(layers.Layer):
    """Weight-free inputs: full resolution [x, m, median of m, x - m] (12 channels), m the 3x3 median, and
    half resolution the 3x3 local means of [|x - m|, m] at the `CONTEXT_LEVELS` scales (12 channels)."""

    def call(self, x):
        m = median3(x)
        full = ops.concatenate([x, m, median3(m), x - m], axis=-1)
        return full, coarse_means(ops.concatenate([ops.abs(x - m), m], axis=-1), CONTEXT_LEVELS)

    def compute_output_spec(self, x):
        """Shapes without tracing `call` (as `ImpulsePrefill`: pool-then-upsample for a symbolic size)."""
        b, h, w, _ = x.shape
        half = (None if h is None else h // 2, None if w is None else w // 2)
        return (keras.KerasTensor((b, h, w, 12), dtype=x.dtype),
                keras.KerasTensor((b, *half, 6 * len(CONTEXT_LEVELS)), dtype=x.dtype))


def build(widths: tuple[int, int, int] = (32, 64, 128), head: int = 8) -> keras.Model:
    """The evidence, `prefill-unet`'s U-Net over it, and the input plus the residual."""
    image = keras.Input(shape=(None, None, 3), name="image")
    evidence, context = SavedEvidence(name="evidence")(image)
    residual = unet_residual(evidence, context, widths, head)
    restored = layers.Add(name="restored")([image, residual])
    return keras.Model(image, restored, name="jpeg_unet")
