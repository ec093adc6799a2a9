#!/usr/bin/env python
"""The measurements behind X-Try-Model (`app.pipeline.model_to_try`): on which uploads a model "left most
of the impulses alone", on scikit-image's photos (never a test set).

  python scripts/left_alone_checks.py   # about a minute on 2 cores

Each image goes through `app.pipeline.denoise`, the service's path, with prefill-unet (the switching default)
and blind-unet. Prints the upload's impulse estimate (X-Impulse-Fraction), the share of values each model
changed (X-Changed-Fraction), whether the rule fires ("left alone") and the model X-Try-Model names after
prefill-unet ("->"; these uploads are PNG files), for 256x256 crops of astronaut, coffee
and chelsea, clean and with each kind of noise, then for scikit-image's whole clean photos.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from skimage import data

from app import pipeline
from app.noise import NoiseSpec, add_noise
from app.registry import ModelRegistry
from app.settings import MAX_PIXELS, REPO_MODELS, Settings

MODELS = ("prefill-unet", pipeline.REAL_WORLD_MODEL)
CROPS = ("astronaut", "coffee", "chelsea")
NOISE = {
    "clean": None,
    "clean + JPEG 90": NoiseSpec(density=0.0, jpeg_quality=90),
    "salt-pepper 0.1": NoiseSpec(density=0.1),
    "salt-pepper 0.1 + JPEG 90": NoiseSpec(density=0.1, jpeg_quality=90),
    "salt-pepper 0.3 + JPEG 90": NoiseSpec(density=0.3, jpeg_quality=90),
    "salt-pepper 0.5 + JPEG 90": NoiseSpec(density=0.5, jpeg_quality=90),
    "salt-pepper 0.1 + JPEG 75": NoiseSpec(density=0.1, jpeg_quality=75),
    "impulse-range 0.1": NoiseSpec("impulse-range", 0.1),
    "random-valued 0.1": NoiseSpec("random-valued", 0.1),
    "random-valued 0.3": NoiseSpec("random-valued", 0.3),
}
WHOLE = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "cat",
         "camera", "moon", "page", "text", "brick", "grass", "gravel")


def rgb(name: str) -> np.ndarray:
    image = getattr(data, name)()
    return (np.stack([image] * 3, axis=-1) if image.ndim == 2 else image)[..., :3]


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def main() -> None:
    registry = ModelRegistry(Settings(models_dir=REPO_MODELS, default_model=None, prefer_int8=False))
    registry.load()
    registry.warm_up()

    def row(name: str, pixels: np.ndarray) -> dict[str, bool]:
        results = {m: pipeline.denoise(png(pixels), registry.get(m).denoiser, MAX_PIXELS) for m in MODELS}
        estimate = next(iter(results.values())).impulse_fraction
        cells = "  ".join(f"{m} changed {r.changed_fraction:.4f}{' LEFT ALONE' if r.left_impulses_alone else ''}"
                          for m, r in results.items())
        # What X-Try-Model names after the default (a PNG upload: jpeg-unet only where its pixels were saved as JPEG)
        suggestion = pipeline.model_to_try(results[MODELS[0]], MODELS[0], registry.models)
        print(f"  {name:45s} estimate {estimate:.3f}  {cells}{f'  -> {suggestion}' if suggestion else ''}")
        return {m: r.left_impulses_alone for m, r in results.items()}

    fired: dict[str, dict[str, int]] = {}
    print("256x256 crops:")
    for label, spec in NOISE.items():
        group = "clean" if spec is None or spec.density == 0 else (
            "exact salt-and-pepper" if spec.kind == "salt-pepper" and spec.jpeg_quality is None else "real-world")
        for crop in CROPS:
            pixels = rgb(crop)[:256, :256]
            flags = row(f"{crop}, {label}", pixels if spec is None else add_noise(pixels, spec, seed=1))
            counts = fired.setdefault(group, {"images": 0, **dict.fromkeys(MODELS, 0)})
            counts["images"] += 1
            for m in MODELS:
                counts[m] += flags[m]
    print("whole clean photos:")
    counts = fired.setdefault("whole clean photos", {"images": 0, **dict.fromkeys(MODELS, 0)})
    for name in WHOLE:
        flags = row(name, rgb(name))
        counts["images"] += 1
        for m in MODELS:
            counts[m] += flags[m]
    print("the rule fires on:")
    for group, c in fired.items():
        print(f"  {group}: " + ", ".join(f"{m} {c[m]} of {c['images']}" for m in MODELS))


if __name__ == "__main__":
    main()
