"""How much of salt-and-pepper saved as colour JPEG a median removes when it works on luma and chroma apart.

Why: JPEG (Pillow's default 4:2:0) stores chroma at half resolution and smears each per-channel impulse's
colour over its neighbours, while the luma keeps the impulse sharp. A per-channel RGB median treats the
smeared colour as detail. This probe takes JFIF's YCbCr, a small median on luma and a larger one on the
two chroma planes (`training.baselines.luma_chroma_median`), and compares it with the RGB medians. It
chose the two window pairs that joined the tables' classical anchors (stop 24). Held-out training photos
only (split as `fit` splits them), one crop per photo and case, noise per channel; PSNR on rounded uint8.

    python scripts/chroma_median_probe.py --photos 16 --crop 256
    python scripts/chroma_median_probe.py --photos 12 --crop 256 --model models/blind-unet.onnx --split

`--model` adds an ONNX model's rows (through the service's `Denoiser`). `--split` says where each
method's error sits: two more PSNRs per case, of its luma with the true chroma and of the true luma with
its chroma (JFIF YCbCr), so a model can be compared with the medians on each part.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

CASES = ((0.1, 90), (0.3, 90), (0.5, 90), (0.1, 75), (0.3, 75))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=["../shared/data/CBSD432"])
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--model", action="append", default=[], help="an ONNX model to add (repeatable)")
    parser.add_argument("--split", action="store_true", help="also PSNR of luma alone and of chroma alone")
    args = parser.parse_args()

    from scipy import ndimage

    from app.noise import NoiseSpec, add_noise
    from app.quality import psnr
    from training.baselines import from_ycbcr, luma_chroma_median, to_ycbcr
    from training.data import is_grey, load_rgb, split_folders

    _, val_files = split_folders(args.data, 0.2, 0)
    photos = list(itertools.islice((p for p in (load_rgb(f) for f in val_files) if not is_grey(p)), args.photos))
    rng = np.random.default_rng(0)
    methods = {"RGB median 3x3": lambda x: ndimage.median_filter(x, size=(3, 3, 1), mode="mirror"),
               "RGB median 5x5": lambda x: ndimage.median_filter(x, size=(5, 5, 1), mode="mirror")}
    methods.update({f"Y {y}x{y}, CbCr {c}x{c}": (lambda x, y=y, c=c: luma_chroma_median(x, y, c))
                    for y, c in ((3, 5), (3, 9), (5, 9), (5, 13))})
    for path in args.model:
        from pathlib import Path

        from app.imaging import DecodedImage
        from app.inference import Denoiser

        denoiser = Denoiser(Path(path))
        methods[Path(path).stem] = lambda x, d=denoiser: d.denoise(DecodedImage(x)).image.pixels
    def score(clean: np.ndarray, out: np.ndarray) -> tuple[float, ...]:
        """PSNR, and with --split also of the output's luma alone and of its chroma alone."""
        if not args.split:
            return (psnr(clean, out),)
        truth, ours = to_ycbcr(clean), to_ycbcr(out)  # unrounded: the split measures the method alone
        luma_alone = from_ycbcr(np.concatenate([ours[..., :1], truth[..., 1:]], axis=-1), clean.dtype)
        chroma_alone = from_ycbcr(np.concatenate([truth[..., :1], ours[..., 1:]], axis=-1), clean.dtype)
        return psnr(clean, out), psnr(clean, luma_alone), psnr(clean, chroma_alone)

    def cell(values: list[tuple[float, ...]]) -> str:
        mean = np.mean(values, axis=0)
        return f"{mean[0]:.2f}" + (f" ({mean[1]:.2f} / {mean[2]:.2f})" if args.split else "")

    print(f"{len(photos)} held-out colour photos, crops of {args.crop}; mean PSNR (dB)"
          + (", then (luma alone / chroma alone): the output's Y with the true Cb, Cr, and the reverse"
             if args.split else ""))
    print("| method | " + " | ".join(f"sp {d} + JPEG {q}" for d, q in CASES) + " |")
    print("|---|" + "---:|" * len(CASES))
    scores: dict[str, list[list[tuple[float, ...]]]] = {name: [[] for _ in CASES] for name in ["noisy input", *methods]}
    for photo in photos:
        clean = np.ascontiguousarray(photo[: args.crop, : args.crop])
        for i, (density, quality) in enumerate(CASES):
            noisy = add_noise(clean, NoiseSpec("salt-pepper", density, per_channel=True, jpeg_quality=quality), rng=rng)
            scores["noisy input"][i].append(score(clean, noisy))
            for name, method in methods.items():
                scores[name][i].append(score(clean, method(noisy)))
    for name, by_case in scores.items():
        print(f"| {name} | " + " | ".join(cell(v) for v in by_case) + " |", flush=True)


if __name__ == "__main__":
    main()
