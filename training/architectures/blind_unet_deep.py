"""Blind impulse U-Net with a deeper detector: `blind-unet` plus one residual block after the detector's
second conv (a 3x3 conv dilated by 2, then a 3x3 conv that starts at zero, added back), so each value's
decision sees 11x11 of the detector's inputs instead of 5x5 (13x13 pixels instead of 7x7, with the
median's and ROAD's 3x3), through two more non-linear layers.

Why: after 8,000 detection steps, `blind-unet`'s detector had all but stopped learning (its cross-entropy
0.1963 -> 0.1935 in 3,000 steps, stop 22's `runs/blind-unet-symmetric-stage1b`), while a perfect detector
in front of the same U-Net would give random-valued impulses 37 dB (docs/model-design.md). Grown from
that run (the block starts at zero, so the grown model is the run's model exactly), 2,000 steps took
the cross-entropy to 0.1826 and random-valued 0.2 on the validation patches from 26.26 to 28.08 dB.

`fit --arch blind-unet-deep --init <a blind-unet run folder>` grows a `blind-unet` run: every layer but
the block's (`GROWN_LAYERS`) takes that run's weights (`training.init_weights`), the block starts as
built. Everything else (recipe, stages, losses, dead zone, prior shift) is `blind-unet`'s.
"""

from __future__ import annotations

import keras

from training.architectures import blind_unet
from training.architectures.blind_unet import FRESH_LAYERS, GROWN_LAYERS, RECIPE, TAKES_SHARE, training_model  # noqa: F401

GROWS_FROM = "blind-unet"  # `fit --init` takes a run of this architecture and adds the GROWN_LAYERS
BLOCKS = 1  # each costs two 3x3 convs of 16 features at full resolution, per look (photo and negative)
# The service's CPU tile for this model (its card's `cpu_tile_size`). With the default's 1024 a 60 MP photo
# peaked at 2,122 MB in the server, past the documented 1.65 GB and near the pods' 2 GiB; 768 gave 1,413 MB
# (`python scripts/memory_cases.py --only "60 MP photo" --model blind-unet --env DENOISE_TILE_SIZE=768`).
CPU_TILE_SIZE = 768


def build(**options) -> keras.Model:
    """`blind_unet.build` with BLOCKS residual blocks in the detector (`options` as its own)."""
    return blind_unet.build(detector_blocks=BLOCKS, **options)
