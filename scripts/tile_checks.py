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

Photos: scikit-image's astronaut, coffee and chelsea, made 3x larger (Lanczos) so that they take 4 to 9
tiles at the service's CPU tile sizes (1024 for `prefill-unet`, the card's 768 for `blind-unet`); each
also x1.6 brighter and clipped.
"""

from __future__ import annotations

import argparse
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


def compare(model: Path, clean: np.ndarray, noisy: np.ndarray, tile: int | None = None) -> tuple[float, int, float, float]:
    """(share of values that differ, largest difference, PSNR whole, PSNR tiled) at `tile`, by default the
    model's CPU tile in the service (its card's `cpu_tile_size`, else the provider's)."""
    from app.cards import read_card
    from app.imaging import DecodedImage
    from app.inference import AUTO_TILE, Denoiser
    from app.quality import psnr

    tile = tile or read_card(model.with_suffix(".json")).get("cpu_tile_size") or AUTO_TILE["CPUExecutionProvider"]
    whole = Denoiser(model, threads=2, tile_size=WHOLE).denoise(DecodedImage(noisy)).image.pixels
    tiled = Denoiser(model, threads=2, tile_size=tile).denoise(DecodedImage(noisy)).image.pixels
    diff = np.abs(whole.astype(int) - tiled.astype(int))
    return float((diff > 0).mean()), int(diff.max()), psnr(clean, whole), psnr(clean, tiled)


def main() -> None:
    from app.noise import NoiseSpec, add_noise

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["prefill-unet", "blind-unet"])
    parser.add_argument("--compare", type=Path, help="a folder with the same models built otherwise")
    args = parser.parse_args()
    folders = [ROOT / "models", *([args.compare] if args.compare else [])]
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
