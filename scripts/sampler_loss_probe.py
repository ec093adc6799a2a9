"""Do the two samplers draw the same training batches? The blind loss of one model on each, patch by patch.

Why: stop 26 ran the blind model's next stage for 250 steps twice per seed, TensorFlow with the host
sampler (`training/data.py`, Pillow's JPEG) and JAX with the device sampler (`training/device_sampler.py`,
`training/device_jpeg.py`). Validation came out equal or close, but the epoch's mean training loss was
higher on the device's batches at both seeds (1.54 against 1.20, 1.87 against 1.45; docs/gpu.md). A
GPU trip trains on the device's batches only, so a difference in what they hold must be found here,
on the CPU, first. This scores one fixed model (no training) on N batches from each sampler with the
training loss's own terms (`training.fit.blind_terms`), patch by patch: the restoration error
(a patch's sum of absolute errors over its corrupted values plus one, heavy-tailed) and the detector's
cross-entropy, by kind of patch (clean target, or noisy), with what the patches hold (corrupted share,
share of the target at 0 or 255).

    KERAS_BACKEND=jax python scripts/sampler_loss_probe.py --batches 60   # stop 27's table (docs/gpu.md)
    KERAS_BACKEND=jax python scripts/sampler_loss_probe.py --recipe error_floor=0.01   # with the loss's floor

A development measurement, not a test; the device sampler's statistics are tested in
tests/test_device_sampler.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np


def per_patch(noisy: np.ndarray, clean: np.ndarray, predicted: np.ndarray, threshold: float,
              error_floor: float) -> dict[str, np.ndarray]:
    """The blind loss's two terms per patch (`training.fit.blind_terms`, the loss's own code), and what the
    patch holds."""
    from training.fit import blind_terms

    error, bce = (np.asarray(t) for t in blind_terms(np.concatenate([clean, noisy], axis=-1), predicted,
                                                      threshold, error_floor))
    corrupted = np.abs(noisy - clean) > threshold
    axes = (1, 2, 3)
    return {"error": error, "bce": bce, "corrupted": corrupted.mean(axis=axes),
            "extreme": ((clean <= 0.0) | (clean >= 1.0)).mean(axis=axes),
            "clean_target": ~corrupted.any(axis=axes),
            "grey": (np.abs(clean - clean[..., :1]).max(axis=axes) == 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="blind-unet-chroma")
    parser.add_argument("--init", default="models/blind-unet.onnx")
    parser.add_argument("--data", nargs="+", default=["../shared/data/CBSD432", "../shared/data/Train400"])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recipe", action="append", default=["label_threshold=0.04", "train_only="],
                        help="KEY=VALUE recipe overrides, added to the default: stop 26's trip recipe, without the floor")
    args = parser.parse_args()

    import jax
    import keras

    from training import architectures
    from training.data import PatchSampler, load_rgb, split_folders
    from training.device_sampler import DevicePhotos, sample
    from training.fit import BLIND_BCE_WEIGHT, FitConfig
    from training.init_weights import start_weights

    assert keras.backend.backend() == "jax", "the device sampler runs under JAX (KERAS_BACKEND=jax)"
    module = architectures.get(args.arch)
    recipe = module.RECIPE.with_overrides(dict(item.split("=", 1) for item in args.recipe))
    model = module.build()
    start_weights(model, args.arch, Path(args.init))
    trained = module.training_model(model, "blind")
    predict = jax.jit(lambda x: trained(x, training=True))

    train_files, _ = split_folders(args.data, FitConfig.val_fraction, args.seed)  # the photos `fit` trains on
    images = [load_rgb(p) for p in train_files]
    host = PatchSampler(images, recipe, args.patch, args.batch, args.seed)
    photos = DevicePhotos.upload(images, args.patch)
    draw = jax.jit(lambda key: sample(key, photos, recipe, args.patch, args.batch))
    key = jax.random.key(args.seed + 1)

    results: dict[str, dict[str, list]] = {"host": {}, "device": {}}
    for _ in range(args.batches):
        batch = host.next_batch()
        key, k = jax.random.split(key)
        noisy_d, clean_d = (np.asarray(a) for a in draw(k))
        for name, (noisy, clean) in (("host", (batch.noisy, batch.clean)), ("device", (noisy_d, clean_d))):
            predicted = np.asarray(predict(noisy))
            for field, values in per_patch(noisy, clean, predicted, recipe.label_threshold, recipe.error_floor).items():
                results[name].setdefault(field, []).append(values)

    print(f"{args.arch} from {args.init}; {args.batches} batches of {args.batch} patches of {args.patch}, seed "
          f"{args.seed}; recipe label_threshold={recipe.label_threshold}, error_floor={recipe.error_floor}, jpeg_share={recipe.jpeg_share}")
    # Every patch has as many values, so the loss (a mean over patches of each term) is the terms' means.
    pooled = {name: {f: np.concatenate(v) for f, v in fields.items()} for name, fields in results.items()}
    rows = []
    for name, r in pooled.items():
        clean, error = r["clean_target"], r["error"]
        loss = error.mean() + BLIND_BCE_WEIGHT * r["bce"].mean()
        rows.append((name, loss, error.mean(), BLIND_BCE_WEIGHT * r["bce"].mean(),
                     np.percentile(error, 50), np.percentile(error, 99), error.max(),
                     clean.mean(), error[clean].mean() if clean.any() else float("nan"),
                     error[~clean].mean(), r["corrupted"][~clean].mean(), r["extreme"].mean(),
                     r["extreme"][clean].mean() if clean.any() else float("nan")))
    head = ("sampler", "loss", "error", f"{BLIND_BCE_WEIGHT} bce", "error p50", "p99", "max", "clean share", "error clean",
            "error noisy", "corrupted (noisy)", "0/255 in target", "0/255 (clean)")
    print("| " + " | ".join(head) + " |\n|---|" + "---:|" * (len(head) - 1))
    for row in rows:
        print("| " + row[0] + " | " + " | ".join(f"{v:.4f}" for v in row[1:]) + " |")

    # Clean-target patches (the heavy tail) by what they hold: grey or colour, with or without 0/255.
    print("\nclean-target patches: count / mean error")
    print("| sampler | grey, no 0/255 | grey, 0/255 | colour, no 0/255 | colour, 0/255 |\n|---|---:|---:|---:|---:|")
    for name, r in pooled.items():
        cells = []
        for grey in (True, False):
            for extreme in (False, True):
                pick = r["clean_target"] & (r["grey"] == grey) & ((r["extreme"] > 0) == extreme)
                cells.append(f"{pick.sum()} / {r['error'][pick].mean():.3f}" if pick.any() else "0 / -")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
