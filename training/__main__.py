"""Command line of the training package: `python -m training {fit,export,evaluate,bench,reproduce} ...`."""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _fit(args: argparse.Namespace) -> None:
    from training.fit import FitConfig, fit

    fit(FitConfig(arch=args.arch, data=args.data, out=args.out, epochs=args.epochs, steps=args.steps,
                  patch=args.patch, batch=args.batch, lr=args.lr, seed=args.seed,
                  val_fraction=args.val_fraction, threads=args.threads, max_images=args.max_images,
                  loss=args.loss, init=args.init, recipe=dict(_key_value(kv) for kv in args.recipe)))


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"--recipe takes KEY=VALUE, not {text!r}")
    return key, value


def _export(args: argparse.Namespace) -> None:
    from pathlib import Path

    from training.export import export

    card = export(Path(args.run), args.name, Path(args.out), default=args.default, opset=args.opset,
                  description=args.description)
    print(f"wrote {args.out}/{args.name}.onnx (sha256 {card['sha256'][:12]}..., "
          f"onnxruntime vs Keras max error {card['onnx_parity_max_abs_error']:.1e})")


def _evaluate(args: argparse.Namespace) -> None:
    from training.evaluate import run_cli

    run_cli(args)


def _bench(args: argparse.Namespace) -> None:
    from training.bench import run_cli

    run_cli(args)


def _reproduce(args: argparse.Namespace) -> None:
    from pathlib import Path

    from training.reproduce import reproduce

    card = Path(args.card)
    runs = Path(args.runs_dir or f"runs/reproduce-{card.stem}")
    reproduce(card, runs, Path(args.out or runs / "models"), dry_run=args.dry_run)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fit", help="train an architecture on folders of photos (resumable)")
    p.add_argument("--arch", default="prefill-unet", help="seed-autoencoder or prefill-unet")
    p.add_argument("--data", nargs="+", required=True, help="folders of photos (searched recursively)")
    p.add_argument("--out", required=True, help="run folder: checkpoints, state.json, train.log")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=500, help="steps per epoch")
    p.add_argument("--patch", type=int, help="crop size (default: the architecture's recipe)")
    p.add_argument("--batch", type=int, help="batch size (default: the architecture's recipe)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: the recipe's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loss", choices=["l1", "l1-per-impulse", "l2-per-impulse", "charbonnier-per-impulse", "bce"], help="default: the recipe's")
    p.add_argument("--val-fraction", type=float, default=0.2, help="share of each folder held out")
    p.add_argument("--threads", type=int, default=0, help="0: the CPUs this process may use")
    p.add_argument("--max-images", type=int, default=0, help="use only the first N files of each folder")
    p.add_argument("--init", help="start from these weights (fine-tune): a run folder, a .weights.h5 file "
                                  "or an .onnx model exported from the same architecture")
    p.add_argument("--recipe", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field of the architecture's recipe, e.g. grey_share=0.3 (repeatable)")
    p.set_defaults(func=_fit)

    p = sub.add_parser("export", help="convert a run's best weights to ONNX + model card (parity-checked)")
    p.add_argument("--run", required=True, help="run folder written by fit")
    p.add_argument("--name", required=True, help="model name: writes <out>/<name>.onnx and .json")
    p.add_argument("--out", default="models")
    p.add_argument("--default", action="store_true", help="mark as the service's default model")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--description", default="")
    p.set_defaults(func=_export)

    p = sub.add_parser("evaluate", help="PSNR/SSIM tables of classical filters and ONNX models on a photo folder")
    p.add_argument("--data", required=True, help="folder of clean test photos (never training photos)")
    p.add_argument("--densities", type=float, nargs="+", default=[0.1, 0.3, 0.5, 0.7, 0.9],
                   help="in [0, 1); 0 scores the clean photo itself")
    p.add_argument("--models", nargs="*", default=["all"], help="names in --models-dir, .onnx paths, or 'all'")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--noise", nargs="+", choices=["per-channel", "per-pixel"], help="default: both for colour, per-pixel for grey")
    p.add_argument("--name", help="label of this table in the outputs and model cards (default: the folder's name)")
    p.add_argument("--out", help="output folder (default docs/eval/<name>)")
    p.add_argument("--limit", type=int, default=0, help="only the first N photos")
    p.add_argument("--x8", nargs="+", default=[], metavar="MODEL",
                   help="also score these models as their 8-fold geometric self-ensemble (rows '<name> x8')")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--figure-density", type=float, default=0.5)
    p.add_argument("--exposure", type=float, default=1.0,
                   help="multiply brightness and clip first: photos with large clipped highlights (e.g. 1.6)")
    p.add_argument("--card", action="store_true", help="write the models' scores into their model cards")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("bench", help="throughput and peak memory of the models and classical filters (prints figures)")
    p.add_argument("--models", nargs="*", default=["all"], help="names in --models-dir, or 'all'")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--sizes", nargs="+", default=["512x512"], help="WxH images to time, e.g. 512x512 6000x4000")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="0: the CPUs this process may use")
    p.add_argument("--no-classical", action="store_true")
    p.add_argument("--out", help="also write the figures as JSON here")
    p.add_argument("--card", action="store_true", help="write each model's figures into its card")
    p.set_defaults(func=_bench)

    p = sub.add_parser("reproduce", help="remake a model from the photos: every command its card records, in fresh run folders")
    p.add_argument("--card", default="models/prefill-unet.json", help="the model card to follow")
    p.add_argument("--runs-dir", help="where the run folders go (default runs/reproduce-<name>)")
    p.add_argument("--out", help="where the model is exported (default <runs-dir>/models; never the shipped one unless named)")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    p.set_defaults(func=_reproduce)

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
