#!/usr/bin/env python
"""Tiled against whole: how far the service's tiles move a model's output on photos larger than its tile.

Since stop 37 both shipped models set k, the count of an extreme in its 5x5 window that makes it content
(`_isolated`), from the share of flagged values in what they are given. A tile (its core and 64 pixels of
context) is given part of the photo, so its share, and so its k, can differ from the whole photo's: tiles
are no longer bit-identical to the untiled run on every noise. (`blind-unet`'s prior shift was already a
statistic of its input, so its random-valued results were never tile-invariant.) This prints, per photo,
model and noise: the share of values that differ and the largest difference, and the PSNR of the whole and
the tiled run against the clean photo; with `--compare DIR` (the rule shipped until stop 36:
`python scripts/clipped_rule_probe.py --rule solid --out DIR`) the same for those files.

  python scripts/tile_checks.py                                   # about 4 minutes on 2 cores
  python scripts/clipped_rule_probe.py --rule solid --out /tmp/solid
  python scripts/tile_checks.py --compare /tmp/solid             # about 8 minutes
  python scripts/tile_checks.py --crop /tmp/seam.png --compare /tmp/solid   # a crop across a tile corner, to look at

Photos: scikit-image's astronaut, coffee and chelsea, made 3x larger (Lanczos) so that they take 4 to 9
tiles at the service's CPU tile sizes (1024 for `prefill-unet`, the card's 768 for `blind-unet`); each
also x1.6 brighter and clipped.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WHOLE = 8192  # a tile larger than any photo here: the untiled run
NOISES = (("salt-pepper", 0.1), ("salt-pepper", 0.5), ("random-valued", 0.2))
EXPOSURES = (1.0, 1.6)


def photos() -> dict[str, np.ndarray]:
    from PIL import Image
    from skimage import data

    out = {}
    for name in ("astronaut", "coffee", "chelsea"):
        image = Image.fromarray(getattr(data, name)())
        out[name] = np.asarray(image.resize((image.width * 3, image.height * 3), Image.Resampling.LANCZOS))
    return out


@functools.cache
def denoiser(model: Path, tile: int):
    """One session per model and tile size for the whole run (the table runs each pair 15 times)."""
    from app.inference import Denoiser

    return Denoiser(model, threads=2, tile_size=tile)


def service_tile(model: Path) -> int:
    """The model's CPU tile in the service: its card's `cpu_tile_size`, else the provider's."""
    from app.cards import read_card
    from app.inference import AUTO_TILE

    return read_card(model.with_suffix(".json")).get("cpu_tile_size") or AUTO_TILE["CPUExecutionProvider"]


def outputs(model: Path, noisy: np.ndarray, tile: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(whole, tiled) outputs, tiled at `tile` (default `service_tile`)."""
    from app.imaging import DecodedImage

    whole = denoiser(model, WHOLE).denoise(DecodedImage(noisy)).image.pixels
    tiled = denoiser(model, tile or service_tile(model)).denoise(DecodedImage(noisy)).image.pixels
    return whole, tiled


def compare(model: Path, clean: np.ndarray, noisy: np.ndarray, tile: int | None = None) -> tuple[float, int, float, float]:
    """(share of values that differ, largest difference, PSNR whole, PSNR tiled) at `tile`."""
    from app.quality import psnr

    whole, tiled = outputs(model, noisy, tile)
    diff = np.abs(whole.astype(int) - tiled.astype(int))
    return float((diff > 0).mean()), int(diff.max()), psnr(clean, whole), psnr(clean, tiled)


def save_crop(out: Path, model: Path) -> None:
    """A 256x256 crop across the first tile corner of the astronaut x1.6 with salt-and-pepper 0.5, shown 2x:
    clean, whole, tiled, and white where the two differ (how stop 37 looked for a seam)."""
    from PIL import Image

    from app.noise import NoiseSpec, add_noise

    clean = np.clip(np.rint(photos()["astronaut"] * 1.6), 0, 255).astype(np.uint8)
    whole, tiled = outputs(model, add_noise(clean, NoiseSpec("salt-pepper", 0.5), seed=1))
    corner = service_tile(model)
    window = (slice(corner - 128, corner + 128), slice(corner - 128, corner + 128))
    differs = np.repeat((np.abs(whole.astype(int) - tiled.astype(int)).max(-1) > 0)[..., None], 3, -1) * 255
    strip = np.concatenate([a[window].astype(np.uint8) for a in (clean, whole, tiled, differs)], axis=1)
    Image.fromarray(strip).resize((strip.shape[1] * 2, strip.shape[0] * 2), Image.Resampling.NEAREST).save(out)
    print(f"{out}: clean, whole, tiled, where they differ ({model.stem}, tile corner at {corner}, {corner})")


def main() -> None:
    from app.noise import NoiseSpec, add_noise

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["prefill-unet", "blind-unet"])
    parser.add_argument("--compare", type=Path, help="a folder with the same models built otherwise")
    parser.add_argument("--crop", type=Path, help="only save a crop across a tile corner here (a .png), for the "
                        "first model; with --compare also <name>-compare.png from those files")
    args = parser.parse_args()
    folders = [ROOT / "models", *([args.compare] if args.compare else [])]
    if args.crop:  # and with --compare, the same crop from those files beside it
        for folder in folders:
            out = args.crop if folder == ROOT / "models" else args.crop.with_stem(args.crop.stem + "-compare")
            save_crop(out, folder / f"{args.models[0]}.onnx")
        return
    print("| photo | exposure | model | noise | files | values differing | largest | PSNR whole | PSNR tiled |")
    print("|---|---:|---|---|---|---:|---:|---:|---:|")
    for name, photo in photos().items():
        for exposure in EXPOSURES:
            clean = np.clip(np.rint(photo * exposure), 0, 255).astype(np.uint8)
            for kind, density in NOISES:
                noisy = add_noise(clean, NoiseSpec(kind, density), seed=1)
                for model in args.models:
                    if model.startswith("prefill-unet") and kind != "salt-pepper":
                        continue  # it changes exact extremes only
                    for folder in folders:
                        share, largest, whole, tiled = compare(folder / f"{model}.onnx", clean, noisy)
                        label = "shipped" if folder == ROOT / "models" else str(folder)
                        print(f"| {name} {clean.shape[1]}x{clean.shape[0]} | {exposure} | {model} | {kind} {density} | "
                              f"{label} | {share:.4f} | {largest} | {whole:.2f} | {tiled:.2f} |", flush=True)


if __name__ == "__main__":
    main()
