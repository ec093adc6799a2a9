#!/usr/bin/env python
"""What giving a model the whole photo's p (`app.impulse_share`, stop 38) changes on the tables' photos.

The tables up to stop 37 were measured with each model taking p, the share of values the solid rule flags
(`_isolated`), from what it was given: the photo reflect-padded to a multiple of 32. Since stop 38 the
service (`app.inference.Denoiser`) gives it the photo's own p, without the padding, so tiles decide as the
whole photo does (tests/test_inference.py). On a photo that fits in one tile the two differ only where p
crosses one of `KEEP_STEPS` (salt-and-pepper 0.1 puts the salt's p near the step at 0.05). This prints,
per model and noise, how many photos come back otherwise, how many values differ, and the mean PSNR
with the photo's p (as served now) and with the padded photo's (as the tables were measured).

  python scripts/share_checks.py --data ../shared/data/CBSD68 ../shared/data/BSD68   # ~15 minutes, 2 cores
  python scripts/share_checks.py --time 6000x4000   # what the photo's p costs beside the served model's run
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# (model, noise kind, densities, exposures, JPEG quality): the table cells each model's rows are read for
CASES = (
    ("prefill-unet", "salt-pepper", (0.0, 0.1, 0.3, 0.5, 0.7, 0.9), (1.0,), None),
    ("prefill-unet", "salt-pepper", (0.0, 0.1, 0.3, 0.5), (1.6,), None),
    ("prefill-unet-int8", "salt-pepper", (0.0, 0.1, 0.3, 0.5, 0.7, 0.9), (1.0,), None),
    ("prefill-unet-int8", "salt-pepper", (0.0, 0.1, 0.3, 0.5), (1.6,), None),
    ("blind-unet", "salt-pepper", (0.0, 0.1, 0.5), (1.0, 1.6), None),
    ("blind-unet", "random-valued", (0.1, 0.2, 0.3, 0.4), (1.0, 1.6), None),
    ("blind-unet", "salt-pepper", (0.1, 0.3), (1.0,), 90),
)


def time_share(size: str, model: str = "prefill-unet-int8", repeats: int = 5) -> None:
    """Median seconds of `solid_rule_shares` and of `model`'s whole denoise (the p included) on a noisy photo of
    `size` (WxH: scikit-image's astronaut resized, salt-and-pepper 0.1 per channel)."""
    import time

    from PIL import Image
    from skimage import data

    from app.imaging import DecodedImage
    from app.impulse_share import solid_rule_shares
    from app.inference import Denoiser
    from app.noise import NoiseSpec, add_noise

    width, height = map(int, size.split("x"))
    photo = np.asarray(Image.fromarray(data.astronaut()).resize((width, height), Image.Resampling.BILINEAR))
    noisy = add_noise(photo, NoiseSpec("salt-pepper", 0.1), seed=0)
    denoiser = Denoiser(ROOT / "models" / f"{model}.onnx", threads=2)

    def median(work) -> float:
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            work()
            seconds.append(time.perf_counter() - started)
        return float(np.median(seconds))

    share = median(lambda: solid_rule_shares(noisy, 255))
    whole = median(lambda: denoiser.denoise(DecodedImage(noisy)))
    print(f"{size}: the photo's p {share:.3f} s, {model}'s denoise {whole:.2f} s with it: {share / whole:.1%} "
          f"(medians of {repeats})")


def main() -> None:
    from app.imaging import DecodedImage
    from app.inference import Denoiser
    from app.quality import psnr
    from training.data import list_images
    from training.evaluate import NoiseKind, corrupt, load_as_stored, noise_seed, over_expose

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+")
    parser.add_argument("--time", metavar="WxH", help="only time the photo's p against a whole denoise")
    parser.add_argument("--limit", type=int, default=0, help="photos per folder (0: all)")
    parser.add_argument("--models", nargs="+", help="only these of the cases' models")
    args = parser.parse_args()
    if args.time:
        time_share(args.time)
        return
    if not args.data:
        parser.error("--data or --time")
    print("| photos | model | noise | exposure | density | photos changed | values changed | PSNR photo's p | "
          "PSNR padded p | difference |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for folder in args.data:
        files = list_images(folder)[: args.limit or None]
        photos = {f.name: load_as_stored(f) for f in files}
        colour = any(p.ndim == 3 for p in photos.values())
        noise = "per-channel" if colour else "per-pixel"
        for model, kind, densities, exposures, quality in CASES:
            if args.models and model not in args.models:
                continue
            served = Denoiser(ROOT / "models" / f"{model}.onnx", threads=2, tile_size=4096)
            padded = Denoiser(ROOT / "models" / f"{model}.onnx", threads=2, tile_size=4096)
            padded.takes_share = False  # the graph's own p, over the padded photo: how the tables were made
            for exposure in exposures:
                for density in densities:
                    changed, values, total, scores = 0, 0, 0, ([], [])
                    for name, photo in photos.items():
                        clean = over_expose(photo, exposure)
                        reference, noisy = corrupt(clean, density, noise == "per-channel",
                                                   noise_seed(name, density, noise), NoiseKind(kind, 30.0, quality))
                        a = served.denoise(DecodedImage(noisy)).image.pixels
                        b = padded.denoise(DecodedImage(noisy)).image.pixels
                        differ = int((a != b).sum())
                        changed, values, total = changed + bool(differ), values + differ, total + a.size
                        scores[0].append(min(psnr(reference, a), 100.0))
                        scores[1].append(min(psnr(reference, b), 100.0))
                    mean = [float(np.mean(s)) for s in scores]
                    label = kind + (f" + JPEG {quality}" if quality else "")
                    print(f"| {folder.name} ({len(photos)}) | {model} | {label} | {exposure:g} | {density:g} | {changed} | "
                          f"{values / total:.2e} | {mean[0]:.3f} | {mean[1]:.3f} | {mean[0] - mean[1]:+.3f} |", flush=True)


if __name__ == "__main__":
    main()
