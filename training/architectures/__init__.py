"""Model architectures by name; each module exposes `build(...) -> keras.Model` and a `RECIPE`."""

from __future__ import annotations

from types import ModuleType

from training.architectures import prefill_unet, seed_autoencoder

ARCHITECTURES: dict[str, ModuleType] = {
    "seed-autoencoder": seed_autoencoder,
    "prefill-unet": prefill_unet,
}


def get(name: str) -> ModuleType:
    """The architecture module called `name`, or a ValueError listing the known ones."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}") from None
