"""Choose blind-unet's decision settings on held-out training photos: the dead zone (the detector
probability above which a value is filled) and the prior shift (`blind_unet.PriorShift`), on the
validation patches of a fit run, every case of `training.data.REAL_WORLD_VALIDATION` and a clean photo
as it came (PNG), for each candidate. Prints mean PSNR by case (rounded uint8 outputs, as the tables,
capped at 60 dB per patch).

The first stage trains the detector by cross-entropy alone, which depends on neither setting, so both
are decisions picked after training, here, never on the test sets. `--measure-prior` prints the share of
corrupted values in the run's training patches (the prior the detector learned), beside its mean
probability there (of `--weights`, as the settings are).

  python scripts/blind_threshold.py --run runs/blind-unet-symmetric-stage1 --zones 0.35,0.45 0.45,0.55
  python scripts/blind_threshold.py --run runs/blind-unet-symmetric-stage1 --zones 0.45,0.55 --prior 0
  python scripts/blind_threshold.py --run runs/blind-unet-symmetric-stage1 --measure-prior
  python scripts/blind_threshold.py --run runs/s33-gpu-blind --zones 0.22,0.3 --ceiling 0.22 0.3 --cases dense
  python scripts/blind_threshold.py --run runs/s43-cpu-blind --weights models/blind-unet.onnx --zones 0.22,0.3
"""

from __future__ import annotations

import argparse
import itertools
import json
from functools import partial
from pathlib import Path

import numpy as np


def load_weights(model, run: Path, weights: str) -> None:
    """`weights`: a file in the run folder, or a shipped .onnx model (its weights, through the loader `fit
    --init` uses), so that a run's settings and the shipped model's are scored on the same patches."""
    if weights.endswith(".onnx"):
        from training.init_weights import load_initial_weights

        load_initial_weights(model, Path(weights))
    else:
        model.load_weights(run / weights)


def measure_prior(run: Path, config, train_files: list[Path], weights: str, batches: int = 40) -> None:
    """The share of values the noise moved by more than the recipe's `label_threshold`, among the values
    that are not 0 or 255, in `batches` training batches of the run's recipe (from 120 training photos),
    and the run's detector's mean probability on the same values."""
    import keras

    from training import architectures
    from training.architectures import blind_unet
    from training.data import PatchSampler, load_rgb

    recipe = config.effective_recipe()
    rng = np.random.default_rng(5)
    photos = [load_rgb(train_files[i]) for i in rng.choice(len(train_files), min(120, len(train_files)), replace=False)]
    sampler = PatchSampler(photos, recipe, config.patch, config.batch, 7)
    model = architectures.get(config.arch).build()
    load_weights(model, run, weights)
    detector = keras.Model(model.input, blind_unet.detector_probability(model))
    labels, probabilities = [], []
    for _ in range(batches):
        batch = sampler.next_batch()
        free = (batch.noisy > 0.0) & (batch.noisy < 1.0)
        labels.append((np.abs(batch.noisy - batch.clean) > recipe.label_threshold)[free].mean())
        probabilities.append(np.asarray(detector(batch.noisy, training=False))[free].mean())
    print(f"training patches ({batches} batches of {config.batch}), values not 0 or 255: corrupted share "
          f"{np.mean(labels):.3f}, the detector's mean probability {np.mean(probabilities):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a blind-unet or blind-unet-deep fit run folder")
    parser.add_argument("--zones", nargs="+", default=["0.35,0.45", "0.45,0.55"])
    parser.add_argument("--prior", type=float, nargs="+", default=None,
                        help="PriorShift's training share(s) to try; 0: no shift (default: the architecture's)")
    parser.add_argument("--prior-steps", type=int, nargs="+", default=None, help="its EM rounds (default: the architecture's)")
    parser.add_argument("--ceiling", type=float, nargs="+", default=None,
                        help="the highest share the prior shift's estimate may reach (default: the prior: only downward)")
    parser.add_argument("--cases", default=None, help="other validation cases (training.data.VALIDATION_CASES), "
                        "e.g. dense; default: the run's")
    parser.add_argument("--weights", default="best.weights.h5", help="a file in the run folder, or a .onnx model "
                        "(models/blind-unet.onnx: the shipped weights on the run's patches)")
    parser.add_argument("--measure-prior", action="store_true", help="print the training share and stop")
    args = parser.parse_args()

    from training import architectures
    from training.architectures import blind_unet
    from training.data import split_folders, validation_groups
    from training.fit import FitConfig, run_real_world_validation, score_validation

    run = Path(args.run)
    config = FitConfig(**json.loads((run / "state.json").read_text())["config"]).resolved()
    if args.measure_prior:
        train_files, _ = split_folders(config.data, config.val_fraction, config.seed, config.max_images)
        measure_prior(run, config, train_files, args.weights)
        return
    images, noisy, clean, labels, groups = run_real_world_validation(config, args.cases)
    cases = list(dict.fromkeys(labels))
    photos = clean[:: len(cases)]  # each photo's crop, as it came
    noisy = np.concatenate([noisy, photos.astype(np.float32) / 255.0])
    clean = np.concatenate([clean, photos])
    labels = labels + ["clean"] * len(photos)
    groups = groups + validation_groups(images, config.effective_recipe().grey_photos_per_pixel, 1)
    print(f"{len(images)} held-out photos, {len(noisy)} patches; zone prior rounds: "
          + " / ".join((*cases, "clean")) + " / mean; then by group of photos")
    for zone in args.zones:
        low, high = (float(v) for v in zone.split(","))
        for prior in args.prior or [blind_unet.PRIOR]:
            for steps, ceiling in itertools.product(args.prior_steps or [blind_unet.PRIOR_STEPS], args.ceiling or [None]):
                model = architectures.get(config.arch).build(dead_zone=(low, high), prior=prior or None,
                                                             prior_steps=steps, prior_ceiling=ceiling)
                load_weights(model, run, args.weights)
                val = score_validation(partial(model, training=False), noisy, clean, labels, groups, 60.0)
                shift = (f"{prior:.2f} {steps}" + (f" up to {ceiling:.2f}" if ceiling else "")) if prior else "none"
                print(f"{low:.2f}-{high:.2f} {shift}: " + " / ".join(f"{m:.2f}" for m in val.by_case.values())
                      + f" / {val.mean:.2f}; " + ", ".join(f"{g} {v:.2f}" for g, v in val.by_group.items()), flush=True)


if __name__ == "__main__":
    main()
