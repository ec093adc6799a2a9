#!/usr/bin/env python
"""Tiled against whole: how far the service's tiles move a model's output on photos larger than its tile.

Stop 37's rule for clipped regions (`_isolated`) sets k, the count of an extreme in its 5x5 window that makes
it content, from p, the share of values the solid rule flags. Taken from what the graph is given, p was each
tile's own (its core and 64 pixels of context), so tiles could keep other clipped values than the whole photo
(stop 37: 0-13.6% of the values differed on exact salt-and-pepper). Since stop 38 the service gives every tile
the whole photo's p (`app.impulse_share`, the models' `impulse_share` input); `--own-p` adds the rows of each
tile taking its own p again, as stop 37's service ran the same files. (`blind-unet`'s noise context and prior
shift are statistics of what it is given, so its results were never tile-invariant.) This prints, per photo,
model and noise: the share of values that differ and the largest difference, and the PSNR of the whole and
the tiled run against the clean photo; with `--compare DIR` (the rule shipped until stop 36:
`python scripts/clipped_rule_probe.py --rule solid --out DIR`) the same for those files.

  python scripts/tile_checks.py                                   # about 4 minutes on 2 cores
  python scripts/tile_checks.py --own-p                           # and each tile's own p: about 8 minutes
  python scripts/clipped_rule_probe.py --rule solid --out /tmp/solid
  python scripts/tile_checks.py --compare /tmp/solid             # about 8 minutes
  python scripts/tile_checks.py --crop /tmp/seam.png --compare /tmp/solid   # a crop across a tile corner, to look at
  python scripts/tile_checks.py --test-photo                      # tests/test_inference.py's photo, 64-pixel tiles

Photos: scikit-image's astronaut, coffee and chelsea, made 3x larger (Lanczos) so that they take 4 to 9
tiles at the service's CPU tile sizes (1024 for `prefill-unet`, the card's 768 for `blind-unet`); each
also x1.6 brighter and clipped. `--test-photo`: the crop tests/test_inference.py tiles (the astronaut's
320x384 corner x1.6, clipped) at every density, in 64-pixel tiles, with the photo's p and with each tile's own.
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
def denoiser(model: Path, tile: int, own_p: bool = False):
    """One session per model, tile size and p for the whole run (the table runs each pair 15 times). `own_p`:
    each tile takes p from its own values (the graph's, as stop 37's service ran), not the photo's."""
    from app.inference import Denoiser

    made = Denoiser(model, threads=2, tile_size=tile, tile_margin=64)
    made.takes_share = made.takes_share and not own_p
    return made


def service_tile(model: Path) -> int:
    """The model's CPU tile in the service: its card's `cpu_tile_size`, else the provider's."""
    from app.cards import read_card
    from app.inference import AUTO_TILE

    return read_card(model.with_suffix(".json")).get("cpu_tile_size") or AUTO_TILE["CPUExecutionProvider"]


def outputs(model: Path, noisy: np.ndarray, tile: int | None = None, own_p: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(whole, tiled) outputs, tiled at `tile` (default `service_tile`), the tiles given the photo's p or, with
    `own_p`, each its own. The whole photo's run is the service's, with the photo's p."""
    from app.imaging import DecodedImage

    whole = denoiser(model, WHOLE).denoise(DecodedImage(noisy)).image.pixels
    tiled = denoiser(model, tile or service_tile(model), own_p).denoise(DecodedImage(noisy)).image.pixels
    return whole, tiled


def compare(model: Path, clean: np.ndarray, noisy: np.ndarray, tile: int | None = None,
            own_p: bool = False) -> tuple[float, int, float, float]:
    """(share of values that differ, largest difference, PSNR whole, PSNR tiled) at `tile`."""
    from app.quality import psnr

    whole, tiled = outputs(model, noisy, tile, own_p)
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


def the_tests_photo(model: Path) -> None:
    """tests/test_inference.py's clipped crop at every density in 64-pixel tiles (30 of them), with the photo's
    p and each tile's own: the figures its docstring gives."""
    from skimage import data

    from app.noise import salt_and_pepper

    photo = np.clip(data.astronaut()[:320, :384].astype(np.float32) * 1.6, 0, 255).astype(np.uint8)
    print("| density | p | values differing | largest |")
    print("|---:|---|---:|---:|")
    for density in (0.1, 0.3, 0.5, 0.7, 0.95):
        noisy = salt_and_pepper(photo, density, seed=2)
        for own_p in (False, True):
            share, largest, _, _ = compare(model, photo, noisy, 64, own_p)
            print(f"| {density} | {'each tile' if own_p else 'photo'} | {share:.4f} | {largest} |", flush=True)


def main() -> None:
    from app.noise import NoiseSpec, add_noise

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["prefill-unet", "blind-unet"])
    parser.add_argument("--compare", type=Path, help="a folder with the same models built otherwise")
    parser.add_argument("--crop", type=Path, help="only save a crop across a tile corner here (a .png), for the "
                        "first model; with --compare also <name>-compare.png from those files")
    parser.add_argument("--own-p", action="store_true", help="also each tile with its own p (stop 37's service)")
    parser.add_argument("--test-photo", action="store_true", help="only tests/test_inference.py's photo, for the "
                        "first model")
    args = parser.parse_args()
    if args.test_photo:
        the_tests_photo(ROOT / "models" / f"{args.models[0]}.onnx")
        return
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
                    runs = [(folder, False) for folder in folders] + ([(ROOT / "models", True)] if args.own_p else [])
                    for folder, own_p in runs:
                        share, largest, whole, tiled = compare(folder / f"{model}.onnx", clean, noisy, own_p=own_p)
                        label = ("shipped" if folder == ROOT / "models" else str(folder)) + (", tile's p" if own_p else "")
                        print(f"| {name} {clean.shape[1]}x{clean.shape[0]} | {exposure} | {model} | {kind} {density} | "
                              f"{label} | {share:.4f} | {largest} | {whole:.2f} | {tiled:.2f} |", flush=True)


if __name__ == "__main__":
    main()
