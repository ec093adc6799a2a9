"""Choose blind-unet's dead zone (the detector probability above which a value is filled) on held-out
training photos: the validation patches of a fit run, every case of `training.data.REAL_WORLD_VALIDATION`,
for each candidate zone. Prints mean PSNR by case (rounded uint8 outputs, as the tables).

The first stage trains the detector by cross-entropy alone, which does not depend on the zone, so the
zone is a decision threshold picked after training, here, never on the test sets.

  python scripts/blind_threshold.py --run runs/blind-unet-stage1 --zones 0.3,0.7 0.5,0.9 0.7,0.95 0.8,0.98
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a blind-unet fit run folder")
    parser.add_argument("--zones", nargs="+", default=["0.3,0.7", "0.5,0.9", "0.7,0.95", "0.85,0.98"])
    parser.add_argument("--weights", default="best.weights.h5")
    args = parser.parse_args()

    from app.quality import psnr, to_uint8
    from training.architectures import blind_unet
    from training.data import load_rgb, real_world_validation_set, split_folders
    from training.fit import FitConfig

    config = FitConfig(**json.loads((Path(args.run) / "state.json").read_text())["config"]).resolved()
    _, val_files = split_folders(config.data, config.val_fraction, config.seed, config.max_images)
    noisy, clean, cases = real_world_validation_set([load_rgb(p) for p in val_files], config.patch, config.seed + 1,
                                                   config.effective_recipe().grey_photos_per_pixel)
    print(f"{len(val_files)} held-out photos, {len(noisy)} patches; zone: " + " / ".join(cases) + " / mean")
    for zone in args.zones:
        low, high = (float(v) for v in zone.split(","))
        model = blind_unet.build(dead_zone=(low, high))
        model.load_weights(Path(args.run) / args.weights)
        scores: dict[str, list[float]] = {case: [] for case in cases}
        for i in range(0, len(noisy), 32):
            for j, p in enumerate(np.asarray(model(noisy[i : i + 32], training=False))):
                k = i + j
                scores[cases[k % len(cases)]].append(min(psnr(clean[k], to_uint8(p)), 60.0))
        means = [float(np.mean(v)) for v in scores.values()]
        print(f"{low:.2f}-{high:.2f}: " + " / ".join(f"{m:.2f}" for m in means) + f" / {np.mean(means):.2f}", flush=True)


if __name__ == "__main__":
    main()
