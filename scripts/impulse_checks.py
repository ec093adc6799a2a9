#!/usr/bin/env python
"""The measurements behind the ROAD threshold and the X-Impulse-Fraction estimate (app/noise.py), on
256x256 crops of scikit-image's astronaut, coffee and camera (never a test set).

  python scripts/impulse_checks.py   # about a minute on 2 cores

Prints: the estimate for clean crops and each noise kind; the ROAD switching filter's mean PSNR at
thresholds 40 / 60 / 90 against a 3x3 median on random-valued noise; the estimate's time on 512x512 (the
whole photo, in row chunks), 1 MP and 24 MP (bands), the median of 7 runs.
"""

from __future__ import annotations

import time

import numpy as np
from skimage import data

from app.noise import NoiseSpec, add_noise, impulse_fraction
from app.quality import psnr
from training.baselines import median, road_switching

CROPS = {"astronaut": data.astronaut()[:256, :256], "coffee": data.coffee()[:256, :256],
         "camera": np.stack([data.camera()[:256, :256]] * 3, axis=-1)}
KINDS = [NoiseSpec(density=0.1), NoiseSpec(density=0.3), NoiseSpec(density=0.5), NoiseSpec("random-valued", 0.2),
         NoiseSpec("impulse-range", 0.3), NoiseSpec(density=0.2, jpeg_quality=90)]


def label(spec: NoiseSpec) -> str:
    return f"{spec.kind} {spec.density:g}" + (f" + JPEG {spec.jpeg_quality}" if spec.jpeg_quality else "")


def main() -> None:
    print("X-Impulse-Fraction estimate (min-max over the crops):")
    clean = [impulse_fraction(c) for c in CROPS.values()]
    print(f"  clean: {min(clean):.3f}-{max(clean):.3f}")
    for spec in KINDS:
        values = [impulse_fraction(add_noise(c, spec, seed=1)) for c in CROPS.values()]
        print(f"  {label(spec)}: {min(values):.3f}-{max(values):.3f}")
    print("ROAD switching, mean PSNR (dB) by threshold, against median 3x3:")
    for density in (0.1, 0.3):
        noisy = {n: add_noise(c, NoiseSpec("random-valued", density), seed=1) for n, c in CROPS.items()}
        scores = {t: np.mean([psnr(CROPS[n], road_switching(x, t)) for n, x in noisy.items()]) for t in (40, 60, 90)}
        base = np.mean([psnr(CROPS[n], median(x, 3)) for n, x in noisy.items()])
        print(f"  random-valued {density}: " + ", ".join(f"{t}: {v:.1f}" for t, v in scores.items())
              + f"; median 3x3: {base:.1f}")
    rng = np.random.default_rng(0)
    for name, shape in (("512x512", (512, 512, 3)), ("1 MP", (1024, 1024, 3)), ("24 MP", (4000, 6000, 3))):
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        impulse_fraction(image[:64, :64])
        seconds = []
        for _ in range(7):
            started = time.perf_counter()
            impulse_fraction(image)
            seconds.append(time.perf_counter() - started)
        print(f"estimate on {name}: {np.median(seconds) * 1000:.1f} ms (median of 7; {min(seconds) * 1000:.1f}"
              f"-{max(seconds) * 1000:.1f})")


if __name__ == "__main__":
    main()
