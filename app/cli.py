"""`image-noise-removal`: denoise or corrupt files and folders without a server, or start the server.

Each file goes through `app.pipeline`, the functions behind POST /denoise and POST /corrupt (same
decoding, pixel budget, models, tiling, ensemble and noise), then `app.imaging.encode`.
Exit status: 0 when every file succeeded, 1 when any failed (each failure is reported, the batch
goes on), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from app.formats import INPUT_SUFFIXES, LOSSLESS, OUTPUT_FORMATS


def _inputs(paths: list[Path]) -> Iterator[tuple[Path, Path]]:
    """(file, path relative to the folder it was found under) for files and folders, recursively."""
    for path in paths:
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file() and file.suffix.lower() in INPUT_SUFFIXES:
                    yield file, file.relative_to(path)
        elif path.exists():  # missing paths are reported by the caller
            yield path, Path(path.name)


def _process(args: argparse.Namespace, work) -> int:
    from tqdm import tqdm

    from app.errors import ApiError
    from app.imaging import encode

    jobs = list(_inputs(args.inputs))
    missing = [p for p in args.inputs if not p.exists()]
    failures: list[tuple[Path, str]] = [(p, "no such file or folder") for p in missing]
    done = 0
    for file, relative in tqdm(jobs, desc=args.command, unit="image", disable=args.quiet or not jobs):
        target = args.output / relative.with_suffix(OUTPUT_FORMATS[args.format].suffix)
        try:
            image = work(file.read_bytes(), file)
            body, _ = encode(image, args.format, getattr(args, "quality", 95))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            done += 1
        except (ApiError, OSError, ValueError) as e:
            failures.append((file, getattr(e, "detail", None) or str(e)))
    for path, reason in failures:
        print(f"failed: {path}: {reason}", file=sys.stderr)
    print(f"{args.command}: {done} written to {args.output}, {len(failures)} failed", file=sys.stderr)
    return 1 if failures else 0


def _denoise(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from tqdm import tqdm

    from app import pipeline
    from app.errors import UnknownModel
    from app.registry import AUTO, ModelRegistry
    from app.settings import Settings

    if args.noise_map and args.format not in LOSSLESS:
        print(f"error: --noise-map is written in a lossless format ({', '.join(LOSSLESS)}), not {args.format}", file=sys.stderr)
        return 2
    try:
        settings = Settings(models_dir=args.models_dir, threads=args.threads, max_pixels=args.max_pixels,
                            tile_size=args.tile_size, default_model=None, prefer_int8=not args.float)
    except ValidationError as e:  # a bad --threads / --tile-size / ...: one line, usage status
        print("error: " + "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()), file=sys.stderr)
        return 2
    registry = ModelRegistry(settings)
    registry.load()
    registry.warm_up()
    auto = args.model == AUTO
    try:
        model = registry.get(None if auto else args.model)
    except UnknownModel as e:
        print(f"error: {e.detail}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"model: {f'{AUTO}, the default ' if auto else ''}{model.name} ({model.precision}, "
              f"{model.denoiser.provider})", file=sys.stderr)
    options = pipeline.DenoiseOptions(ensemble=args.ensemble, noise_map=args.noise_map)

    def work(data: bytes, file: Path):
        if auto:  # what the service's model=auto does; each file says which model made it
            chosen = pipeline.denoise_auto(data, registry, settings.max_pixels, options)
            if not args.quiet:
                tqdm.write(f"{file}: {pipeline.runs_text(chosen)}", file=sys.stderr)
            return chosen.result.noise_map if options.noise_map else chosen.result.image
        result = pipeline.denoise(data, model.denoiser, settings.max_pixels, options)
        if suggestion := pipeline.model_to_try(result, model.name, registry.models):  # X-Try-Model's rule
            tqdm.write(f"note: {file}: {model.name} changed {result.changed_fraction:.1%} of the values, and about "
                       f"{result.impulse_fraction:.0%} look like impulses. For noise saved as JPEG or impulses that "
                       f"are not exactly 0/255, try --model {suggestion}", file=sys.stderr)
        return result.noise_map if options.noise_map else result.image

    return _process(args, work)


def _corrupt(args: argparse.Namespace) -> int:
    from app import pipeline
    from app.noise import NoiseSpec

    try:
        spec = NoiseSpec(args.noise, args.density, args.salt_ratio, not args.per_pixel, args.spread,
                         args.jpeg_quality, args.webp_quality)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return _process(args, lambda data, _: pipeline.corrupt(data, args.max_pixels, spec, args.seed))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run("app.main:app", host=args.host, port=args.port, timeout_graceful_shutdown=30)
    return 0


def _density(value: str) -> float:
    density = float(value)
    if not 0.0 <= density <= 1.0:
        raise argparse.ArgumentTypeError("must be in [0, 1]")
    return density


def build_parser() -> argparse.ArgumentParser:
    from app.inference import ENSEMBLES
    from app.noise import NOISE_KINDS
    from app.registry import AUTO
    from app.settings import MAX_PIXELS, REPO_MODELS

    parser = argparse.ArgumentParser(prog="image-noise-removal", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def io_arguments(p: argparse.ArgumentParser, formats: list[str]) -> None:
        p.add_argument("inputs", nargs="+", type=Path, help="image files and/or folders (searched recursively)")
        p.add_argument("-o", "--output", type=Path, required=True,
                       help="output folder; each folder's tree is mirrored inside it")
        p.add_argument("--format", choices=formats, default="png", help="output format (default png)")
        p.add_argument("--max-pixels", type=int, default=MAX_PIXELS, help="refuse larger images (denoise --ensemble 8: "
                       "an eighth of it, as the service)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("denoise", help="remove salt-and-pepper noise from images",
                       description="Remove salt-and-pepper noise; grey stays grey, alpha and 16-bit grey are kept.")
    io_arguments(p, list(OUTPUT_FORMATS))
    p.add_argument("-m", "--model", help=f"model name (default: the default model in --models-dir); {AUTO}: the "
                   "default, then, for a file it left most impulses alone in, the model its note would name")
    p.add_argument("--models-dir", type=Path, default=REPO_MODELS)
    p.add_argument("--quality", type=int, default=95, help="JPEG quality, with --format jpeg")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: the CPUs available)")
    p.add_argument("--tile-size", type=int, default=0, help="tile size for large images (0: 1024 on the CPU, 2048 on CUDA)")
    p.add_argument("--ensemble", type=int, choices=ENSEMBLES, default=1,
                   help="8: average the model over the 8 flips and rotations (slightly better, 8x the time)")
    p.add_argument("--float", action="store_true",
                   help="run the float model even where its int8 twin is shipped (the CPU runs the twin by default)")
    p.add_argument("--noise-map", action="store_true",
                   help="write, instead of the cleaned image, a grey map of its size: 255 where the model changed a "
                   "pixel (the noise it found), 0 elsewhere (as POST /denoise output=noise-map; lossless formats)")
    p.set_defaults(func=_denoise)

    p = sub.add_parser("corrupt", help="add impulse noise (lossless output only)")
    io_arguments(p, list(LOSSLESS))
    p.add_argument("-d", "--density", type=_density, default=0.2, help="fraction of values hit (0..1)")
    p.add_argument("--salt-ratio", type=_density, default=0.5, help="share of hits that become white")
    p.add_argument("--per-pixel", action="store_true", help="hit whole pixels instead of channels")
    p.add_argument("--noise", choices=NOISE_KINDS, default="salt-pepper",
                   help="salt-pepper (0 and the maximum), impulse-range (within --spread of them), random-valued")
    p.add_argument("--spread", type=float, default=30.0, help="impulse-range: distance from 0 and the maximum (0..255)")
    p.add_argument("--jpeg-quality", type=int, help="then save as JPEG at this quality (the output keeps those pixels)")
    p.add_argument("--webp-quality", type=int, help="then save as lossy WebP at this quality instead")
    p.add_argument("--seed", type=int, default=None, help="same seed and image give the same noise")
    p.set_defaults(func=_corrupt)

    p = sub.add_parser("serve", help="start the HTTP service (settings from DENOISE_* variables)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
