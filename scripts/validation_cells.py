"""Where a blind stage gains and loses: `fit`'s validation patches by case and group of photos together,
with the detector's hits and false alarms in each cell, for several weights side by side.

Why: `fit` reports its validation by case and by group apart, and stop 28 found every variant of the
blind stage losing on the per-pixel groups. Which cases lose there, and whether the detector or the
restoration loses them, a cell of both answers: the loss sat in random-valued and near-extreme impulses
on per-pixel noise, where a detector trained on the restoration loss missed more impulses and one trained
on JPEG patches at the 10-level label touched three times as many clean values (docs/model-design.md,
stop 29).

    python scripts/validation_cells.py --run runs/s28-floor01-8x --weights models/blind-unet.onnx \
        runs/s28-floor01-8x/last.weights.h5

Per weights and cell: mean PSNR (rounded uint8 outputs, capped at 60 dB, as `fit`'s validation), the
share of the values the noise moved by more than the recipe's `label_threshold` that the model fills
(decision at the top of its dead zone or above: "found"), and the share of the other values it touches
at all (decision above the zone's bottom: "false"). A development measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import numpy as np


def detection_cells(decide, noisy: np.ndarray, clean: np.ndarray, cells: list[str], threshold: float,
                    zone: tuple[float, float]) -> dict[str, tuple[float, float]]:
    """Per cell: (share of the moved values decided at `zone[1]` or above, share of the others above
    `zone[0]`), each a mean over the cell's patches; `decide` maps a float batch to decisions in [0, 1],
    `clean` is uint8 as the validation sets hold it."""
    found: dict[str, list[float]] = {}
    false: dict[str, list[float]] = {}
    for i in range(0, len(noisy), 32):
        for k, d in enumerate(np.asarray(decide(noisy[i : i + 32])), start=i):
            moved = np.abs(noisy[k] - clean[k] / 255.0) > threshold
            if moved.any():
                found.setdefault(cells[k], []).append(float((d[moved] >= zone[1]).mean()))
            if not moved.all():
                false.setdefault(cells[k], []).append(float((d[~moved] > zone[0]).mean()))
    return {cell: (float(np.mean(found.get(cell, [np.nan]))), float(np.mean(false.get(cell, [np.nan]))))
            for cell in dict.fromkeys(cells)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, type=Path, help="a fit run of a blind model: its photos, seed and recipe")
    parser.add_argument("--weights", required=True, nargs="+", type=Path,
                        help="weights to compare: .weights.h5 files, run folders or exported .onnx models")
    args = parser.parse_args()

    import keras

    from training import architectures
    from training.architectures import blind_unet
    from training.fit import FitConfig, run_real_world_validation, score_validation
    from training.init_weights import start_weights

    config = FitConfig(**json.loads((args.run / "state.json").read_text())["config"]).resolved()
    recipe = config.effective_recipe()
    images, noisy, clean, labels, groups = run_real_world_validation(config)
    cases = list(dict.fromkeys(labels))
    cells = [f"{case} {group}" for case, group in zip(labels, groups)]
    order = sorted(set(cells), key=lambda cell: (cases.index(cell.split(" ")[0]), cell))
    module = architectures.get(config.arch)
    zone = blind_unet.DEAD_ZONE  # the blind architectures' decision (`blind_unet.BlindPrefill`)
    print(f"{len(images)} held-out photos of {args.run} (seed {config.seed}), {len(noisy)} patches; label "
          f"{recipe.label_threshold}, found: decision >= {zone[1]}, false: > {zone[0]}")
    for weights in args.weights:
        model = module.build()
        start_weights(model, config.arch, weights)
        # the cells as the groups: by case as `fit` (its mean), by cell beside it
        val = score_validation(partial(model, training=False), noisy, clean, labels, cells, 60.0)
        decide = keras.Model(model.input, model.get_layer("decision").output)
        detection = detection_cells(partial(decide, training=False), noisy, clean, cells,
                                    recipe.label_threshold, zone)
        print(f"\n{weights}: mean {val.mean:.2f}\n| case | group | PSNR | found | false |\n|---|---|---:|---:|---:|")
        for cell in order:
            case, group = cell.split(" ")
            found, false = detection[cell]
            print(f"| {case} | {group} | {val.by_group[cell]:.2f} | {found:.3f} | {false:.4f} |", flush=True)


if __name__ == "__main__":
    main()
