"""How well does the loss tell patches saved as JPEG from the others? `training.fit.saved_lossily` on the
host sampler's patches, against what each patch was given.

Why: the recipe's `reencoded_label_threshold` labels the patches saved as JPEG after the noise at another
threshold than the rest, and the loss knows only the clean and noisy patches (both samplers' batches
carry nothing else). This draws patches as `fit` does (`training.data.make_patch`, the blind recipe),
and prints the share of the noisy patches saved as JPEG and of the others that the rule calls saved.

    python scripts/reencoded_share_probe.py --patches 3000      # stop 30's figures (docs/model-design.md)

A development measurement; the rule itself is tested in tests/test_blind_unet.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["../shared/data/CBSD432", "../shared/data/Train400"])
    parser.add_argument("--patches", type=int, default=3000)
    parser.add_argument("--patch", type=int, default=96)
    parser.add_argument("--photos", type=int, default=90, help="photos drawn from, spread over the folders")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from training.architectures.blind_unet import RECIPE
    from training.data import list_images, load_rgb, make_patch
    from training.fit import saved_lossily

    files = [f for folder in args.data for f in list_images(Path(folder))]
    photos = [load_rgb(files[i]) for i in np.linspace(0, len(files) - 1, args.photos).astype(int)]
    rng = np.random.default_rng(args.seed)
    saved, said = [], []
    for _ in range(args.patches):
        noisy, clean, spec = make_patch(photos[rng.integers(len(photos))], RECIPE, args.patch, rng)
        # A clean patch saved as JPEG is its own target (nothing moved, nothing to label): left out
        if spec is not None and spec.density == 0 and spec.jpeg_quality is not None:
            continue
        saved.append(spec is not None and spec.jpeg_quality is not None)
        moved = np.abs(noisy[None].astype(np.float32) - clean[None].astype(np.float32)) / 255.0
        said.append(float(np.asarray(saved_lossily(moved)).ravel()[0]) > 0.5)
    saved, said = np.array(saved), np.array(said)
    print(f"{len(saved)} of {args.patches} patches of the blind recipe (jpeg_share {RECIPE.jpeg_share}, qualities "
          f"{RECIPE.jpeg_quality_min}..100; clean ones saved as JPEG, their own targets, left out), seed {args.seed}:")
    print(f"saved as JPEG: {saved.sum()}, called saved {said[saved].mean():.1%}")
    print(f"not saved:     {(~saved).sum()}, called saved {said[~saved].mean():.1%}")


if __name__ == "__main__":
    main()
