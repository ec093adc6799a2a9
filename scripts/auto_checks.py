#!/usr/bin/env python
"""What `model=auto` returns, upload by upload, against the default and each model by name: mean PSNR and
which models ran, on photos uploaded as a user would send them (a JPEG file where the noise was saved as
JPEG, a PNG otherwise, or a PNG of the saved pixels as the demo page's /corrupt returns them).

  python scripts/auto_checks.py --data ../shared/data/CBSD68 --limit 10   # test photos (never trained on)
  python scripts/auto_checks.py                                             # scikit-image's photos

Each upload goes through `app.pipeline.denoise_auto` and `app.pipeline.denoise`, the service's own paths,
with the shipped models (float, as the service runs them on a GPU; `--int8` for the CPU's twins). Each is
also sent to auto with the default always run first, as auto ran before stop 35 (`default_first`; the
rule for choosing as it is now): the same pixels come back (checked), and the table gives auto's model
time over that order's, the median of the uploads. The colour photos are also sent grey ("grey:" rows).
"""

from __future__ import annotations

import argparse
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from app import pipeline
from app.imaging import DecodedImage, decode, encode
from app.noise import NoiseSpec, add_noise
from app.quality import psnr
from app.registry import ModelRegistry
from app.settings import MAX_PIXELS, REPO_MODELS, Settings

# (label, noise and its lossy save, the upload: "file" for the saved file itself, "png" for a PNG of its pixels);
# a label that starts with "grey:" is sent as the grey photo (Pillow's "L" of the colour one, as BSD68 is CBSD68's)
CASES = (
    ("salt-and-pepper 0.3, PNG", NoiseSpec(density=0.3), "png"),
    ("salt-and-pepper 0.1 then JPEG 90, a JPEG file", NoiseSpec(density=0.1, jpeg_quality=90), "file"),
    ("salt-and-pepper 0.3 then JPEG 75, a JPEG file", NoiseSpec(density=0.3, jpeg_quality=75), "file"),
    ("salt-and-pepper 0.1 then JPEG 90, a PNG of it", NoiseSpec(density=0.1, jpeg_quality=90), "png"),
    ("random-valued 0.2, PNG", NoiseSpec("random-valued", 0.2), "png"),
    ("near-extreme 0.3, PNG", NoiseSpec("impulse-range", 0.3), "png"),
    ("clean, PNG", NoiseSpec(density=0.0), "png"),
    ("clean JPEG 90, a JPEG file (against itself)", NoiseSpec(density=0.0, jpeg_quality=90), "file"),
    ("grey: salt-and-pepper 0.1 then JPEG 90, a JPEG file", NoiseSpec(density=0.1, jpeg_quality=90), "file"),
    ("grey: salt-and-pepper 0.3 then JPEG 90, a JPEG file", NoiseSpec(density=0.3, jpeg_quality=90), "file"),
    ("grey: salt-and-pepper 0.3 then JPEG 75, a JPEG file", NoiseSpec(density=0.3, jpeg_quality=75), "file"),
    ("grey: salt-and-pepper 0.3, PNG", NoiseSpec(density=0.3), "png"),
    ("grey: random-valued 0.2, PNG", NoiseSpec("random-valued", 0.2), "png"),
    ("grey: clean JPEG 90, a JPEG file (against itself)", NoiseSpec(density=0.0, jpeg_quality=90), "file"),
)
NAMED = ("prefill-unet", "blind-unet", "jpeg-unet")


def upload(pixels: np.ndarray, spec: NoiseSpec, kind: str, seed: int) -> tuple[bytes, np.ndarray]:
    """(the bytes a user would send, the pixels they decode to): the saved file itself (JPEG or lossy WebP),
    whose pixels are what add_noise's re-encode returns, or a PNG of its pixels (or of the unsaved noise)."""
    if kind == "file" and spec.lossy is not None:
        fmt, quality = spec.lossy
        raw = add_noise(pixels, replace(spec, jpeg_quality=None, webp_quality=None), seed=seed)
        data, _ = encode(DecodedImage(raw), fmt, quality, lossy_webp=True)  # as add_noise's re-encode writes it
    else:
        data, _ = encode(DecodedImage(add_noise(pixels, spec, seed=seed)), "png")
    return data, decode(data, MAX_PIXELS).pixels


@contextmanager
def default_first():
    """model=auto with the default always run first, as before stop 35 (its rule for choosing unchanged)."""
    kept = pipeline._named_before_the_default
    pipeline._named_before_the_default = lambda *args: None
    try:
        yield
    finally:
        pipeline._named_before_the_default = kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a folder of colour photos (default: scikit-image's)")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--int8", action="store_true", help="let the int8 twins answer, as on the CPU")
    args = parser.parse_args()
    if args.data is None:
        from skimage import data

        photos = [getattr(data, n)()[..., :3] for n in ("astronaut", "coffee", "chelsea", "rocket")][: args.limit]
    else:
        files = sorted(p for p in args.data.iterdir() if p.suffix.lower() in (".png", ".jpg", ".bmp"))[: args.limit]
        photos = [np.asarray(Image.open(p).convert("RGB")) for p in files]
    greys = [np.asarray(Image.fromarray(photo).convert("L")) for photo in photos]
    registry = ModelRegistry(Settings(models_dir=REPO_MODELS, default_model=None, prefer_int8=args.int8))
    registry.load()
    registry.warm_up()
    default = registry.get(None).name
    print(f"{len(photos)} photos from {args.data or 'scikit-image'}; mean PSNR (dB) against the clean photo "
          "(the clean JPEG: against the upload)\n")
    print(f"| upload | auto | models auto ran (uploads) | auto's model time / the default first's (median) "
          f"| suggested model against the default (dB) | {' | '.join(NAMED)} |")
    print(f"|---|---:|---|---:|---|{'---:|' * len(NAMED)}")
    for label, spec, kind in CASES:
        scores: dict[str, list[float]] = {name: [] for name in ("auto", *NAMED)}
        ran: Counter[str] = Counter()
        moved: list[float] = []  # PSNR of the suggested model's output against the default's (KEEP_FIRST_DB)
        times: list[float] = []  # auto's model time over the default-first order's, upload by upload
        for i, pixels in enumerate(greys if label.startswith("grey:") else photos):
            data, sent = upload(pixels, spec, kind, seed=i)
            reference = sent if spec.density == 0 and spec.lossy else pixels
            chosen = pipeline.denoise_auto(data, registry, MAX_PIXELS)
            with default_first():
                before = pipeline.denoise_auto(data, registry, MAX_PIXELS)
            assert np.array_equal(before.result.image.pixels, chosen.result.image.pixels)  # the same answer
            times.append(chosen.result.seconds / before.result.seconds)
            ran[pipeline.runs_text(chosen)] += 1
            # the model auto ran besides the default (before it, after it, or alone)
            suggested = next((name for name, _ in chosen.runs if name != default), None)
            scores["auto"].append(psnr(reference, chosen.result.image.pixels))
            outputs = {registry.get(name).name: pipeline.denoise(data, registry.get(name).denoiser,
                                                                  MAX_PIXELS).image.pixels for name in NAMED}
            for name in NAMED:
                scores[name].append(psnr(reference, outputs[registry.get(name).name]))
            if suggested is not None:
                moved.append(psnr(outputs[default], outputs[suggested]))
        means = " | ".join(f"{np.mean(scores[name]):.2f}" for name in NAMED)
        runs = ", ".join(f"{what} ({count})" for what, count in ran.most_common())
        span = f"{min(moved):.1f}-{max(moved):.1f}" if moved else ""
        print(f"| {label} | **{np.mean(scores['auto']):.2f}** | {runs} | {np.median(times):.2f} | {span} | {means} |",
              flush=True)


if __name__ == "__main__":
    main()
