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
  python scripts/share_checks.py --slack 1 2 3 4 5  # held-out photos: p lowered to the noise's (stop 46)
  python scripts/share_checks.py --k-changes         # which committed tables' photos that change moves (stop 46)

`--slack` (stop 46) compares, on held-out training photos (split as `fit` splits them; never a test photo),
the solid rule's share (what the service fed until stop 45) with `photo_shares` at each slack: the mean PSNR
with the former, then each slack's mean gain (least of a photo). Each photo goes through the float model once
(one tile; no second pass or look), with the seeds the tables use.

`--k-changes` (stop 46) remakes every upload of every committed table (docs/eval/*/summary.json, by its
command) and counts, per cell, the photos where `photo_shares` gives another k than the solid rule's share
for some channel and extreme. The graphs read the share only through k (`_isolated`), so every row of a cell
with none is unchanged, for every model, its int8 twin and its x8 rows alike: only cells with some need
running again. `--score MODEL` also runs MODEL's first pass (the float model, one tile, no second pass or
look) on each photo whose k changes, with both shares, and prints the cell's mean PSNR change over all its
photos: how far its rows can move.
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
    """Median seconds of `photo_shares` (and of the solid rule's share alone) and of `model`'s whole denoise
    (the p included) on a noisy photo of `size` (WxH: scikit-image's astronaut resized, salt-and-pepper 0.1 per
    channel); then what `photo_shares` allocates at its peak."""
    import time

    from PIL import Image
    from skimage import data

    from app.imaging import DecodedImage
    from app.impulse_share import photo_shares, solid_rule_shares
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

    solid = median(lambda: solid_rule_shares(noisy, 255))
    share = median(lambda: photo_shares(noisy, 255))
    whole = median(lambda: denoiser.denoise(DecodedImage(noisy)))
    print(f"{size}: the photo's p {share:.3f} s (the solid rule's share alone {solid:.3f} s), {model}'s denoise "
          f"{whole:.2f} s with it: {share / whole:.1%} (medians of {repeats})")
    import tracemalloc

    tracemalloc.start()
    photo_shares(noisy, 255)
    print(f"{size}: the photo's p allocates {tracemalloc.get_traced_memory()[1] / 2**20:.0f} MiB at its peak "
          "(tracemalloc: numpy's and OpenCV's arrays)")
    tracemalloc.stop()


def first_pass(denoiser, noisy: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """`denoiser`'s model once on a photo that fits one tile, given `shares` as its `impulse_share` input: the
    integer result (no second pass or look)."""
    planes = noisy if noisy.ndim == 3 else np.repeat(noisy[..., None], 3, axis=2)
    out = denoiser._run_once(planes[None].astype(np.float32) / 255.0, shares=shares)[0]
    out = np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
    return out if noisy.ndim == 3 else out[..., 0]


# (group, folder, noise per channel, [(label, model, kind, density, exposure)]) for `--slack`
SLACK_CASES = (
    ("colour, per channel", "CBSD432", True, [
        ("clean", "prefill-unet", "salt-pepper", 0.0, 1.0),
        ("clean, x1.6 clipped", "prefill-unet", "salt-pepper", 0.0, 1.6),
        *[(f"salt-and-pepper {d:g}", "prefill-unet", "salt-pepper", d, 1.0) for d in (0.005, 0.02, 0.1, 0.3, 0.9)],
        *[(f"salt-and-pepper {d:g}, x1.6", "prefill-unet", "salt-pepper", d, 1.6) for d in (0.02, 0.1, 0.3, 0.5)],
        ("random-valued 0.1", "blind-unet", "random-valued", 0.1, 1.0),
        ("random-valued 0.3", "blind-unet", "random-valued", 0.3, 1.0),
        ("random-valued 0.2, x1.6", "blind-unet", "random-valued", 0.2, 1.6),
    ]),
    ("colour, per pixel", "CBSD432", False, [
        (f"salt-and-pepper {d:g}", "prefill-unet", "salt-pepper", d, 1.0) for d in (0.005, 0.1)]),
    ("grey", "Train400", False, [
        ("clean", "prefill-unet", "salt-pepper", 0.0, 1.0),
        ("clean, x1.6 clipped", "prefill-unet", "salt-pepper", 0.0, 1.6),
        *[(f"salt-and-pepper {d:g}", "prefill-unet", "salt-pepper", d, 1.0) for d in (0.005, 0.02, 0.1)],
        *[(f"salt-and-pepper {d:g}, x1.6", "prefill-unet", "salt-pepper", d, 1.6) for d in (0.02, 0.1)],
    ]),
)


def slack_checks(slacks: list[float], data_root: Path, photos: int) -> None:
    """The `--slack` table (see the module's docstring)."""
    from second_pass_checks import capped_psnr  # identical outputs count as 100 dB, as the tables do

    from app.impulse_share import photo_shares, solid_rule_shares
    from app.inference import Denoiser
    from training.data import split_folders
    from training.evaluate import NoiseKind, corrupt, load_as_stored, noise_seed, over_expose

    denoisers: dict[str, Denoiser] = {}
    print("| photos | case | model | solid rule's p | " + " | ".join(f"slack {s:g}" for s in slacks) + " |")
    print("|---|---|---|---:|" + "---|" * len(slacks))
    for group, folder, per_channel, cases in SLACK_CASES:
        _, held_out = split_folders([str(data_root / folder)], 0.2, 0)
        files = held_out[:photos]
        stored = [load_as_stored(f) for f in files]
        noise = "per-channel" if per_channel else "per-pixel"
        for label, model, kind, density, exposure in cases:
            denoiser = denoisers.setdefault(model, Denoiser(ROOT / "models" / f"{model}.onnx", threads=2))
            base, gains = [], [[] for _ in slacks]
            for path, photo in zip(files, stored):
                reference, noisy = corrupt(over_expose(photo, exposure), density, per_channel,
                                           noise_seed(path.name, density, noise), NoiseKind(kind))
                base.append(capped_psnr(reference, first_pass(denoiser, noisy, solid_rule_shares(noisy, 255))))
                for column, slack in zip(gains, slacks):
                    ours = first_pass(denoiser, noisy, photo_shares(noisy, 255, slack))
                    column.append(capped_psnr(reference, ours) - base[-1])
            cells = " | ".join(f"{np.mean(g):+.2f} ({np.min(g):+.2f})" for g in gains)
            print(f"| {group} ({len(files)}) | {label} | {model} | {np.mean(base):.2f} | {cells} |", flush=True)


def k_changes(score: str | None = None, tables: list[str] | None = None, data_root: Path = ROOT.parent / "shared" / "data",
              eval_dir: Path = ROOT / "docs" / "eval") -> None:
    """The `--k-changes` table (see the module's docstring): the tables in `eval_dir`, their photos found under
    `data_root` (their commands name ../shared/data)."""
    from app.impulse_share import photo_shares, solid_rule_shares
    from training.architectures.prefill_unet import KEEP_STEPS
    from training.evaluate import committed_tables

    steps = np.asarray(KEEP_STEPS, np.float32)
    denoiser = None
    if score:
        from second_pass_checks import capped_psnr  # identical outputs count as 100 dB, as the tables do

        from app.inference import Denoiser

        denoiser = Denoiser(ROOT / "models" / f"{score}.onnx", threads=2)

    def k(shares: np.ndarray) -> np.ndarray:
        return 4 + (shares.reshape(-1, 1) >= steps).sum(axis=1)

    print("| table | noise | density | photos whose k changes |" +
          (f" {score}'s output changes | its mean change (dB) |" if score else ""))
    print("|---|---|---:|---:|" + ("---:|---:|" if score else ""))
    for name, files, cases in committed_tables(eval_dir, tables, data_root):
        changed: dict[tuple[str, float], list[float]] = {}
        for _, noise, density, reference, noisy in cases:
            ours, solid = photo_shares(noisy, 255), solid_rule_shares(noisy, 255)
            cell = changed.setdefault((noise, density), [])
            if (k(ours) != k(solid)).any():
                if denoiser is None:
                    cell.append((0.0, False))
                    continue
                a, b = first_pass(denoiser, noisy, ours), first_pass(denoiser, noisy, solid)
                gain = capped_psnr(reference, a) - capped_psnr(reference, b)
                cell.append((gain, bool((a != b).any())))
        for (noise, density), moves in changed.items():
            gains = [gain for gain, _ in moves]
            mean = f" {sum(1 for _, differs in moves if differs)} | {sum(gains) / len(files):+.3f} |" if score else ""
            print(f"| {name} | {noise} | {density:g} | {len(moves)} of {len(files)} |{mean}", flush=True)


def main() -> None:
    from second_pass_checks import capped_psnr  # identical outputs count as 100 dB, as the tables do

    from app.imaging import DecodedImage
    from app.inference import Denoiser
    from training.data import list_images
    from training.evaluate import NoiseKind, corrupt, load_as_stored, noise_seed, over_expose

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+")
    parser.add_argument("--time", metavar="WxH", help="only time the photo's p against a whole denoise")
    parser.add_argument("--limit", type=int, default=0, help="photos per folder (0: all)")
    parser.add_argument("--models", nargs="+", help="only these of the cases' models")
    parser.add_argument("--slack", type=float, nargs="+", help="compare the solid rule's p with photo_shares' at these")
    parser.add_argument("--photos", type=int, default=24, help="--slack: held-out photos a group")
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--k-changes", action="store_true", help="count the committed tables' photos whose k moves")
    parser.add_argument("--score", metavar="MODEL", help="--k-changes: also MODEL's mean PSNR change per cell")
    parser.add_argument("--tables", nargs="+", help="--k-changes: only these tables (docs/eval folder names)")
    args = parser.parse_args()
    if args.k_changes:
        k_changes(args.score, args.tables, args.data_root)
        return
    if args.slack:
        slack_checks(args.slack, args.data_root, args.photos)
        return
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
                        scores[0].append(capped_psnr(reference, a))
                        scores[1].append(capped_psnr(reference, b))
                    mean = [float(np.mean(s)) for s in scores]
                    label = kind + (f" + JPEG {quality}" if quality else "")
                    print(f"| {folder.name} ({len(photos)}) | {model} | {label} | {exposure:g} | {density:g} | {changed} | "
                          f"{values / total:.2e} | {mean[0]:.3f} | {mean[1]:.3f} | {mean[0] - mean[1]:+.3f} |", flush=True)


if __name__ == "__main__":
    main()
