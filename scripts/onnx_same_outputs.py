#!/usr/bin/env python
"""Do two ONNX files of one model give the same photos back? For graph rewrites that should change only
speed (training.onnx_passes), so that a model's committed table rows hold for the rewritten file.

  python scripts/onnx_same_outputs.py /tmp/old/blind-unet.onnx models/blind-unet.onnx

Each of scikit-image's colour photos (whole, never a test set) and a grey one, clean and with every kind
of noise the tables use (exact salt-and-pepper, saved as JPEG, near-extreme, random-valued), goes
through `app.inference.Denoiser` (the service's tiles and padding) with each file's own card settings.
Prints, per case, the share of 8-bit output values that differ and the largest difference; exits 1
when any value differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from skimage import data

from app.cards import read_card
from app.imaging import DecodedImage
from app.inference import Denoiser
from app.noise import NoiseSpec, add_noise

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera")
NOISE = {
    "clean": None,
    "salt-pepper 0.3": NoiseSpec(density=0.3),
    "salt-pepper 0.7 per pixel": NoiseSpec(density=0.7, per_channel=False),
    "salt-pepper 0.3 + JPEG 90": NoiseSpec(density=0.3, jpeg_quality=90),
    "impulse-range 0.3": NoiseSpec("impulse-range", 0.3),
    "random-valued 0.2": NoiseSpec("random-valued", 0.2),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()

    def load(path: Path) -> Denoiser:
        card = read_card(path, missing_ok=True)
        return Denoiser(path, threads=2, cpu_tile_size=int(card.get("cpu_tile_size", 0)))

    before, after = load(args.before), load(args.after)
    differing = 0
    for name in PHOTOS:
        photo = getattr(data, name)()
        for label, spec in NOISE.items():
            pixels = photo if spec is None else add_noise(photo, spec, seed=5)
            a = before.denoise(DecodedImage(pixels)).image.pixels
            b = after.denoise(DecodedImage(pixels)).image.pixels
            share = float(np.mean(a != b))
            differing += int(np.count_nonzero(a != b))
            gap = int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())
            print(f"{name:10s} {label:28s} 8-bit values differing: {share:.6f} (at most {gap} levels)")
    print("identical outputs" if differing == 0 else f"{differing} values differ")
    return 0 if differing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
