#!/usr/bin/env python
"""A model's PSNR on photos it trained on against the held-out photos of the same folder.

Tells what limits a model: a large gap (training photos far better) means it memorises and more
data or regularisation would help; no gap means it underfits, so only more capacity or more steps
can help. Two sets of photos differ in difficulty too, so a classical filter that learnt nothing
(`--control`) is scored on the same photos: the model's gap minus the control's is what the model
memorised. The split is the training run's own (seed and fraction as `python -m training fit` made
it); noise is seeded per photo as in the evaluation. Validation photos are training-set photos held
out, never the test sets.

    python scripts/fit_gap.py --data ../shared/data/Train400 --densities 0.3 0.5 --limit 40
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
from app.cards import read_card
from app.noise import salt_and_pepper
from app.quality import psnr
from training.baselines import METHODS
from training.commands import flag_value
from training.data import list_images, split_files
from training.evaluate import load_as_stored, model_method, noise_seed


def mean_psnr(files: list[Path], denoise, density: float, noise: str) -> float:
    scores = []
    for path in files:
        clean = load_as_stored(path)
        noisy = salt_and_pepper(clean, density, 0.5, per_channel=noise == "per-channel",
                                seed=noise_seed(path.name, density, noise))
        scores.append(psnr(clean, denoise(noisy)))
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="one training folder")
    parser.add_argument("--model", default=str(ROOT / "models" / "prefill-unet.onnx"))
    parser.add_argument("--val-fraction", type=float, help="default: the model card's training split")
    parser.add_argument("--seed", type=int, help="default: the model card's training seed")
    parser.add_argument("--densities", type=float, nargs="+", default=[0.3, 0.5])
    parser.add_argument("--noise", choices=["per-pixel", "per-channel"], default="per-pixel")
    parser.add_argument("--limit", type=int, default=40, help="photos of each side (training and held out)")
    parser.add_argument("--control", default="switching mean", choices=sorted(METHODS), help="a method that learnt nothing")
    args = parser.parse_args()

    card = read_card(Path(args.model))
    command = card["training"]["command"]
    seed = args.seed if args.seed is not None else int(flag_value(command, "--seed"))
    fraction = args.val_fraction or float(flag_value(command, "--val-fraction"))
    trained, held_out = split_files(list_images(Path(args.data)), fraction, seed)
    trained, held_out = trained[: args.limit], held_out[: args.limit]
    denoise = model_method(Path(args.model))
    print(f"{Path(args.model).stem} on {Path(args.data).name} ({args.noise} noise): {len(trained)} training "
          f"and {len(held_out)} held-out photos (split seed {seed}, fraction {fraction})")
    for density in args.densities:
        gaps = {}
        for name, method in ((Path(args.model).stem, denoise), (args.control, METHODS[args.control])):
            seen, unseen = (mean_psnr(files, method, density, args.noise) for files in (trained, held_out))
            gaps[name] = seen - unseen
            print(f"density {density:.2f} {name:>20s}: trained-on {seen:.2f} dB, held out {unseen:.2f} dB, gap {seen - unseen:+.2f} dB")
        model_gap, control_gap = gaps.values()
        print(f"density {density:.2f}: memorised (model gap - control gap) {model_gap - control_gap:+.2f} dB")


if __name__ == "__main__":
    main()
