"""Model architectures by name; each module exposes `build(...) -> keras.Model` and a `RECIPE`
(and `training_model(model, loss)` when the loss needs more outputs than the exported model has; and
`TAKES_SHARE = True` when its exported graph takes the `impulse_share` input: `build(share=True)`)."""

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


def build_for_export(module: ModuleType):
    """The model as its ONNX file has it: with the `impulse_share` input where the architecture takes one
    (`prefill_unet.share_input`), the same weights as `build()`'s, which training uses."""
    return module.build(share=True) if getattr(module, "TAKES_SHARE", False) else module.build()
