#!/usr/bin/env python
"""The service on noise off the tables' grid: issue 15 scores models "on colour photos from other sources, with
other qualities, spreads and densities of the same kinds", so this runs such uploads through `model=auto` (the
service's own path, `app.pipeline.denoise_auto`) and through each model by name, against the best classical
filter of each photo (training/baselines.py, as the tables' "best classical (per image)" row).

  python scripts/unseen_checks.py --data ../shared/data/CBSD68 --limit 8 --int8   # about 5 minutes
  python scripts/unseen_checks.py --light --data ../shared/data/CBSD68 --int8     # all 68 photos, about 3 minutes
  python scripts/unseen_checks.py --tables    # which committed tables' uploads are under 5%, about 1 minute
  python scripts/unseen_checks.py --clipped --data ../shared/data/CBSD68   # blind-unet - default by clipping

The first table: lossy WebP saves (files, and PNGs of their pixels), JPEG qualities and densities the tables do
not hold, other spreads, salt alone, whole-pixel noise, random-valued noise saved as JPEG, and grey photos in
colour files (a WebP, which has no grey mode, and an RGB JPEG). What it found in stop
40: auto ran `blind-unet` for noise saved as WebP (0.8-2.5 dB under the best classical filter) where `jpeg-unet`
is the model for it (2.3-2.7 dB over), and returned the default's output, the noise left in, for light
random-valued noise on a third of the photos (`app.pipeline.AUTO_MIN_IMPULSES`).

`--light`: why auto asks for the second model at any estimate (`app.pipeline.AUTO_MIN_IMPULSES`): the impulse
estimate (`app.noise.impulse_estimate`) of clean photos and of light noise, how far `blind-unet`'s output is
from the default's (auto keeps the default's output where it is within KEEP_FIRST_DB), what each returns,
and auto's model time (every model it ran) over the default's alone; exact salt-and-pepper too, which the
default takes (auto returned `blind-unet`'s output there, 0.3-1.9 dB worse, until stop 41). `--tables`: the
uploads of each committed table in docs/eval that holds `auto` rows (remade from its recorded command, as
`training evaluate` makes them) whose estimate is under the hint's 5%: the only ones whose `auto` cells a
change of auto's floor can move.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np
from auto_checks import upload  # the bytes a user would send: one implementation for both scripts
from PIL import Image

from app import pipeline
from app.noise import NoiseSpec, impulse_estimate
from app.quality import psnr
from app.registry import AUTO, ModelRegistry
from app.settings import MAX_PIXELS, REPO_MODELS, Settings
from training.evaluate import PSNR_CAP, committed_uploads, table_photos

EVAL = Path(__file__).resolve().parents[1] / "docs" / "eval"

# (label, noise and its lossy save, the upload: "file" for the saved file itself, "png" for a PNG of its pixels)
CASES = (
    ("salt-and-pepper 0.2 then WebP 80, a WebP file", NoiseSpec(density=0.2, webp_quality=80), "file"),
    ("salt-and-pepper 0.2 then WebP 80, a PNG of it", NoiseSpec(density=0.2, webp_quality=80), "png"),
    ("salt-and-pepper 0.3 then WebP 50, a WebP file", NoiseSpec(density=0.3, webp_quality=50), "file"),
    ("random-valued 0.1 then WebP 80, a WebP file", NoiseSpec("random-valued", 0.1, webp_quality=80), "file"),
    ("near-extreme 0.2 then WebP 95, a WebP file", NoiseSpec("impulse-range", 0.2, webp_quality=95), "file"),
    ("clean, WebP 80 (against itself)", NoiseSpec(density=0.0, webp_quality=80), "file"),
    ("salt-and-pepper 0.1 then JPEG 50, a JPEG file", NoiseSpec(density=0.1, jpeg_quality=50), "file"),
    ("salt-and-pepper 0.05 then JPEG 95, a JPEG file", NoiseSpec(density=0.05, jpeg_quality=95), "file"),
    ("salt-and-pepper 0.7 then JPEG 90, a JPEG file", NoiseSpec(density=0.7, jpeg_quality=90), "file"),
    ("random-valued 0.1 then JPEG 90, a JPEG file", NoiseSpec("random-valued", 0.1, jpeg_quality=90), "file"),
    ("salt alone 0.2, PNG", NoiseSpec(density=0.2, salt_ratio=1.0), "png"),
    ("salt-and-pepper 0.2 whole pixels, PNG", NoiseSpec(density=0.2, per_channel=False), "png"),
    ("salt-and-pepper 0.01, PNG", NoiseSpec(density=0.01), "png"),
    ("near-extreme spread 10, 0.2, PNG", NoiseSpec("impulse-range", 0.2, spread=10), "png"),
    ("near-extreme spread 60, 0.2, PNG", NoiseSpec("impulse-range", 0.2, spread=60), "png"),
    ("random-valued 0.05, PNG", NoiseSpec("random-valued", 0.05), "png"),
    ("random-valued 0.15 whole pixels, PNG", NoiseSpec("random-valued", 0.15, per_channel=False), "png"),
    ("random-valued 0.5, PNG", NoiseSpec("random-valued", 0.5), "png"),
    ("grey in colour: salt-and-pepper 0.2 then WebP 80, a WebP file",
     NoiseSpec(density=0.2, per_channel=False, webp_quality=80), "file"),
    ("grey in colour: salt-and-pepper 0.1 then JPEG 90, an RGB JPEG file",
     NoiseSpec(density=0.1, per_channel=False, jpeg_quality=90), "file"),
)
GREY_IN_COLOUR = "grey in colour:"  # the photo made grey, in three equal channels (WebP has no grey mode)
LIGHT = (
    ("clean", NoiseSpec(density=0.0)),
    ("random-valued 0.01", NoiseSpec("random-valued", 0.01)),
    ("random-valued 0.02", NoiseSpec("random-valued", 0.02)),
    ("random-valued 0.05", NoiseSpec("random-valued", 0.05)),
    ("near-extreme 0.02", NoiseSpec("impulse-range", 0.02)),
    # exact salt-and-pepper, which the default takes: auto must return its output (stop 41)
    ("salt-and-pepper 0.005", NoiseSpec(density=0.005)),
    ("salt-and-pepper 0.01", NoiseSpec(density=0.01)),
    ("salt-and-pepper 0.02", NoiseSpec(density=0.02)),
    ("salt-and-pepper 0.05", NoiseSpec(density=0.05)),
    ("salt-and-pepper 0.02, whole pixels", NoiseSpec(density=0.02, per_channel=False)),
)
NAMED = ("prefill-unet", "blind-unet", "jpeg-unet")


def mean(scores: list[float]) -> float:
    """The mean PSNR as the tables take it: identical images (inf) count as PSNR_CAP (100 dB)."""
    return float(np.mean(np.minimum(scores, PSNR_CAP)))


def best_classical(reference: np.ndarray, noisy: np.ndarray) -> float:
    """The best PSNR among the classical filters on this photo (the tables' "best classical (per image)")."""
    from training.baselines import METHODS

    return max(psnr(reference, method(noisy)) for name, method in METHODS.items() if name != "noisy input")


def unseen_table(photos: list[np.ndarray], registry: ModelRegistry) -> None:
    print(f"| upload | auto | models auto ran (uploads) | {' | '.join(NAMED)} | best classical (per image) "
          "| auto minus best classical: mean (least of a photo) |")
    print(f"|---|---:|---|{'---:|' * len(NAMED)}---:|---:|")
    for label, spec, kind in CASES:
        scores: dict[str, list[float]] = {name: [] for name in ("auto", *NAMED, "classical")}
        ran: Counter[str] = Counter()
        for i, pixels in enumerate(photos):
            if label.startswith(GREY_IN_COLOUR):
                pixels = np.asarray(Image.fromarray(pixels).convert("L").convert("RGB"))
            data, sent = upload(pixels, spec, kind, seed=i)
            reference = sent if spec.density == 0 else pixels
            chosen = pipeline.denoise_auto(data, registry, MAX_PIXELS)
            ran[pipeline.runs_text(chosen)] += 1
            scores["auto"].append(psnr(reference, chosen.result.image.pixels))
            for name in NAMED:
                scores[name].append(psnr(reference, pipeline.denoise(data, registry.get(name).denoiser,
                                                                     MAX_PIXELS).image.pixels))
            scores["classical"].append(best_classical(reference, sent))
        gaps = np.minimum(scores["auto"], PSNR_CAP) - np.minimum(scores["classical"], PSNR_CAP)
        named = " | ".join(f"{mean(scores[name]):.2f}" for name in NAMED)
        runs = ", ".join(f"{what} ({count})" for what, count in ran.most_common())
        print(f"| {label} | **{mean(scores['auto']):.2f}** | {runs} | {named} | {mean(scores['classical']):.2f} "
              f"| {gaps.mean():+.2f} ({gaps.min():+.2f}) |", flush=True)


def light_table(photos: list[np.ndarray], registry: ModelRegistry) -> None:
    second = registry.get(pipeline.REAL_WORLD_MODEL)
    default = registry.get(None)
    print(f"| noise, PNG | estimate: least, median, most | under {pipeline.LEFT_ALONE_MIN_IMPULSES:.0%} "
          f"(the hint's floor) | {second.name} against {default.name}: least, most (dB) | {default.name} | "
          f"{second.name} | auto | auto's model time / the default's (median) |")
    print("|---|---|---:|---|---:|---:|---:|---:|")
    for label, spec in LIGHT:
        estimates, changes, times = [], [], []
        scores: dict[str, list[float]] = {"default": [], "second": [], "auto": []}
        for i, pixels in enumerate(photos):
            data, sent = upload(pixels, spec, "png", seed=i)
            reference = sent if spec.density == 0 else pixels
            estimates.append(impulse_estimate(sent).fraction)
            restored = pipeline.denoise(data, second.denoiser, MAX_PIXELS).image.pixels
            alone = pipeline.denoise(data, default.denoiser, MAX_PIXELS)
            changes.append(psnr(alone.image.pixels, restored))  # what auto's KEEP_FIRST_DB reads
            scores["second"].append(psnr(reference, restored))
            scores["default"].append(psnr(reference, alone.image.pixels))
            chosen = pipeline.denoise_auto(data, registry, MAX_PIXELS).result
            scores["auto"].append(psnr(reference, chosen.image.pixels))
            times.append(chosen.seconds / alone.seconds)
        under = sum(e < pipeline.LEFT_ALONE_MIN_IMPULSES for e in estimates)
        print(f"| {label} | {min(estimates):.3f}, {np.median(estimates):.3f}, {max(estimates):.3f} | {under} of "
              f"{len(photos)} | {min(changes):.1f}, {max(changes):.1f} | {mean(scores['default']):.2f} | "
              f"{mean(scores['second']):.2f} | **{mean(scores['auto']):.2f}** | {np.median(times):.2f} |", flush=True)


def table_uploads_under_the_floor(table: Path, data_root: str) -> dict[tuple[str, float], int]:
    """{(noise mode, density): uploads whose estimate is under LEFT_ALONE_MIN_IMPULSES} for a committed table,
    its uploads remade from its recorded command (`training.evaluate.committed_uploads`), as the table's were."""
    counts: dict[tuple[str, float], int] = {}
    for _, mode, density, _, noisy in committed_uploads(table, data_root)[1]:
        under = impulse_estimate(noisy).fraction < pipeline.LEFT_ALONE_MIN_IMPULSES
        counts[mode, density] = counts.get((mode, density), 0) + under
    return counts


CLIPPED_BINS = (0.0, 0.001, 0.01, 0.05, 1.01)


def clipped_table(data: Path, tables: Path = EVAL) -> None:
    """Stop 41: is there a photo whose clipped regions tell that `blind-unet` is the better model there, as it is
    on the x1.6-clipped photos? Per committed table and density, the per-photo PSNR of blind-unet-int8 minus
    prefill-unet-int8 (docs/eval's per_image.csv, per channel), binned by the clean photo's share of values at 0
    or 255 inside solid clipped blocks (what the models' rule keeps as content: `app.impulse_share`)."""
    import csv

    from app.impulse_share import solid_rule_shares

    print("| table | density | clipped share | photos "
          "| blind-unet-int8 minus prefill-unet-int8: mean, least, most (dB) |")
    print("|---|---:|---|---:|---|")
    for table, exposure in (("CBSD68", 1.0), ("CBSD68-exposure1.6", 1.6)):
        shares = {}
        for path, pixels in zip(*table_photos(data, 0, exposure)):  # the table's own photos, as it made them
            flagged = float(solid_rule_shares(pixels, 255).sum()) / 3  # isolated extremes, of all values
            shares[path.name] = max(0.0, pipeline.extremes_fraction(pixels) - flagged)  # float error: not below 0
        scores: dict[tuple[str, str], dict[str, float]] = {}
        with open(tables / table / "per_image.csv") as f:
            for row in csv.DictReader(f):
                if row["noise"] == "per-channel":
                    scores.setdefault((row["density"], row["image"]), {})[row["method"]] = min(float(row["psnr"]),
                                                                                               PSNR_CAP)
        for density in ("0.0", "0.1", "0.3"):
            gaps = [(shares[image], s["blind-unet-int8"] - s["prefill-unet-int8"])
                    for (d, image), s in scores.items() if d == density]
            for low, high in pairwise(CLIPPED_BINS):
                held = [gap for share, gap in gaps if low <= share < high]
                if held:
                    print(f"| {table} | {density} | {low:g}-{min(high, 1):g} | {len(held)} | {np.mean(held):+.2f}, "
                          f"{min(held):+.2f}, {max(held):+.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a folder of colour photos (default: scikit-image's)")
    parser.add_argument("--limit", type=int, default=0, help="the first N photos (0: all)")
    parser.add_argument("--light", action="store_true", help="clean photos and light noise: auto's estimate floor")
    parser.add_argument("--int8", action="store_true", help="let the int8 twins answer, as on the CPU")
    parser.add_argument("--tables", action="store_true", help="the committed tables' uploads under the hint's 5%%")
    parser.add_argument("--data-root", default="../shared/data", help="with --tables: where the test sets are")
    parser.add_argument("--clipped", action="store_true", help="blind-unet against the default by clipped share")
    args = parser.parse_args()
    if args.clipped:
        clipped_table(args.data)
        return
    if args.tables:
        for table in sorted(p for p in EVAL.iterdir() if (p / "summary.json").exists()):
            summary = json.loads((table / "summary.json").read_text())["summary"]
            if not any(AUTO in methods for methods in summary.values()):
                continue  # no auto rows to move
            under = table_uploads_under_the_floor(table, args.data_root)
            cells = "; ".join(f"{mode} {density:g}: {n}" for (mode, density), n in under.items() if n)
            print(f"{table.name}: {cells or 'none'}", flush=True)
        return
    if args.data is None:
        from skimage import data

        photos = [getattr(data, n)()[..., :3] for n in ("astronaut", "coffee", "chelsea", "rocket")]
    else:
        files = sorted(p for p in args.data.iterdir() if p.suffix.lower() in (".png", ".jpg", ".bmp"))
        photos = [np.asarray(Image.open(p).convert("RGB")) for p in files]
    photos = photos[: args.limit or None]
    registry = ModelRegistry(Settings(models_dir=REPO_MODELS, default_model=None, prefer_int8=args.int8))
    registry.load()
    registry.warm_up()
    print(f"{len(photos)} photos from {args.data or 'scikit-image'}{', int8 twins' if args.int8 else ''}; mean PSNR "
          "(dB) against the clean photo (a clean upload: against itself; identical: 100)\n")
    (light_table if args.light else unseen_table)(photos, registry)


if __name__ == "__main__":
    main()
