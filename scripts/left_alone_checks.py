#!/usr/bin/env python
"""The measurements behind X-Try-Model (`app.pipeline.model_to_try`): on which uploads a model "left most
of the impulses alone", on scikit-image's photos (never a test set).

  python scripts/left_alone_checks.py   # about a minute on 2 cores

Each image goes through `app.pipeline.denoise`, the service's path, with prefill-unet (the switching default)
and blind-unet. Prints the upload's impulse estimate (X-Impulse-Fraction), the share of values each model
changed (X-Changed-Fraction), whether the rule fires ("left alone") and the model X-Try-Model names after
prefill-unet ("->"; these uploads are PNG files), for 256x256 crops of astronaut, coffee
and chelsea, clean and with each kind of noise, then for scikit-image's whole clean photos.

  python scripts/left_alone_checks.py --data ../shared/data/CBSD68   # a folder of test photos, ~3 minutes

With `--data`: each photo of the folder, clean and with each kind of noise (per channel, PNG uploads), through
prefill-unet alone; per kind, the span of the estimated share of impulses away from 0 and 255
(`ImpulseEstimate.elsewhere`, what LEFT_ALONE_ELSEWHERE reads) and on how many photos the rule fires, with
and without that clause (stop 36); then each upload whose verdict that clause turned.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

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


FOLDER_NOISE = {
    "clean": NoiseSpec(density=0.0),
    "salt-pepper 0.1": NoiseSpec(density=0.1),
    "salt-pepper 0.3": NoiseSpec(density=0.3),
    "salt-pepper 0.5": NoiseSpec(density=0.5),
    "random-valued 0.1": NoiseSpec("random-valued", 0.1),
    "random-valued 0.2": NoiseSpec("random-valued", 0.2),
    "random-valued 0.3": NoiseSpec("random-valued", 0.3),
    "impulse-range 0.1": NoiseSpec("impulse-range", 0.1),
    "impulse-range 0.3": NoiseSpec("impulse-range", 0.3),
}


def folder(registry: ModelRegistry, photos: Path) -> None:
    """The `--data` table: per kind of noise, the share away from the extremes and where the rule fires."""
    from dataclasses import replace

    from app.imaging import read_photo

    files = sorted(p for p in photos.iterdir() if p.suffix.lower() in (".png", ".jpg", ".bmp"))
    images = [read_photo(p) for p in files]
    default = registry.get("prefill-unet")
    print(f"{len(images)} photos from {photos}, prefill-unet; noise per channel, PNG uploads\n")
    print("| noise | impulses away from 0 and 255 (min / median / max) | at least LEFT_ALONE_ELSEWHERE "
          "| the rule fires | without that clause |\n|---|---|---:|---:|---:|")
    turned = []  # the uploads on which the clause changed the verdict
    for label, spec in FOLDER_NOISE.items():
        elsewhere, fires, before = [], 0, 0
        for i, (path, pixels) in enumerate(zip(files, images)):
            result = pipeline.denoise(png(add_noise(pixels, spec, seed=i)), default.denoiser, MAX_PIXELS)
            elsewhere.append(result.impulses_elsewhere)
            fires += result.left_impulses_alone
            without = replace(result, impulses_elsewhere=0.0).left_impulses_alone
            before += without
            if result.left_impulses_alone != without:
                turned.append(f"{label}, {path.name}: the photo clean has {pipeline.extremes_fraction(pixels):.3f} "
                              f"of its values at 0 or 255; estimate {result.impulse_fraction:.3f}, of it away from "
                              f"them {result.impulses_elsewhere:.3f}; changed {result.changed_fraction:.3f}")
        many = sum(e >= pipeline.LEFT_ALONE_ELSEWHERE for e in elsewhere)
        print(f"| {label} | {min(elsewhere):.3f} / {np.median(elsewhere):.3f} / {max(elsewhere):.3f} | {many} "
              f"| {fires} | {before} |", flush=True)
    print("\nwhere the clause turned the verdict:\n" + "\n".join(f"  {line}" for line in turned))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a folder of test photos: the per-kind table instead")
    args = parser.parse_args()
    registry = ModelRegistry(Settings(models_dir=REPO_MODELS, default_model=None, prefer_int8=False))
    registry.load()
    registry.warm_up()
    if args.data is not None:
        folder(registry, args.data)
        return

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
