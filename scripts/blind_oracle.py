"""How far detection alone can take the shipped default on real-world impulse noise (issue 15).

`prefill-unet` restores exactly the values it sees as impulses, the exact 0/255 ones. Setting the values
a detector flags to 0 or 255 (pepper below their 3x3 median, salt above) hands that detector's decision
to the shipped model unchanged, so each row here is "this detector + the default's fill and U-Net":
- `as is`: no detector (what the service does today with these photos);
- `truth`: the values the noise moved by more than the blind recipe's `label_threshold` (a perfect
  detector: the ceiling of any detector in front of this U-Net);
- `ROAD > t`: the classical detector of random-valued impulses (Garnett et al. 2005, `app.noise.road`,
  exact 0/255 values known, as blind-unet's detector gets it);
- with `--run`, a blind-unet run's learned detector, hard at `p > t`, and that model's own output.
A lower bound where flags form solid blocks (dense noise saved as JPEG): the default keeps solid 0/255
regions as clipped highlights and shadows. Held-out training photos only (split as `fit` split them),
the validation cases of `training.data.REAL_WORLD_VALIDATION`; PSNR on rounded uint8, capped at 60 dB.

  python scripts/blind_oracle.py --photos 24 --patch 128
  python scripts/blind_oracle.py --run runs/blind-unet-symmetric-stage1
  python scripts/blind_oracle.py --run runs/blind-unet-context-stage1 --one-polarity
  python scripts/blind_oracle.py --run runs/blind-unet-deep-stage1 --colour   # the CBSD68 case
  python scripts/blind_oracle.py --colour --truth 5 10 20 40 --road             # perfect detectors only
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=["../shared/data/CBSD432", "../shared/data/Train400"])
    parser.add_argument("--photos", type=int, default=24, help="held-out photos used (one patch per case each)")
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--road", type=float, nargs="*", default=[40.0, 60.0, 80.0], help="ROAD thresholds (0..255 scale); none: no ROAD rows")
    parser.add_argument("--run", help="a blind-unet fit run folder: adds its detector and its output")
    parser.add_argument("--p", type=float, nargs="+", default=[0.5, 0.9], help="the learned detector's thresholds")
    parser.add_argument("--truth", type=float, nargs="+", metavar="LEVELS",
                        help="perfect detectors of the values the noise moved by more than these levels (0..255; "
                        "default: the blind recipe's label_threshold, about 20): how far flagging more of what a "
                        "JPEG did around each impulse takes the same U-Net")
    parser.add_argument("--colour", action="store_true", help="colour photos only, noise per channel (the CBSD68 "
                        "tables' case; by default per channel on every other colour photo, per pixel otherwise)")
    parser.add_argument("--one-polarity", action="store_true", help="the run's detector looks at the photo only "
                        "(runs before the negative was added)")
    args = parser.parse_args()

    import onnxruntime as ort
    from scipy import ndimage

    from app.impulse_share import feed
    from app.noise import road
    from app.quality import psnr, to_uint8
    from training import architectures
    from training.architectures import blind_unet
    from training.data import is_grey, load_rgb, real_world_validation_set, split_folders
    from training.init_weights import run_architecture

    threshold = blind_unet.RECIPE.label_threshold * 255.0
    _, val_files = split_folders(args.data, 0.2, 0)
    photos = (load_rgb(p) for p in val_files)  # read only as many as are used
    chosen = list(itertools.islice((p for p in photos if not (args.colour and is_grey(p))), args.photos))
    noisy, clean, cases = real_world_validation_set(chosen, args.patch, 1, per_channel=True if args.colour else None)
    noisy_u8 = to_uint8(noisy)
    session = ort.InferenceSession(str(ROOT / "models" / "prefill-unet.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def default_model(x: np.ndarray) -> np.ndarray:
        return to_uint8(session.run(None, feed(names, x[None].astype(np.float32) / 255.0))[0][0])

    def flagged(x: np.ndarray, median: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = x.copy()
        salt = (x > median) | ((x == median) & (x >= 128))  # an exact impulse keeps its value
        out[mask] = np.where(salt[mask], 255, 0)
        return out

    model = learned = None
    if args.run:
        import keras

        model = architectures.get(run_architecture(args.run)).build(both_polarities=not args.one_polarity)
        model.load_weights(Path(args.run) / "best.weights.h5")
        learned = keras.Model(model.input, blind_unet.detector_probability(model))

    def evidence(k: int, x: np.ndarray) -> dict[str, np.ndarray]:
        """What the detectors threshold, computed once per patch."""
        found = {"moved": x.astype(np.int16) - clean[k],
                 # the exact impulses known, as blind-unet's ROAD has them
                 "road": np.stack([road(x[..., c], np.isin(x[..., c], (0, 255))) for c in range(3)], -1)}
        if learned is not None:
            found["p"] = np.asarray(learned(noisy[k][None]))[0]
        return found

    detectors = {"as is": lambda e: np.zeros(e["moved"].shape, bool)}
    if args.truth:
        detectors.update({f"truth > {t:g}": (lambda e, t=t: np.abs(e["moved"]) > t) for t in args.truth})
    else:
        detectors["truth"] = lambda e: np.abs(e["moved"]) > threshold
    detectors.update({f"ROAD > {t:g}": (lambda e, t=t: e["road"] > t) for t in args.road})
    if learned is not None:
        detectors.update({f"learned p > {t:g}": (lambda e, t=t: e["p"] > t) for t in args.p})

    print(f"{len(noisy) // len(cases)} held-out {'colour ' if args.colour else ''}photos, patches of {args.patch}; mean PSNR (dB) by case")
    print("| detector + prefill-unet | " + " | ".join(cases) + " |")
    print("|---|" + "---:|" * len(cases))
    rows = {name: [] for name in detectors}
    found = {name: {"up": [], "down": [], "clean": []} for name in detectors}  # random-valued patches
    for k, x in enumerate(noisy_u8):
        median = ndimage.median_filter(x, size=(3, 3, 1), mode="mirror")
        patch = evidence(k, x)
        moved = patch["moved"]
        for name, detect in detectors.items():
            mask = detect(patch)
            rows[name].append(min(psnr(clean[k], default_model(flagged(x, median, mask))), 60.0))
            if cases[k % len(cases)].startswith("random"):
                for key, where in (("up", moved > 120), ("down", moved < -120), ("clean", np.abs(moved) <= threshold)):
                    found[name][key].append(mask[where])
    if model is not None:
        rows["the run's own output"] = [min(psnr(clean[k], to_uint8(np.asarray(model(noisy[k][None]))[0])), 60.0)
                                        for k in range(len(noisy))]
    for name, scores in rows.items():
        by_case = [np.mean(scores[i :: len(cases)]) for i in range(len(cases))]
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in by_case) + " |", flush=True)
    print("\nrandom-valued patches: share flagged of the values the noise made more than 120 levels brighter /"
          " darker, and of the values it left within the label threshold")
    for name, shares in found.items():
        if name != "as is" and not name.startswith("truth"):
            print(f"{name}: " + " / ".join(f"{np.concatenate(v).mean():.3f}" for v in shares.values()))


if __name__ == "__main__":
    main()
