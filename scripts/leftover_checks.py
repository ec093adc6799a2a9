#!/usr/bin/env python
"""The look for leftover impulses after the blind model (`app.leftover_impulses`): what it gains, case by case,
on held-out training photos (split as `fit` splits them; never a test photo) and on scikit-image's colour
photos, and what its rule reads from the model's first pass.

  python scripts/leftover_checks.py --photos 8                   # about 8 minutes on 2 cores
  python scripts/leftover_checks.py --photos 16 --looks 50/0 80,70,60,50,40,30/3 80,70,60,50,40,30/0 \
      100,80,70,60,50,40,30/3 80,70,60,50,40,30/4 80,70,60,50,40/3 80,70,60,50/3   # stop 47's choice, ~12 min
  python scripts/leftover_checks.py --photos 8 --thresholds 40 50 60 --groups "colour, per channel"
  python scripts/leftover_checks.py --photos 4 --ensemble 8 --groups "colour, per channel" --only "clean" \
      "random-valued 0.02" "random-valued 0.3" "near-extreme 0.5"
  python scripts/leftover_checks.py --photos 8 --value-road-only --thresholds 50 90 --groups "colour, per channel"
  python scripts/leftover_checks.py --float --table-changes CBSD68 CBSD68-exposure1.6 CBSD68-clean-jpeg90

Each row: the mean PSNR (dB) of the model as the service runs it without the looks (its second pass where
due), and the gain of each look asked for (the shipped one marked, and the default when none is asked for),
mean and least of a photo, with the share of values it filled; the rule's choice (`leftovers_due`: photos it
looks at) and the share of values the first pass changed away from 0 and 255 (least, most), which the rule
reads; and each look's time over the model's (its passes; the photos are 481x321, so a few tiles). The gains
are those of the looks wherever they run, so the rows where the rule does not look show what they would cost
there.

`--looks LEVELS/RELATIVE[/kept]`: one look at each threshold of LEVELS, high to low, which also takes only
values whose colour difference's ROAD exceeds RELATIVE times its 5x5 median around them (0: no such test; the
service's `LEFTOVER_LEVELS` and `LEFTOVER_RELATIVE`, stop 47); with `/kept`, only on values the model left as
uploaded (stop 47's looks; since stop 48 the looks judge the values the model changed too). `--thresholds
T ...`: one look at T with no such test each, on kept values: stop 45's look at 50, as it was (the candidates
and the fills the same; tested).

`--table-changes [TABLE ...]` (stop 47): for the committed tables named (docs/eval; none: all), which cells the
looks can move, per cell the photos they run on and the mean change from stop 47's looks to the shipped ones
(`table_changes`); with `--float`, for the float model's rows.

Groups: colour photos (CBSD432's held-out share) with noise per channel and per pixel, and scikit-image's
astronaut, coffee, chelsea and rocket (from another source) per channel. The model runs as the CPU service
runs it (its int8 twin where the registry prefers it).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from second_pass_checks import capped_psnr  # identical outputs count as 100 dB, as the tables do

from app.imaging import DecodedImage, read_photo
from app.leftover_impulses import LEFTOVER_LEVELS, LEFTOVER_RELATIVE, fill_leftovers, leftovers_due
from app.noise import NoiseSpec, add_noise
from app.pass_changes import pass_changes
from app.registry import ModelRegistry
from app.settings import REPO_MODELS, Settings
from training.data import split_folders

CASES = (
    ("clean", NoiseSpec(density=0.0)),
    ("clean, JPEG 90", NoiseSpec(density=0.0, jpeg_quality=90)),
    ("salt-and-pepper 0.02", NoiseSpec(density=0.02)),
    ("salt-and-pepper 0.1", NoiseSpec(density=0.1)),
    ("salt-and-pepper 0.5", NoiseSpec(density=0.5)),
    ("salt-and-pepper 0.1 then JPEG 90", NoiseSpec(density=0.1, jpeg_quality=90)),
    ("near-extreme 0.02", NoiseSpec("impulse-range", 0.02)),
    ("near-extreme 0.1", NoiseSpec("impulse-range", 0.1)),
    ("near-extreme 0.3", NoiseSpec("impulse-range", 0.3)),
    ("near-extreme 0.5", NoiseSpec("impulse-range", 0.5)),
    ("random-valued 0.01", NoiseSpec("random-valued", 0.01)),
    ("random-valued 0.02", NoiseSpec("random-valued", 0.02)),
    ("random-valued 0.05", NoiseSpec("random-valued", 0.05)),
    ("random-valued 0.1", NoiseSpec("random-valued", 0.1)),
    ("random-valued 0.2", NoiseSpec("random-valued", 0.2)),
    ("random-valued 0.3", NoiseSpec("random-valued", 0.3)),
    ("random-valued 0.4", NoiseSpec("random-valued", 0.4)),
)

GROUPS = (  # (label, photo folder or "scikit-image", noise per channel)
    ("colour, per channel", "CBSD432", True),
    ("colour, per pixel", "CBSD432", False),
    ("scikit-image, per channel", "scikit-image", True),
)
SCIKIT_IMAGE = ("astronaut", "coffee", "chelsea", "rocket")
EVAL = Path(__file__).resolve().parents[1] / "docs" / "eval"


Look = tuple[tuple[int, ...], float, bool]  # (thresholds, relative, kept_only), as `fill_leftovers` takes them
SHIPPED: Look = (tuple(LEFTOVER_LEVELS), LEFTOVER_RELATIVE, False)
STOP_47: Look = (tuple(LEFTOVER_LEVELS), LEFTOVER_RELATIVE, True)  # the same looks, on values the model kept


def parse_look(text: str) -> Look:
    """"80,70,60/3" -> ((80, 70, 60), 3.0, False); "80,70,60/3/kept" -> (..., True)."""
    levels, relative, kept = (text.split("/") + ["", ""])[:3]
    if kept not in ("", "kept"):
        raise ValueError(f"a look is LEVELS/RELATIVE or LEVELS/RELATIVE/kept, not {text!r}")
    return tuple(int(t) for t in levels.split(",")), float(relative or 0), kept == "kept"


def look_name(look: Look) -> str:
    levels, relative, kept_only = look
    name = ("ROAD > " if len(levels) == 1 else "looks ") + ",".join(map(str, levels))
    return (name + (f", x{relative:g} around" if relative else "") + (", kept values only" if kept_only else "")
            + (" (shipped)" if look == SHIPPED else ""))


def fill_at(look: Look, upload: np.ndarray, output: np.ndarray,
            by_colour: bool = True) -> tuple[np.ndarray, int]:
    """(a copy of `output` filled by `fill_leftovers` with `look`'s thresholds, relative test and choice of
    values (those the model kept, or any), by the colour difference too or by the value's ROAD alone, how many
    values it filled)."""
    filled = output.copy()
    levels, relative, kept_only = look
    return filled, fill_leftovers(upload, filled, 255, levels=levels, relative=relative, by_colour=by_colour,
                                  kept_only=kept_only)


def group_photos(folder: str, data_root: str, count: int) -> list[np.ndarray]:
    if folder == "scikit-image":
        from skimage import data

        return [getattr(data, name)()[..., :3] for name in SCIKIT_IMAGE][:count]
    _, held_out = split_folders([f"{data_root}/{folder}"], 0.2, 0)
    return [read_photo(p) for p in held_out[:count]]


def table_changes(model, tables: list[str], data_root: str, ensemble: int, eval_dir: Path = EVAL) -> None:
    """`--table-changes` (stop 47): which committed tables' cells the looks can move. Each table's uploads are
    remade from its command (`training.evaluate.uploads`, as the table's were); the model's first pass on each
    colour upload tells whether the looks run there (`leftovers_due`); where they do, the served output (its
    second pass where due) is filled by stop 47's looks and by the shipped ones, and the cell's mean PSNR
    change over all its photos is printed. A cell with no photo looked at cannot move, for the model, its twin
    or `auto` (which returns this model's output or the default's, which never looks)."""
    from training.evaluate import committed_tables

    print(f"model: {model.name}" + (f", x{ensemble}" if ensemble > 1 else "") + "; per cell: photos the looks run "
          "on, and the mean PSNR change (dB, over all the cell's photos) from stop 47's looks to the shipped ones")
    print("\n| table | noise | density | photos looked at | mean change |\n|---|---|---:|---:|---:|")
    for name, files, cases in committed_tables(eval_dir, tables, data_root):
        cells: dict[tuple[str, float], list[float]] = {}
        for _, noise, density, reference, noisy in cases:
            cell = cells.setdefault((noise, density), [])
            if noisy.ndim != 3:  # grey: never looked at
                continue
            image = DecodedImage(noisy)
            first = model.denoiser.denoise(image, ensemble, second_pass=False, leftovers=False).image.pixels
            if not leftovers_due(pass_changes(noisy, first, 255)):
                continue
            served = model.denoiser.denoise(image, ensemble, leftovers=False).image.pixels
            before, after = fill_at(STOP_47, noisy, served)[0], fill_at(SHIPPED, noisy, served)[0]
            cell.append(capped_psnr(reference, after) - capped_psnr(reference, before))
        for (noise, density), changes in cells.items():
            print(f"| {name} | {noise} | {density:g} | {len(changes)} of {len(files)} | "
                  f"{sum(changes) / len(files):+.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="blind-unet")
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--photos", type=int, default=8, help="photos per group (scikit-image has 4)")
    parser.add_argument("--looks", nargs="*", default=[],
                        help="LEVELS/RELATIVE[/kept], e.g. 80,70,60,50,40,30/3")
    parser.add_argument("--thresholds", type=int, nargs="*", default=[],
                        help="one look at each, no relative test, on kept values (stop 45's)")
    parser.add_argument("--float", action="store_true", help="the float model, not its int8 twin")
    parser.add_argument("--only", nargs="*", default=None, help="case labels to run (default: all)")
    parser.add_argument("--groups", nargs="*", default=None, help="group labels to run (default: all)")
    parser.add_argument("--ensemble", type=int, default=1, choices=(1, 8))
    parser.add_argument("--value-road-only", action="store_true",
                        help="the value's ROAD alone, without its colour difference's: what the colour adds")
    parser.add_argument("--table-changes", nargs="*", default=None,
                        help="which committed tables' cells the looks move (names in docs/eval; none: every table)")
    args = parser.parse_args()

    registry = ModelRegistry(Settings(models_dir=REPO_MODELS, default_model=None, prefer_int8=not args.float))
    registry.load()
    registry.warm_up()
    model = registry.get(args.model)
    if args.table_changes is not None:
        return table_changes(model, args.table_changes, args.data_root, args.ensemble)
    print(f"model: {model.name}" + (f", x{args.ensemble}" if args.ensemble > 1 else "")
          + (", the look by the value's ROAD alone" if args.value_road_only else "") + f"; up to {args.photos}"
          " photos per group; mean PSNR (dB) without the look, and the look's gain (least of a photo; share of "
          "values filled)", flush=True)
    looks = [parse_look(t) for t in args.looks] + [((t,), 0.0, True) for t in args.thresholds] or [SHIPPED]
    cases = [c for c in CASES if args.only is None or c[0] in args.only]
    for group, folder, per_channel in [g for g in GROUPS if args.groups is None or g[0] in args.groups]:
        photos = group_photos(folder, args.data_root, args.photos)
        print(f"\n{group} ({folder}, {len(photos)} photos)\n")
        heads = [look_name(look) for look in looks]
        print("| case | without the look | " + " | ".join(heads) + " | the rule looks at | first pass changed "
              "away from 0 and 255: least, most | each look's time / the model's (median) |")
        print("|---|---:|" + "---|" * len(heads) + "---:|---|---:|")
        for label, spec in cases:
            spec = replace(spec, per_channel=per_channel)
            base, away, looked = [], [], 0
            cost: dict[Look, list[float]] = {look: [] for look in looks}
            gains, filled = {look: [] for look in looks}, {look: [] for look in looks}
            for i, photo in enumerate(photos):
                noisy = add_noise(photo, spec, seed=1000 + i)
                reference = noisy if spec.density == 0 else photo  # a clean upload: against itself
                first = model.denoiser.denoise(DecodedImage(noisy), args.ensemble, second_pass=False,
                                               leftovers=False).image.pixels
                result = model.denoiser.denoise(DecodedImage(noisy), args.ensemble, leftovers=False)
                served = result.image.pixels
                changes = pass_changes(noisy, first, 255)
                away.append(changes.away / changes.size)
                looked += leftovers_due(changes)
                base.append(capped_psnr(reference, served))
                for look in looks:
                    started = time.perf_counter()
                    out, count = fill_at(look, noisy, served, not args.value_road_only)
                    cost[look].append((time.perf_counter() - started) / result.seconds)
                    gains[look].append(capped_psnr(reference, out) - base[-1])
                    filled[look].append(count / out.size)
            cells = " | ".join(f"{np.mean(gains[k]):+.2f} ({min(gains[k]):+.2f}; {np.mean(filled[k]):.4f})"
                               for k in looks)
            timing = " / ".join(f"{np.median(cost[k]):.3f}" for k in looks)
            print(f"| {label} | {np.mean(base):.2f} | {cells} | {looked} of {len(photos)} | "
                  f"{min(away):.5f}, {max(away):.5f} | {timing} |", flush=True)


if __name__ == "__main__":
    main()
