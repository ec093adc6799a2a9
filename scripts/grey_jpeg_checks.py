#!/usr/bin/env python
"""Which model restores a grey photo saved as JPEG after its salt-and-pepper: by the file's quality and the
upload's impulse estimate, the two things `model=auto` knows (`app.pipeline.GREY_SAVED_BOUNDARY`).

  python scripts/grey_jpeg_checks.py --data ../shared/data/Set12            # 12 grey photos, about 8 minutes on 2 cores
  python scripts/grey_jpeg_checks.py --data ../shared/data/BSD68 --limit 20 --qualities 60 75 90
  python scripts/grey_jpeg_checks.py --data ../shared/data/Set12 --format webp --qualities 10 20 30 40 50 60 75 90 \
      --densities 0 0.05 0.1 0.3 0.5                                     # lossy WebP files, about 10 minutes

Each photo (made grey) gets salt-and-pepper at each density, seeded by its index, and is saved as a JPEG file
at each quality (`scripts/auto_checks.upload`, as a user would send it); `blind-unet` and `jpeg-unet` restore
the file (the int8 twin answers for `blind-unet`, as on the CPU service), and so does `model=auto`
(`app.pipeline.denoise_auto`). PSNR against the clean photo; a clean upload (density 0) is scored against the
JPEG itself, as the tables' clean JPEG cells are. The last table gives, per quality, the estimate at which the
mean of `jpeg-unet` minus `blind-unet` changes sign (linear between the densities either side), where the rule's
boundary should lie, and the boundary the rule has.

With `--format webp` the files are lossy WebP, which has no grey mode: the outputs (colour) are scored by their
luma, as `app.noise` turns a grey photo's WebP save back to grey, and the rule's column says that no quality is
read (stop 43: `jpeg-unet` leads only at qualities of 30 and below, docs/model-design.md).

Why: until stop 42 a grey JPEG always went to `blind-unet` (stop 34 had measured quality 90 alone, where it
leads by 3.7 dB), but on BSD68 at quality 75 `jpeg-unet` led by 1.1 dB at density 0.1 (docs/eval/BSD68-sp-jpeg75).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from auto_checks import upload  # the bytes a user would send: one implementation for the check scripts

from app import pipeline
from app.noise import NoiseSpec, as_grey  # a WebP file's colour output scored by its luma, as its save
from app.quality import psnr
from app.registry import ModelRegistry
from app.settings import MAX_PIXELS, REPO_MODELS, Settings
from training.evaluate import PSNR_CAP, table_photos

MODELS = (pipeline.REAL_WORLD_MODEL, pipeline.SAVED_MODEL)


def crossing(estimates: list[float], gains: list[float]) -> str:
    """The estimate at which the gain changes sign from positive to negative, linear between the two cells
    either side (in order of estimate); "above all" or "below all" where it never does."""
    order = np.argsort(estimates)
    e, g = np.asarray(estimates)[order], np.asarray(gains)[order]
    if g[-1] > 0:
        return f"above all (> {e[-1]:.3f})"
    first = int(np.argmax(g <= 0))
    if first == 0:
        return f"below all (< {e[0]:.3f})"
    a, b = first - 1, first
    return f"{e[a] + (e[b] - e[a]) * g[a] / (g[a] - g[b]):.3f}"


def grey_jpeg_table(photos: list[np.ndarray], registry: ModelRegistry, qualities: list[int],
                    densities: list[float], fmt: str = "jpeg") -> None:
    """The two tables of the module's docstring, for grey `photos`, with `registry`'s models."""
    print(f"| quality | density | estimate (median) | {' | '.join(MODELS)} | auto | models auto returned "
          f"| {MODELS[1]} minus {MODELS[0]}: mean (least, most) |")
    print("|---:|---:|---:|---:|---:|---:|---|---|")
    crossings = []
    for quality in qualities:
        estimates, gains = [], []
        for density in densities:
            spec = NoiseSpec(density=density, **{f"{fmt}_quality": quality})
            scores: dict[str, list[float]] = {name: [] for name in (*MODELS, "auto")}
            picked: dict[str, int] = {}
            cell_estimates = []
            for i, pixels in enumerate(photos):
                data, sent = upload(pixels, spec, "file", seed=i)
                reference = as_grey(sent) if density == 0 else pixels
                for name in MODELS:
                    out = pipeline.denoise(data, registry.get(name).denoiser, MAX_PIXELS)
                    scores[name].append(min(psnr(reference, as_grey(out.image.pixels)), PSNR_CAP))
                chosen = pipeline.denoise_auto(data, registry, MAX_PIXELS)
                scores["auto"].append(min(psnr(reference, as_grey(chosen.result.image.pixels)), PSNR_CAP))
                picked[chosen.model] = picked.get(chosen.model, 0) + 1
                cell_estimates.append(chosen.result.impulse_fraction)
            gap = np.subtract(scores[MODELS[1]], scores[MODELS[0]])
            means = " | ".join(f"{np.mean(scores[name]):.2f}" for name in (*MODELS, "auto"))
            returned = ", ".join(f"{name} ({count})" for name, count in sorted(picked.items()))
            print(f"| {quality} | {density:g} | {np.median(cell_estimates):.3f} | {means} | {returned} "
                  f"| {gap.mean():+.2f} ({gap.min():+.2f}, {gap.max():+.2f}) |", flush=True)
            if density > 0:  # where the sign changes among noisy uploads: a clean one is judged on its own
                estimates.append(float(np.median(cell_estimates)))
                gains.append(float(gap.mean()))
        crossings.append((quality, crossing(estimates, gains) if estimates else "no noisy upload"))
    print(f"\n| quality | {MODELS[1]} leads below the estimate | the rule's boundary |")
    print("|---:|---|---:|")
    for quality, where in crossings:  # a WebP file's quality is not read: its grey photo always gets blind-unet
        rule = f"{pipeline.grey_saved_boundary(quality):.2f}" if fmt == "jpeg" else "none (not read)"
        print(f"| {quality} | {where} | {rule} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a folder of photos (made grey)")
    parser.add_argument("--limit", type=int, default=0, help="the first N photos (0: all)")
    parser.add_argument("--qualities", type=int, nargs="+", default=[50, 60, 65, 70, 75, 80, 85, 90, 95])
    parser.add_argument("--densities", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.3, 0.5])
    parser.add_argument("--format", choices=("jpeg", "webp"), default="jpeg", help="the lossy file the upload is")
    args = parser.parse_args()
    _, pixels = table_photos(args.data, args.limit)  # read as the tables read them
    photos = [as_grey(p) for p in pixels]  # as BSD68 from CBSD68
    registry = ModelRegistry(Settings(models_dir=REPO_MODELS, default_model=None, prefer_int8=True))
    registry.load()
    registry.warm_up()
    print(f"{len(photos)} grey photos from {args.data}, mean PSNR (dB)\n")
    grey_jpeg_table(photos, registry, args.qualities, args.densities, args.format)


if __name__ == "__main__":
    main()
