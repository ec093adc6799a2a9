"""Blind impulse U-Net whose detector also sees luma and chroma apart: `blind-unet-deep` plus
`ChromaEvidence` (Y against its 3x3 median, Cb/Cr against a median over about 12x12 pixels) through one
3x3 conv that starts at zero, added to the detector's second conv (training/architectures/blind_unet.py).

Why: on CBSD68, salt-and-pepper per channel saved as a JPEG is where `blind-unet` misses its targets by
most (sp 0.3 + JPEG 90: 19.08 dB against a target of 25.20), and a perfect detector in front of the same
U-Net would reach 25.85 on held-out colour photos (`python scripts/blind_oracle.py --run
runs/blind-unet-deep-stage1 --colour`). JPEG's 4:2:0 smears each impulse's chroma over a patch wider
than the 13x13 pixels the deep detector sees, and a median on Y with a wider one on Cb/Cr beats the RGB
medians there by 1.2-2.0 dB (`python scripts/chroma_median_probe.py`; docs/model-design.md).
Its first CPU epoch gained nothing (docs/model-design.md, "Luma and chroma apart"); shipped as `blind-unet` since
stop 33, after 3,000 steps of the whole model on a lent H200 (docs/model-design.md, "Two models trained
on a lent H200").

`fit --arch blind-unet-chroma --init <a blind-unet-deep run folder>` grows a `blind-unet-deep` run: every
layer but the chroma conv (`GROWN_LAYERS`) takes that run's weights, the chroma conv starts at zero, so
the grown model is the run's model exactly. Everything else is `blind-unet-deep`'s.
"""

from __future__ import annotations

import keras

from training.architectures import blind_unet, blind_unet_deep
from training.architectures.blind_unet import CHROMA_LAYERS, FRESH_LAYERS, RECIPE, TAKES_SHARE, training_model  # noqa: F401

GROWS_FROM = "blind-unet-deep"  # `fit --init` takes a run of this architecture and adds the GROWN_LAYERS
GROWN_LAYERS = CHROMA_LAYERS
CPU_TILE_SIZE = blind_unet_deep.CPU_TILE_SIZE  # the chroma branch is 3 channels at full resolution: the deep model's tile


def build(**options) -> keras.Model:
    """`blind_unet_deep.build` with the chroma branch in the detector (`options` as `blind_unet.build`'s)."""
    return blind_unet.build(detector_blocks=blind_unet_deep.BLOCKS, chroma=True, **options)
