#!/usr/bin/env python
"""The measurements behind `app.jpeg_grid` (pixels saved as JPEG, whatever the file): its score on photos
never saved, with each kind of noise unsaved, and with noise then a JPEG save at several qualities.

  python scripts/jpeg_grid_checks.py                                            # scikit-image's photos, seconds
  python scripts/jpeg_grid_checks.py --data ../shared/data/CBSD68 --limit 8     # test photos (not trained on)
  python scripts/jpeg_grid_checks.py --time                                     # and its time on 24 MP
  python scripts/jpeg_grid_checks.py --data ../shared/data/CBSD68 --limit 10 --phase-model models/jpeg-unet.onnx
                                         # the model on saves cut off their grid, lined up or not
  python scripts/jpeg_grid_checks.py --data ../shared/data/CBSD68 --limit 68 --blocks
                                         # the raw score by how many blocks it was read from (MIN_BLOCKS)

Prints, per case, the score's min / median / max over the photos and how many pass `SAVED_SCORE`. The
photos are used as they are: a photo that was itself a JPEG once, unresized, scores as saved when clean.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from app.jpeg_grid import SAVED_SCORE, grid_score
from app.noise import NoiseSpec, add_noise, reencode

CASES = {
    "clean": NoiseSpec(density=0.0),
    "salt-pepper 0.1": NoiseSpec(density=0.1),
    "salt-pepper 0.5": NoiseSpec(density=0.5),
    # light enough that some blocks escape the impulses, too few to judge by: the false "saved" of stop 41
    "salt-pepper 0.015": NoiseSpec(density=0.015),
    "salt-pepper 0.02": NoiseSpec(density=0.02),
    "salt-pepper 0.025": NoiseSpec(density=0.025),
    "salt-pepper 0.04, whole pixels": NoiseSpec(density=0.04, per_channel=False),
    "impulse-range 0.3": NoiseSpec("impulse-range", 0.3),
    "random-valued 0.1": NoiseSpec("random-valued", 0.1),
    "random-valued 0.4": NoiseSpec("random-valued", 0.4),
    "clean + JPEG 90": NoiseSpec(density=0.0, jpeg_quality=90),
    "salt-pepper 0.1 + JPEG 95": NoiseSpec(density=0.1, jpeg_quality=95),
    "salt-pepper 0.1 + JPEG 90": NoiseSpec(density=0.1, jpeg_quality=90),
    "salt-pepper 0.3 + JPEG 90": NoiseSpec(density=0.3, jpeg_quality=90),
    "salt-pepper 0.5 + JPEG 90": NoiseSpec(density=0.5, jpeg_quality=90),
    "salt-pepper 0.1 + JPEG 75": NoiseSpec(density=0.1, jpeg_quality=75),
    "salt-pepper 0.3 + JPEG 75": NoiseSpec(density=0.3, jpeg_quality=75),
    "salt-pepper 0.1 + JPEG 60": NoiseSpec(density=0.1, jpeg_quality=60),
    "random-valued 0.2 + JPEG 90": NoiseSpec("random-valued", 0.2, jpeg_quality=90),
    "impulse-range 0.3 + JPEG 90": NoiseSpec("impulse-range", 0.3, jpeg_quality=90),
}
# A photo saved as JPEG 90 first, then noise that was never saved: the hint must not take it for saved.
SAVED_THEN = {
    "JPEG 90, then random-valued 0.02": NoiseSpec("random-valued", 0.02),
    "JPEG 90, then random-valued 0.05": NoiseSpec("random-valued", 0.05),
    "JPEG 90, then impulse-range 0.05": NoiseSpec("impulse-range", 0.05),
}
SKIMAGE = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina", "cat", "colorwheel")


def photos(folder: Path | None, limit: int) -> list[tuple[str, np.ndarray]]:
    if folder is None:
        from skimage import data

        return [(name, getattr(data, name)()[..., :3]) for name in SKIMAGE][:limit]
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".tif"))
    return [(p.name, np.asarray(Image.open(p).convert("RGB"))) for p in files[:limit]]


def timings(pixels: np.ndarray) -> None:
    """Best of 5 of `grid_score` and `grid_phase` on the first photo tiled to 6000x4000 and cut to 512x512,
    saved as JPEG 90 after salt-and-pepper 0.1 (the grid at the corner, or cut by 3 rows and 5 columns), and
    with random-valued impulses never saved (grid_phase's longest: every placement tried)."""
    from app.jpeg_grid import grid_phase

    def best(work, image: np.ndarray) -> float:
        seconds = []
        for _ in range(5):
            start = time.perf_counter()
            work(image)
            seconds.append(time.perf_counter() - start)
        return min(seconds)

    for height, width in ((4000, 6000), (512, 512)):
        tiled = np.tile(pixels, (-(-height // pixels.shape[0]), -(-width // pixels.shape[1]), 1))[:height, :width]
        saved = add_noise(tiled, NoiseSpec(density=0.1, jpeg_quality=90), seed=0)
        cases = {"saved, grid at the corner": saved, "saved, cut by (3, 5)": np.ascontiguousarray(saved[3:, 5:]),
                 "random-valued 0.2, never saved": add_noise(tiled, NoiseSpec("random-valued", 0.2), seed=0)}
        for case, image in cases.items():
            print(f"{width}x{height}, {case}: grid_score {best(grid_score, image):.3f} s, "
                  f"grid_phase {best(grid_phase, image):.3f} s", flush=True)
    print()


SHIFTS = ((0, 0), (3, 5), (4, 4), (1, 7))  # rows and columns cut off the top and left after the save


def phase_table(model: Path, images: list[tuple[str, np.ndarray]], ensemble: int) -> None:
    """Mean PSNR of `model` on salt-and-pepper 0.1 saved as JPEG 90, cut by each of SHIFTS (the grid then
    starts at (-dy % 8, -dx % 8)), with the grid lined up as the service does (`Denoiser.jpeg_grid` 8) and
    as it comes (0), and how often `grid_phase` finds where the grid starts."""
    from app.imaging import DecodedImage
    from app.inference import Denoiser
    from app.jpeg_grid import grid_phase
    from app.quality import psnr

    denoiser = Denoiser(model, ["CPUExecutionProvider"])
    print(f"{model}, {len(images)} photos, salt-and-pepper 0.1 then JPEG 90, ensemble {ensemble}\n")
    print("| cut (rows, columns) | grid found at | lined up (dB) | as it comes (dB) |")
    print("|---|---|---:|---:|")
    for dy, dx in SHIFTS:
        scores: dict[int, list[float]] = {8: [], 0: []}
        found = 0
        for i, (_, pixels) in enumerate(images):
            saved = add_noise(pixels, NoiseSpec(density=0.1, jpeg_quality=90), seed=i)
            noisy, clean = np.ascontiguousarray(saved[dy:, dx:]), pixels[dy:, dx:]
            found += grid_phase(noisy) == (-dy % 8, -dx % 8)
            for grid in scores:
                denoiser.jpeg_grid = grid
                scores[grid].append(psnr(clean, denoiser.denoise(DecodedImage(noisy), ensemble).image.pixels))
        print(f"| ({dy}, {dx}) | {found} of {len(images)} right | {np.mean(scores[8]):.2f} | {np.mean(scores[0]):.2f} |",
              flush=True)


# `--blocks`: light salt-and-pepper never saved (few blocks escape its extremes; two seeds) and noise then a save
BLOCK_CASES = (
    ("salt-pepper 0.015", NoiseSpec(density=0.015), False), ("salt-pepper 0.02", NoiseSpec(density=0.02), False),
    ("salt-pepper 0.025", NoiseSpec(density=0.025), False),
    ("salt-pepper 0.04, whole pixels", NoiseSpec(density=0.04, per_channel=False), False),
    ("salt-pepper 0.06, whole pixels", NoiseSpec(density=0.06, per_channel=False), False),
    ("salt-pepper 0.1 + JPEG 75", NoiseSpec(density=0.1, jpeg_quality=75), True),
    ("salt-pepper 0.3 + JPEG 90", NoiseSpec(density=0.3, jpeg_quality=90), True),
    ("salt-pepper 0.3 + JPEG 75", NoiseSpec(density=0.3, jpeg_quality=75), True),
    ("salt-pepper 0.5 + JPEG 90", NoiseSpec(density=0.5, jpeg_quality=90), True),
    ("impulse-range 0.3 + JPEG 90", NoiseSpec("impulse-range", 0.3, jpeg_quality=90), True),
)
BLOCK_BINS = ((24, 32), (32, 48), (48, 10**9))


def block_table(images: list[tuple[str, np.ndarray]]) -> None:
    """The score before the rule for few blocks (the lattice on the grid less the strongest reference), by the
    fewest blocks free of clipped values among the three grids: what MIN_BLOCKS and FEW_BLOCKS rest on."""
    from app.jpeg_grid import raw_score

    found: dict[bool, list[tuple[int, float]]] = {False: [], True: []}
    for _, spec, saved in BLOCK_CASES:
        for seed in (0,) if saved else (0, 100):
            for i, (_, pixels) in enumerate(images):
                score, blocks = raw_score(add_noise(pixels, spec, seed=i + seed))
                if blocks >= 2:  # fewer: nothing to measure a lattice on
                    found[saved].append((blocks, score))
    print(f"{sum(map(len, found.values()))} uploads; the score without the rule for few blocks\n")
    print("| blocks | never saved: uploads | highest | at or over SAVED_SCORE | saved: uploads | lowest "
          "| under it |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for low, high in BLOCK_BINS:
        unsaved = [score for n, score in found[False] if low <= n < high]
        saved = [score for n, score in found[True] if low <= n < high]
        print(f"| {low}-{high - 1 if high < 10**9 else 'more'} | {len(unsaved)} | {max(unsaved, default=0):.2f} "
              f"| {sum(s >= SAVED_SCORE for s in unsaved)} | {len(saved)} | {min(saved, default=0):.2f} "
              f"| {sum(s < SAVED_SCORE for s in saved)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a folder of colour photos (default: scikit-image's)")
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--time", action="store_true", help="also time grid_score on a 6000x4000 photo (24 MP)")
    parser.add_argument("--phase-model", type=Path, help="also score this model (jpeg-unet) on JPEG saves cropped "
                        "off their grid, with the service's grid alignment and without")
    parser.add_argument("--ensemble", type=int, default=1, help="with --phase-model: 1 or 8")
    parser.add_argument("--blocks", action="store_true", help="the score by the blocks it was read from")
    args = parser.parse_args()
    images = photos(args.data, args.limit)
    if args.blocks:
        block_table(images)
        return
    if args.phase_model:
        phase_table(args.phase_model, images, args.ensemble)
        return
    if args.time:
        timings(images[0][1])
    print(f"{len(images)} photos from {args.data or 'scikit-image'}; saved when the score is at least {SAVED_SCORE}\n")
    print("| case (noise per channel, seeded) | min | median | max | lowest not 0 | taken for saved |")
    print("|---|---:|---:|---:|---:|---:|")
    for case, spec in {**CASES, **SAVED_THEN}.items():
        scores = [grid_score(add_noise(reencode(pixels, "jpeg", 90) if case in SAVED_THEN else pixels, spec, seed=i))
                  for i, (_, pixels) in enumerate(images)]
        saved = sum(score >= SAVED_SCORE for score in scores)
        scored = min((score for score in scores if score != 0.0), default=0.0)  # 0: no verdict (all clipped)
        print(f"| {case} | {min(scores):.3f} | {np.median(scores):.3f} | {max(scores):.3f} | {scored:.3f} "
              f"| {saved} of {len(scores)} |", flush=True)


if __name__ == "__main__":
    main()
