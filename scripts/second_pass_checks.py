#!/usr/bin/env python
"""A model run again on its own output: what a second (and third) pass gains, case by case, on held-out
training photos (split as `fit` splits them; never a test photo), and how much the first pass changed, which
is what the service can see before it decides on a second.

  python scripts/second_pass_checks.py --model blind-unet --photos 16     # about 12 minutes on 2 cores
  python scripts/second_pass_checks.py --ensemble 8 --passes 2 --groups "colour, per channel" --only "clean" \
      "near-extreme 0.3" "near-extreme 0.5" "random-valued 0.2" "random-valued 0.4" --photos 8

Why: a detector that judges each value against its neighbours misses impulses whose neighbours are impulses
too, as iterative switching filters ("detect, fill, detect again") know; after one pass most of those
neighbours are restored, so a second look finds what the first could not. Each row: the mean PSNR (dB) after
one, two and three passes; as the service runs it (`Denoiser.denoise`, a second pass where
`app.inference.second_pass_due`; without the look for leftover impulses that follows it,
scripts/leftover_checks.py), with how many photos it gave a second pass; the second pass's gain per photo
(least and most); and what that rule reads from the first pass (mean, least, most): the share of values it
changed (the `X-Changed-Fraction` of that pass), the share changed that were not 0 or 255, and on colour photos
the values changed per changed pixel (about 1 where noise struck channels one at a time, up to 3 where it
struck whole pixels).

Groups: colour photos (CBSD432's held-out share) with noise per channel and per pixel, grey photos
(Train400's held-out share) per pixel. The model runs as the CPU service runs it (its int8 twin where the
registry prefers it).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from app.imaging import DecodedImage, read_photo
from app.noise import NoiseSpec, add_noise
from app.pass_changes import pass_changes
from app.quality import psnr
from app.registry import ModelRegistry
from app.settings import REPO_MODELS, Settings
from training.data import split_folders

PSNR_CAP = 100.0  # identical outputs count as 100 dB, as the tables do

CASES = (
    ("clean", NoiseSpec(density=0.0)),
    ("clean, JPEG 90", NoiseSpec(density=0.0, jpeg_quality=90)),
    ("salt-and-pepper 0.1", NoiseSpec(density=0.1)),
    ("salt-and-pepper 0.5", NoiseSpec(density=0.5)),
    ("salt-and-pepper 0.9", NoiseSpec(density=0.9)),
    ("salt-and-pepper 0.1 then JPEG 90", NoiseSpec(density=0.1, jpeg_quality=90)),
    ("salt-and-pepper 0.3 then JPEG 90", NoiseSpec(density=0.3, jpeg_quality=90)),
    ("near-extreme 0.1", NoiseSpec("impulse-range", 0.1)),
    ("near-extreme 0.3", NoiseSpec("impulse-range", 0.3)),
    ("near-extreme 0.5", NoiseSpec("impulse-range", 0.5)),
    ("near-extreme 0.3, spread 60", NoiseSpec("impulse-range", 0.3, spread=60.0)),
    ("random-valued 0.02", NoiseSpec("random-valued", 0.02)),
    ("random-valued 0.1", NoiseSpec("random-valued", 0.1)),
    ("random-valued 0.2", NoiseSpec("random-valued", 0.2)),
    ("random-valued 0.3", NoiseSpec("random-valued", 0.3)),
    ("random-valued 0.4", NoiseSpec("random-valued", 0.4)),
    ("random-valued 0.5", NoiseSpec("random-valued", 0.5)),
)

GROUPS = (  # (label, photo folder, noise per channel)
    ("colour, per channel", "CBSD432", True),
    ("colour, per pixel", "CBSD432", False),
    ("grey, per pixel", "Train400", False),
)


def spread(values: list[float]) -> str:
    """'mean, least, most' of a column, '-' where there is none (grey photos have no pixel of channels)."""
    return f"{np.mean(values):.3f}, {min(values):.3f}, {max(values):.3f}" if values else "-"


def capped_psnr(reference: np.ndarray, test: np.ndarray) -> float:
    return min(psnr(reference, test), PSNR_CAP)


def passes(denoiser, pixels: np.ndarray, count: int, ensemble: int = 1) -> list[np.ndarray]:
    """The model's outputs after 1..count passes, each pass on the one before's output."""
    outputs = []
    for _ in range(count):
        pixels = denoiser.denoise(DecodedImage(pixels), ensemble, second_pass=False, leftovers=False).image.pixels
        outputs.append(pixels)
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="blind-unet")
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--photos", type=int, default=16, help="held-out photos per group")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--float", action="store_true", help="the float model, not its int8 twin")
    parser.add_argument("--only", nargs="*", default=None, help="case labels to run (default: all)")
    parser.add_argument("--groups", nargs="*", default=None, help="group labels to run (default: all)")
    parser.add_argument("--ensemble", type=int, default=1, choices=(1, 8), help="8: every pass as x8")
    args = parser.parse_args()

    registry = ModelRegistry(Settings(models_dir=REPO_MODELS, default_model=None, prefer_int8=not args.float))
    registry.load()
    registry.warm_up()
    model = registry.get(args.model)
    print(f"model: {model.name}; {args.photos} held-out photos per group (val-fraction 0.2, seed 0); "
          f"mean PSNR (dB) after 1..{args.passes} passes" + (f", each as x{args.ensemble}" if args.ensemble > 1
                                                           else ""), flush=True)
    cases = [c for c in CASES if args.only is None or c[0] in args.only]
    for group, folder, per_channel in [g for g in GROUPS if args.groups is None or g[0] in args.groups]:
        _, held_out = split_folders([f"{args.data_root}/{folder}"], 0.2, 0)
        photos = [read_photo(p) for p in held_out[: args.photos]]
        print(f"\n{group} ({folder})\n")
        print("| case | " + " | ".join(f"{n} pass{'es' if n > 1 else ''}" for n in range(1, args.passes + 1))
              + " | as served (photos given a second pass) | second pass's gain, least / most | changed by the "
              "first pass: mean, least, most | of them away from 0 and 255 | values per changed pixel |")
        print("|---|" + "---:|" * args.passes + "---:|---|---|---|---|")
        for label, spec in cases:
            spec = replace(spec, per_channel=per_channel)
            scores = np.zeros((len(photos), args.passes))
            changed, away, per_pixel, served, twice = [], [], [], [], 0
            for i, photo in enumerate(photos):
                noisy = add_noise(photo, spec, seed=1000 + i)
                outputs = passes(model.denoiser, noisy, args.passes, args.ensemble)
                scores[i] = [capped_psnr(photo, out) for out in outputs]
                # its passes as served, without the look for leftover impulses
                result = model.denoiser.denoise(DecodedImage(noisy), args.ensemble, leftovers=False)
                served.append(capped_psnr(photo, result.image.pixels))
                twice += result.passes == 2
                first = pass_changes(noisy, outputs[0], 255)  # what the rule reads
                changed.append(first.values / first.size)
                away.append(first.away / first.size)
                if noisy.ndim == 3:
                    per_pixel.append(first.per_pixel)
            gain = scores[:, 1] - scores[:, 0] if args.passes > 1 else np.zeros(1)
            print(f"| {label} | " + " | ".join(f"{s:.2f}" for s in scores.mean(axis=0))
                  + f" | {np.mean(served):.2f} ({twice} of {len(photos)}) | {gain.min():+.2f} / {gain.max():+.2f} | "
                  f"{spread(changed)} | {spread(away)} | {spread(per_pixel)} |", flush=True)


if __name__ == "__main__":
    main()
