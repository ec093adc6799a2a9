"""Command line of the training package: `python -m training {fit,export,quantize,evaluate,bench,reproduce} ...`."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _fit(args: argparse.Namespace) -> None:
    os.environ["KERAS_BACKEND"] = args.backend  # before the first import of Keras
    from training.fit import FitConfig, fit

    fit(FitConfig(arch=args.arch, data=args.data, out=args.out, epochs=args.epochs, steps=args.steps,
                  patch=args.patch, batch=args.batch, lr=args.lr, seed=args.seed,
                  val_fraction=args.val_fraction, threads=args.threads, max_images=args.max_images,
                  loss=args.loss, init=args.init, recipe=dict(_key_value(kv) for kv in args.recipe),
                  backend=args.backend, sampler=args.sampler, stop_after=args.stop_after))


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"--recipe takes KEY=VALUE, not {text!r}")
    return key, value


def _export(args: argparse.Namespace) -> None:
    from training.export import export

    card = export(Path(args.run), args.name, Path(args.out), default=args.default, opset=args.opset,
                  description=args.description, command=_command())
    print(f"wrote {args.out}/{args.name}.onnx (sha256 {card['sha256'][:12]}..., "
          f"onnxruntime vs Keras max error {card['onnx_parity_max_abs_error']:.1e})")


def _rebuild(args: argparse.Namespace) -> None:
    from training.export import rebuild

    card = rebuild(Path(args.model), Path(args.out), args.why, command=_command())
    print(f"wrote {args.out}/{card['name']}.onnx (sha256 {card['sha256'][:12]}..., the same weights "
          f"{card['weights_sha256'][:12]}..., onnxruntime vs Keras max error {card['onnx_parity_max_abs_error']:.1e}); "
          f"scores {'kept' if card['scores'] else 'dropped: measure them again'}")


def _quantize(args: argparse.Namespace) -> None:
    from training.quantize import QuantizeConfig, quantize

    card = quantize(QuantizeConfig(model=Path(args.model), out_dir=Path(args.out), data=args.data,
                                   calibration_patches=args.calibration_patches, patch=args.patch,
                                   check_photos=args.check_photos, max_drop_db=args.max_drop,
                                   layer_drop_db=args.layer_drop, full_range=args.full_range, seed=args.seed),
                    command=_command())
    q = card["quantization"]
    print(f"wrote {args.out}/{card['name']}.onnx: {len(q['quantized'])} convolutions int8 "
          f"({q['quantized_share_of_conv_macs']:.0%} of their work), {len(q['float'])} float; "
          f"largest drop on held-out patches {q['held_out']['largest_drop_db']:.3f} dB")


def _command() -> str:
    """This invocation as the text the cards and tables record beside their figures."""
    return "python -m training " + shlex.join(sys.argv[1:])


def _model_paths(names: list[str], models_dir: str) -> list[Path]:
    """`all` -> every .onnx in `models_dir`; otherwise names in it, or .onnx paths as given."""
    if names == ["all"]:
        return sorted(Path(models_dir).glob("*.onnx"))
    return [Path(m) if m.endswith(".onnx") else Path(models_dir) / f"{m}.onnx" for m in names or []]


def _evaluate(args: argparse.Namespace) -> None:
    from app.registry import AUTO
    from training.baselines import METHODS
    from training.evaluate import (
        NoiseKind,
        evaluate,
        figure,
        markdown,
        model_method,
        summarise,
        update_cards,
        write_outputs,
    )

    command = _command()
    model_paths = _model_paths(args.models, args.models_dir)
    unknown = set(args.x8) - {p.stem for p in model_paths} - ({AUTO} if args.auto else set())
    if unknown:
        raise SystemExit(f"--x8 names models that are not evaluated: {', '.join(sorted(unknown))}")
    if args.methods and not args.merge:
        raise SystemExit("--methods adds classical filters to a committed table: give --merge")
    if unknown := set(args.methods or []) - set(METHODS):
        raise SystemExit(f"unknown --methods {', '.join(sorted(unknown))}; known: {', '.join(METHODS)}")
    data = Path(args.data)
    name = args.name or (data.name if args.exposure == 1.0 else f"{data.name}-exposure{args.exposure:g}")
    kind = NoiseKind(args.kind, args.spread, args.jpeg_quality)
    out = Path(args.out or f"docs/eval/{name}")
    if args.merge:
        _merge_into_table(args, data, kind, model_paths, out, command)
        return
    rows = evaluate(data, tuple(args.densities), model_paths, tuple(args.noise) if args.noise else None,
                    limit=args.limit, threads=args.threads, exposure=args.exposure, x8=tuple(args.x8), kind=kind,
                    auto_models=_auto_models(args))
    summary = summarise(rows)
    write_outputs(rows, summary, out, name, command, kind)
    figure_methods = {name: fn for name, fn in METHODS.items() if name in ("noisy input", "adaptive median 7x7", "switching mean")}
    figure_methods.update({p.stem: model_method(p, args.threads) for p in model_paths})
    figure_methods["ROAD switching"] = METHODS["ROAD switching"]  # the anchor for impulses of any value, last
    figure(data, args.figure_density, figure_methods, out / "figure.png", exposure=args.exposure, kind=kind)
    print(markdown(summary, name, command, kind))
    if args.card:
        update_cards(summary, name, model_paths, command)
        print(f"scores written into the cards of: {', '.join(p.stem for p in model_paths)}")


def _auto_models(args: argparse.Namespace) -> Path | None:
    """With --auto: the folder whose models `model=auto` chooses among (--models-dir)."""
    return Path(args.models_dir) if args.auto else None


def _merge_into_table(args: argparse.Namespace, data: Path, kind, model_paths: list[Path], out: Path,
                      command: str) -> None:
    """`evaluate --merge`: score only these models (and the classical filters named by --methods) and add
    their rows to the committed table in `out` (its other classical rows are not re-run: they are
    deterministic and took most of the time). Refused when the noise or photos differ from the table's, or a
    density is not one of its own; the methods it holds may be run again at some of its densities alone
    (`merge_rows`: their other cells are kept), as after a change that moves only clean photos' cells."""
    from training.evaluate import evaluate, markdown, merge_rows, read_rows, summarise, update_cards, write_outputs

    record = json.loads((out / "summary.json").read_text())
    table_noise = record.get("noise", "salt-pepper")  # tables from before the noise kinds: salt-and-pepper
    if table_noise != kind.label():
        raise SystemExit(f"{out} is a table of {table_noise!r} noise, not {kind.label()!r}")
    previous = read_rows(out / "per_image.csv")
    new = evaluate(data, tuple(args.densities), model_paths, tuple(args.noise) if args.noise else None,
                   methods=args.methods or [],
                   limit=args.limit, threads=args.threads, exposure=args.exposure, x8=tuple(args.x8), kind=kind,
                   auto_models=_auto_models(args))
    densities, table_densities = {r.density for r in new}, {r.density for r in previous}
    cases = {(r.noise, r.density, r.image) for r in previous if r.density in densities}
    if {(r.noise, r.density, r.image) for r in new} != cases or not densities <= table_densities:
        raise SystemExit(f"the photos, noise modes or densities differ from those of {out}")
    if densities != table_densities and {r.method for r in new} - {r.method for r in previous}:
        raise SystemExit(f"a method new to {out} is run at every one of its densities")
    rows = merge_rows(previous, new)
    summary = summarise(rows)
    added = tuple(a for a in record.get("added_by", []) if a != command) + (command,)
    write_outputs(rows, summary, out, record["dataset"], record["command"], kind, added)
    print(markdown(summary, record["dataset"], record["command"], kind, added))
    if args.card:
        update_cards(summary, record["dataset"], model_paths, command)
        print(f"scores written into the cards of: {', '.join(p.stem for p in model_paths)}")


def _bench(args: argparse.Namespace) -> None:
    from app.cards import update_card
    from app.cpus import available_cpus
    from training.bench import bench

    command = _command()
    models = _model_paths(args.models, args.models_dir)
    sizes = [tuple(int(v) for v in s.lower().split("x"))[::-1] for s in args.sizes]  # WxH -> (H, W)
    threads = args.threads or available_cpus()
    print(f"{'method':24s} {'size':>10s} {'median':>13s} {'throughput':>13s} {'memory':>14s}")
    pairs = [tuple(_model_paths(list(pair), args.models_dir)) for pair in args.pair or []]
    result = bench(models, sizes, args.repeats, threads, not args.no_classical, pairs=pairs)
    print(f"sgemm (numpy float32 2048x2048): {result['sgemm_gflops']} GFLOP/s on {threads} threads; {result['cpu']}")
    result["command"] = command
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    if args.card:
        for path in models:
            speed = {"cpu": result["cpu"], "sgemm_gflops": result["sgemm_gflops"], "threads": threads, "command": command,
                     "rows": [r for r in result["rows"] if r["method"] == path.stem]}
            if any(pair["int8"] == path.stem for pair in result["int8_pairs"]):
                speed["speedup_vs_float"] = [pair for pair in result["int8_pairs"] if pair["int8"] == path.stem]
            update_card(path, lambda card: card.update(speed=speed))  # noqa: B023 - applied at once


def _reproduce(args: argparse.Namespace) -> None:
    from training.reproduce import reproduce

    card = Path(args.card)
    runs = Path(args.runs_dir or f"runs/reproduce-{card.stem}")
    reproduce(card, runs, Path(args.out or runs / "models"), dry_run=args.dry_run)


def _train_speed(args: argparse.Namespace) -> None:
    from app.cpus import available_cpus
    from training.bench import cpu_description, sgemm_gflops
    from training.train_speed import run_all

    threads = args.threads or available_cpus()
    rows = run_all(args.backends, args.data, args.arch, args.steps, args.batch, args.patch, threads)
    print(f"sgemm (numpy float32 2048x2048): {sgemm_gflops():.1f} GFLOP/s; {cpu_description()}")
    if len(rows) > 1:
        base = rows[0]["patch_megapixels_per_second"]
        print("relative to " + rows[0]["backend"] + ": " + ", ".join(
            f"{r['backend']} {r['patch_megapixels_per_second'] / base:.2f}x" for r in rows[1:]))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"command": _command(), "cpu": cpu_description(), "rows": rows},
                                             indent=1) + "\n")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand's options: also how a table's recorded `evaluate` command is read back, with these
    defaults (scripts/unseen_checks.py)."""
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fit", help="train an architecture on folders of photos (resumable)")
    p.add_argument("--arch", default="prefill-unet",
                   help="seed-autoencoder, prefill-unet, blind-unet, blind-unet-deep, blind-unet-chroma, "
                   "blind-unet-deeper or jpeg-unet (training/architectures)")
    p.add_argument("--data", nargs="+", required=True, help="folders of photos (searched recursively)")
    p.add_argument("--out", required=True, help="run folder: checkpoints, state.json, train.log")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=500, help="steps per epoch")
    p.add_argument("--patch", type=int, help="crop size (default: the architecture's recipe)")
    p.add_argument("--batch", type=int, help="batch size (default: the architecture's recipe)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: the recipe's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loss", choices=["l1", "l1-per-impulse", "l2-per-impulse", "charbonnier-per-impulse", "bce", "blind", "blind-detect"], help="default: the recipe's")
    p.add_argument("--val-fraction", type=float, default=0.2, help="share of each folder held out")
    p.add_argument("--threads", type=int, default=0, help="0: the CPUs this process may use")
    p.add_argument("--max-images", type=int, default=0, help="use only the first N files of each folder")
    p.add_argument("--init", help="start from these weights (fine-tune): a run folder, a .weights.h5 file "
                                  "or an .onnx model exported from the same architecture (or the one it extends), "
                                  "or a run of the architecture this one grows from (blind-unet-deep: a blind-unet run; blind-unet-chroma: a blind-unet-deep run)")
    p.add_argument("--recipe", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field of the architecture's recipe, e.g. grey_share=0.3 (repeatable)")
    p.add_argument("--backend", default="tensorflow", choices=["tensorflow", "jax", "torch"],
                   help="the Keras backend that trains (export always runs on TensorFlow; the weights file is the same)")
    p.add_argument("--sampler", default="host", choices=["host", "device"],
                   help="host: numpy batches on a CPU thread; device: crops, noise and JPEG saves drawn inside the "
                        "jitted step (JAX backend; for a GPU, training/device_steps.py)")
    p.add_argument("--stop-after", type=int, default=0,
                   help="stop after this many epochs of the --epochs schedule (0: all): how a card records a run a "
                        "time limit cut off; the same run resumes with another value")
    p.set_defaults(func=_fit)

    p = sub.add_parser("export", help="convert a run's best weights to ONNX + model card (parity-checked)")
    p.add_argument("--run", required=True, help="run folder written by fit")
    p.add_argument("--name", required=True, help="model name: writes <out>/<name>.onnx and .json")
    p.add_argument("--out", default="models")
    p.add_argument("--default", action="store_true", help="mark as the service's default model")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--description", default="")
    p.set_defaults(func=_export)

    p = sub.add_parser("rebuild", help="re-export a model's own weights (from its .onnx) with the architecture's "
                       "current code: a change to its weight-free part, no training (parity-checked)")
    p.add_argument("--model", required=True, help="an exported .onnx model with its card beside it")
    p.add_argument("--out", default="models")
    p.add_argument("--why", required=True, help="what changed, for the card's `rebuilds` entry")
    p.set_defaults(func=_rebuild)

    p = sub.add_parser("quantize", help="an exported model's int8 twin (<name>-int8.onnx + card), calibrated on "
                       "its training photos, costly layers kept float")
    p.add_argument("--model", default="models/prefill-unet.onnx", help="an exported .onnx model with its card")
    p.add_argument("--out", default="models")
    p.add_argument("--data", nargs="+", help="photo folders (default: the card's training folders; split as fit split them)")
    p.add_argument("--calibration-patches", type=int, default=64, help="noisy training patches for the ranges")
    p.add_argument("--patch", type=int, default=128, help="patch side, a multiple of the model's pad_multiple")
    p.add_argument("--check-photos", type=int, default=40, help="held-out photos the quality check scores")
    p.add_argument("--max-drop", type=float, default=0.15, help="dB the twin may lose at any density or case")
    p.add_argument("--layer-drop", type=float, default=0.05, help="dB one layer may cost alone, else it stays float")
    p.add_argument("--full-range", action="store_true",
                   help="8-bit weights: only for processors with VNNI (on plain AVX2 u8 x s8 products saturate)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_quantize)

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
                   help="also score these models as their 8-fold geometric self-ensemble (rows '<name> x8'); "
                   "with --auto, 'auto' too (requests with ensemble=8)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--figure-density", type=float, default=0.5)
    p.add_argument("--exposure", type=float, default=1.0,
                   help="multiply brightness and clip first: photos with large clipped highlights (e.g. 1.6)")
    p.add_argument("--kind", default="salt-pepper", choices=["salt-pepper", "impulse-range", "random-valued"],
                   help="noise kind (app.noise)")
    p.add_argument("--spread", type=float, default=30.0, help="impulse-range: distance from 0 and 255")
    p.add_argument("--jpeg-quality", type=int, help="save the noisy photo as JPEG at this quality first (at density 0: "
                   "the clean photo as saved, scored against itself)")
    p.add_argument("--card", action="store_true", help="write the models' scores into their model cards")
    p.add_argument("--auto", action="store_true", help="also score model=auto over --models-dir's models as the "
                   "service runs it (row 'auto'; the upload a JPEG file where --jpeg-quality is given, else a PNG)")
    p.add_argument("--merge", action="store_true", help="add only these models' rows to the committed table in --out "
                   "(same photos and noise, its densities or some of them for a method it holds; its other rows "
                   "kept, not re-run), e.g. an int8 twin's")
    p.add_argument("--methods", nargs="+", metavar="FILTER",
                   help="with --merge: classical filters (training.baselines.METHODS) to add as well, e.g. a new anchor")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("bench", help="throughput and peak memory of the models and classical filters (prints figures)")
    p.add_argument("--models", nargs="*", default=["all"], help="names in --models-dir, or 'all'")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--sizes", nargs="+", default=["512x512"], help="WxH images to time, e.g. 512x512 6000x4000")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="0: the CPUs this process may use")
    p.add_argument("--no-classical", action="store_true")
    p.add_argument("--pair", nargs=2, action="append", metavar=("A", "B"),
                   help="also time A and B in turn (names in --models-dir) and print A's time over B's, pair by "
                   "pair; repeatable. For a speed target: --pair blind-unet prefill-unet")
    p.add_argument("--out", help="also write the figures as JSON here")
    p.add_argument("--card", action="store_true", help="write each model's figures into its card")
    p.set_defaults(func=_bench)

    p = sub.add_parser("train-speed", help="training speed under each Keras backend, in one run (prints figures)")
    p.add_argument("--data", required=True, help="a folder of training photos (the first 40 are used)")
    p.add_argument("--arch", default="prefill-unet")
    p.add_argument("--backends", nargs="+", default=["tensorflow", "jax"],
                   choices=["tensorflow", "jax", "torch", "jax-device"], help="jax-device: JAX with fit --sampler device")
    p.add_argument("--steps", type=int, default=30, help="timed steps, after 3 warm-up steps")
    p.add_argument("--batch", type=int, help="default: the recipe's")
    p.add_argument("--patch", type=int, help="default: the recipe's")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", help="also write the figures as JSON here")
    p.set_defaults(func=_train_speed)

    p = sub.add_parser("reproduce", help="remake a model from the photos: every command its card records, in fresh run folders")
    p.add_argument("--card", default="models/prefill-unet.json", help="the model card to follow")
    p.add_argument("--runs-dir", help="where the run folders go (default runs/reproduce-<name>)")
    p.add_argument("--out", help="where the model is exported (default <runs-dir>/models; never the shipped one unless named)")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    p.set_defaults(func=_reproduce)
    return parser


if __name__ == "__main__":
    sys.exit(main())
