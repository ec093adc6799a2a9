"""Blind impulse U-Net with a second residual block in the detector: `blind-unet-deep` plus one more block
(a 3x3 conv dilated by 4, then a 3x3 conv that starts at zero, added back), so each value's decision sees
27x27 pixels instead of 13x13.

Why: stop 22 grew `blind-unet` by its first block and random-valued 0.2 rose from 26.26 to 28.08 dB on the
validation patches in 2,000 steps. Since stop 29 every detection stage from the shipped weights ends where
it started (docs/model-design.md, stop 30), while a perfect detector in front of the same U-Net would give
random-valued impulses 44 dB: the detector's size, not its steps, is the next thing to try. A JPEG save
smears an impulse's chroma wider than 13x13 pixels, too.
Not shipped: in 4,000 detection steps it gained on near-extreme and random-valued impulses (+0.27 / +0.11
dB) only while the JPEG cases fell, and no run passed the shipped model on every group of photos
(docs/model-design.md, stop 30).

`fit --arch blind-unet-deeper --init models/blind-unet.onnx` (a `blind-unet-deep` export) grows it: every
layer but the new block's (`GROWN_LAYERS`) takes those weights, the block starts at zero, so the grown
model is the shipped one exactly. Everything else is `blind-unet-deep`'s.
"""

from __future__ import annotations

import keras

from training.architectures import blind_unet, blind_unet_deep
from training.architectures.blind_unet import FRESH_LAYERS, RECIPE, TAKES_SHARE, training_model  # noqa: F401

GROWS_FROM = "blind-unet-deep"  # `fit --init` takes a run or export of this architecture and adds the GROWN_LAYERS
BLOCKS = blind_unet_deep.BLOCKS + 1
GROWN_LAYERS = f"{blind_unet.GROWN_LAYERS}{blind_unet_deep.BLOCKS}"  # the new block's layers: detector_deep1a, 1b
CPU_TILE_SIZE = blind_unet_deep.CPU_TILE_SIZE  # one more 16-feature block at full resolution: the deep model's tile


def build(**options) -> keras.Model:
    """`blind_unet.build` with BLOCKS residual blocks in the detector (`options` as its own)."""
    return blind_unet.build(detector_blocks=BLOCKS, **options)
