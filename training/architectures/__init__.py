"""Model architectures by name; each module exposes `build(...) -> keras.Model` and a `RECIPE`
(and `training_model(model, loss)` when the loss needs more outputs than the exported model has)."""

from __future__ import annotations

from types import ModuleType

from training.architectures import (
    blind_unet,
    blind_unet_chroma,
    blind_unet_deep,
    blind_unet_deeper,
    jpeg_unet,
    prefill_unet,
    seed_autoencoder,
)

ARCHITECTURES: dict[str, ModuleType] = {
    "seed-autoencoder": seed_autoencoder,
    "prefill-unet": prefill_unet,
    "blind-unet": blind_unet,
    "blind-unet-deep": blind_unet_deep,
    "blind-unet-chroma": blind_unet_chroma,
    "blind-unet-deeper": blind_unet_deeper,
    "jpeg-unet": jpeg_unet,
}


def get(name: str) -> ModuleType:
    """The architecture module called `name`, or a ValueError listing the known ones."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}") from None
