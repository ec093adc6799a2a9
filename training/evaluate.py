"""Score classical filters and ONNX models on benchmark photos with the field's protocol.

Protocol (docs/evaluation.md): clean images as stored (grey stays grey); noise from
`app.noise.salt_and_pepper`, salt ratio 0.5, per channel for colour (a second table per pixel),
seeded per (image, density, noise mode) so every method sees the same corrupted input; outputs
rounded to uint8; PSNR (peak 255) and SSIM (Gaussian sigma 1.5) from `app.quality`; mean over images.
Models run through the service's own `Denoiser` (padding and tiling included), not through Keras.
"""

from __future__ import annotations

import csv
import json
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from app.cards import INT8_SUFFIX, update_card
from app.imaging import DecodedImage, read_photo
from app.inference import Denoiser
from app.noise import NoiseSpec, add_noise
from app.quality import psnr, ssim
from app.registry import AUTO
from training.baselines import COLOUR_ONLY, METHODS
from training.data import list_images

DEFAULT_DENSITIES = (0.1, 0.3, 0.5, 0.7, 0.9)
CLASSICAL = tuple(name for name in METHODS if name != "noisy input")
BEST_PER_IMAGE = "best classical (per image)"
PSNR_CAP = 100.0  # identical images (infinite PSNR) count as 100 dB in means; per-image rows keep inf


def noise_seed(image_name: str, density: float, noise: str) -> int:
    """The seed of one (image, density, noise mode): stable across runs, machines and methods."""
    return zlib.crc32(f"{image_name}|{density:.6f}|{noise}".encode())


def load_as_stored(path: Path) -> np.ndarray:
    """uint8 (H, W) for grey files, (H, W, 3) for colour; no resizing, no border crop."""
    return read_photo(path)


def over_expose(image: np.ndarray, gain: float) -> np.ndarray:
    """A photo with large clipped highlights, as phones and cameras make: brightness x gain, clipped.

    Used to check that true 0/255 regions are kept (they look like impulses). gain 1 = unchanged.
    """
    if gain == 1.0:
        return image
    return np.clip(np.rint(image.astype(np.float64) * gain), 0, 255).astype(np.uint8)


def model_method(path: Path, threads: int = 0, ensemble: int = 1) -> Callable[[np.ndarray], np.ndarray]:
    denoiser = Denoiser(path, threads=threads)
    return lambda noisy: denoiser.denoise(DecodedImage(noisy), ensemble).image.pixels


def model_methods(paths: list[Path], threads: int = 0, x8: tuple[str, ...] = ()) -> dict[str, Callable]:
    """Each model as "<name>" (one pass), and those named in `x8` also as "<name> x8" (the 8-fold mean)."""
    methods = {path.stem: model_method(path, threads) for path in paths}
    methods.update({f"{path.stem} x8": model_method(path, threads, 8) for path in paths if path.stem in x8})
    return methods


def auto_methods(models_dir: Path, jpeg_quality: int | None, threads: int = 0,
                 ensembles: tuple[int, ...] = (1,)) -> list[Callable[[np.ndarray], np.ndarray]]:
    """`model=auto` as the service runs it (`app.pipeline.denoise_auto_image`, the service's settings: on the
    CPU the int8 twins answer for their float models) over the models in `models_dir`, on the upload a user
    would send: a JPEG file of `jpeg_quality` where the table's noise was saved as JPEG, a PNG otherwise. Its
    choice reads the file's format (and a grey JPEG file's quality), so a table of saved photos scored as PNGs
    would score another route. One method
    per entry of `ensembles` (8: as a request with `ensemble=8`, each model auto runs as the mean of its 8
    turned copies), all over one loaded registry."""
    from app import pipeline
    from app.registry import ModelRegistry
    from app.settings import Settings

    registry = ModelRegistry(Settings(models_dir=models_dir, threads=threads))
    registry.load()
    registry.warm_up()
    source_format = "PNG" if jpeg_quality is None else "JPEG"

    def method(options: pipeline.DenoiseOptions) -> Callable[[np.ndarray], np.ndarray]:
        return lambda noisy: pipeline.denoise_auto_image(
            DecodedImage(noisy, source_format=source_format, jpeg_quality=jpeg_quality), registry, options
        ).result.image.pixels

    return [method(pipeline.DenoiseOptions(ensemble=ensemble)) for ensemble in ensembles]


@dataclass
class Row:
    dataset: str
    image: str
    noise: str
    density: float
    method: str
    psnr: float
    ssim: float
    seconds: float


@dataclass(frozen=True)
class NoiseKind:
    """What noise a table is about, beside its densities and per-channel/per-pixel modes: the kind,
    its spread and a lossy save after the impulses (`app.noise.NoiseSpec`)."""

    kind: str = "salt-pepper"
    spread: float = 30.0
    jpeg_quality: int | None = None

    def spec(self, density: float, per_channel: bool) -> NoiseSpec:
        return NoiseSpec(self.kind, density, 0.5, per_channel, self.spread, self.jpeg_quality)

    def label(self) -> str:
        text = self.kind + (f" spread {self.spread:g}" if self.kind == "impulse-range" else "")
        return text + (f", then JPEG quality {self.jpeg_quality}" if self.jpeg_quality else "")


def corrupt(clean: np.ndarray, density: float, per_channel: bool, seed: int, noise: NoiseKind) -> tuple[np.ndarray, np.ndarray]:
    """(reference, noisy). Salt-pepper without a save draws exactly what `salt_and_pepper` always drew, so
    the existing tables stay reproducible. At density 0 with a JPEG save the input is the clean photo as
    saved and is its own reference: how much a model changes a clean JPEG."""
    noisy = add_noise(clean, noise.spec(density, per_channel), seed=seed)
    return (noisy if density == 0 else clean), noisy


def table_photos(data: Path, limit: int = 0, exposure: float = 1.0) -> tuple[list[Path], list[np.ndarray]]:
    """A table's photo files and their clean pixels (made brighter and clipped by `exposure`)."""
    files = list_images(data)[: limit or None]
    return files, [over_expose(load_as_stored(f), exposure) for f in files]


def noise_modes(images: list[np.ndarray], noises: Sequence[str] | None = None) -> tuple[str, ...]:
    """The noise layouts a table scores: those given, else both for colour photos and per pixel for grey."""
    if noises:
        return tuple(noises)
    return ("per-channel", "per-pixel") if any(im.ndim == 3 for im in images) else ("per-pixel",)


def uploads(files: list[Path], images: list[np.ndarray], densities: Sequence[float], noises: Sequence[str],
            kind: NoiseKind) -> Iterator[tuple[Path, str, float, np.ndarray, np.ndarray]]:
    """(photo, noise mode, density, reference, noisy) for every case of a table, in its rows' order, each with
    its own seed (`noise_seed`): what `evaluate` scores, and what a script that asks about a table's uploads
    (scripts/unseen_checks.py --tables) remakes."""
    for noise in noises:
        for density in densities:
            for path, clean in zip(files, images):
                seed = noise_seed(path.name, density, noise)
                yield (path, noise, density, *corrupt(clean, density, noise == "per-channel", seed, kind))


def committed_uploads(table: Path, data_root: str | Path = "../shared/data",
                      ) -> tuple[list[Path], Iterator[tuple[Path, str, float, np.ndarray, np.ndarray]]]:
    """A committed table's photo files and its uploads (`uploads`), remade from the command its summary.json
    records, read by `training`'s own parser (its defaults included); the command's ../shared/data is read under
    `data_root`. What scripts that ask about the committed tables' uploads remake (scripts/unseen_checks.py
    --tables, share_checks.py --k-changes, leftover_checks.py --table-changes)."""
    import shlex

    from training.__main__ import build_parser  # here: training.__main__ imports this module

    command = json.loads((table / "summary.json").read_text())["command"]
    args = build_parser().parse_args(shlex.split(command)[3:])  # after "python -m training"
    files, images = table_photos(Path(args.data.replace("../shared/data", str(data_root))), args.limit, args.exposure)
    kind = NoiseKind(args.kind, args.spread, args.jpeg_quality)
    return files, uploads(files, images, args.densities, noise_modes(images, args.noise), kind)


def committed_tables(eval_dir: Path, names: list[str], data_root: str | Path = "../shared/data",
                     ) -> Iterator[tuple[str, list[Path], Iterator[tuple[Path, str, float, np.ndarray, np.ndarray]]]]:
    """Each committed table in `eval_dir` (those in `names`; none named: every one), in name order, with its
    photo files and uploads (`committed_uploads`): what share_checks.py --k-changes and leftover_checks.py
    --table-changes walk."""
    for summary in sorted(eval_dir.glob("*/summary.json")):
        if names and summary.parent.name not in names:
            continue
        files, cases = committed_uploads(summary.parent, data_root)
        yield summary.parent.name, files, cases


def evaluate(data: Path, densities: tuple[float, ...], model_paths: list[Path], noises: tuple[str, ...] | None = None,
             methods: list[str] | None = None, limit: int = 0, threads: int = 0, progress: bool = True,
             exposure: float = 1.0, x8: tuple[str, ...] = (), kind: NoiseKind = NoiseKind(),
             auto_models: Path | None = None) -> list[Row]:
    """Every (image, noise mode, density, method) scored; the order of rows is deterministic.

    Density 0 scores each method on the clean photo itself (a denoiser should leave it unchanged).
    `auto_models`: also `model=auto` over that folder's models (`auto_methods`), as the row "auto", and with
    "auto" in `x8` as "auto x8" (requests with `ensemble=8`).
    """
    from tqdm import tqdm

    if not all(0.0 <= d < 1.0 for d in densities):
        raise ValueError("densities must be in [0, 1)")
    files, images = table_photos(data, limit, exposure)
    colour = any(im.ndim == 3 for im in images)
    noises = noise_modes(images, noises)
    chosen = {name: fn for name, fn in METHODS.items()
              if (methods is None or name in methods) and (colour or name not in COLOUR_ONLY)}
    chosen.update(model_methods(model_paths, threads, x8))
    if auto_models is not None:
        ensembles = (1, 8) if AUTO in x8 else (1,)
        methods = auto_methods(auto_models, kind.jpeg_quality, threads, ensembles)
        chosen.update({AUTO if ensemble == 1 else f"{AUTO} x8": m for ensemble, m in zip(ensembles, methods)})
    rows: list[Row] = []
    jobs = uploads(files, images, densities, noises, kind)
    for path, noise, density, reference, noisy in tqdm(jobs, desc=f"evaluate {data.name}", disable=not progress,
                                                       mininterval=2, total=len(files) * len(densities) * len(noises)):
        for name, fn in chosen.items():
            started = time.perf_counter()
            out = fn(noisy)
            seconds = time.perf_counter() - started
            rows.append(Row(data.name, path.name, noise, density, name, psnr(reference, out), ssim(reference, out),
                            seconds))
    return rows


def summarise(rows: list[Row]) -> dict:
    """{noise: {method: {density: {"psnr": mean, "ssim": mean, "images": n}}}}."""
    groups: dict[tuple, list[Row]] = defaultdict(list)
    for r in rows:
        groups[(r.noise, r.method, r.density)].append(r)
    # The per-image best classical filter: for each photo the best of them, then the mean (a model must
    # beat the filter a user would have picked for that photo, not only the best one on average).
    best: dict[tuple, list[Row]] = defaultdict(list)
    for r in rows:
        if r.method in CLASSICAL:
            best[(r.noise, r.density, r.image)].append(r)
    for (noise, density, image), rs in best.items():
        top_psnr, top_ssim = max(r.psnr for r in rs), max(r.ssim for r in rs)
        groups[(noise, BEST_PER_IMAGE, density)].append(Row(rs[0].dataset, image, noise, density, BEST_PER_IMAGE,
                                                             top_psnr, top_ssim, sum(r.seconds for r in rs)))
    out: dict = {}
    for (noise, method, density), rs in groups.items():
        out.setdefault(noise, {}).setdefault(method, {})[f"{density:g}"] = {
            "psnr": round(float(np.mean([min(r.psnr, PSNR_CAP) for r in rs])), 3),
            "ssim": round(float(np.mean([r.ssim for r in rs])), 4),
            "images": len(rs),
            "seconds_per_image": round(float(np.mean([r.seconds for r in rs])), 4),
        }
    return out


def markdown(summary: dict, dataset: str, command: str, kind: NoiseKind = NoiseKind(), added: tuple[str, ...] = ()) -> str:
    lines = [f"# {dataset}", "", f"Noise: {kind.label()}.", "", f"Command: `{command}`", ""]
    lines += [f"Rows added by: `{more}`" for more in added] + ([""] if added else [])
    for noise, by_method in summary.items():
        densities = list(next(iter(by_method.values())))
        for metric, fmt in (("psnr", "{:.2f}"), ("ssim", "{:.4f}")):
            lines += [f"## {metric.upper()}, {noise} noise (mean over {next(iter(next(iter(by_method.values())).values()))['images']} images)", "",
                      "| method | " + " | ".join(densities) + " |", "|---|" + "---:|" * len(densities)]
            best = {d: max(v[d][metric] for v in by_method.values()) for d in densities}
            for method, by_density in by_method.items():
                cells = []
                for d in densities:
                    text = fmt.format(by_density[d][metric])
                    cells.append(f"**{text}**" if by_density[d][metric] == best[d] else text)
                lines.append(f"| {method} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def figure(data: Path, density: float, methods: dict[str, Callable[[np.ndarray], np.ndarray]], out: Path,
           images: int = 2, crop: int = 128, scale: int = 2, noise: str | None = None, exposure: float = 1.0,
           kind: NoiseKind = NoiseKind()) -> None:
    """A grid: per image one row of clean, noisy and each method on the same crop, labelled with PSNR."""
    from PIL import ImageDraw

    files = list_images(data)[:images]
    label_h = 18
    tiles = []
    for path in files:
        clean = over_expose(load_as_stored(path), exposure)
        mode = noise or ("per-channel" if clean.ndim == 3 else "per-pixel")
        clean, noisy = corrupt(clean, density, mode == "per-channel", noise_seed(path.name, density, mode), kind)
        h, w = clean.shape[:2]
        y, x = (h - crop) // 2, (w - crop) // 2
        row = [("clean", clean, None)] + [(name, fn(noisy), None) for name, fn in methods.items()]
        tiles.append([(name, img[y : y + crop, x : x + crop], psnr(clean, img) if name != "clean" else None) for name, img, _ in row])
    cols = len(tiles[0])
    size = crop * scale
    sheet = Image.new("RGB", (cols * (size + 4), len(tiles) * (size + label_h + 4)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(tiles):
        for c, (name, img, score) in enumerate(row):
            tile = Image.fromarray(img).convert("RGB").resize((size, size), Image.NEAREST)
            x0, y0 = c * (size + 4), r * (size + label_h + 4)
            sheet.paste(tile, (x0, y0 + label_h))
            draw.text((x0 + 2, y0 + 3), name if score is None else f"{name}: {score:.2f} dB", fill="black")
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)


def read_rows(path: Path) -> list[Row]:
    """The rows a table's per_image.csv holds (as `write_outputs` wrote them)."""
    with open(path, newline="") as f:
        return [Row(r["dataset"], r["image"], r["noise"], float(r["density"]), r["method"], float(r["psnr"]),
                    float(r["ssim"]), float(r["seconds"])) for r in csv.DictReader(f)]


def merge_rows(previous: list[Row], new: list[Row]) -> list[Row]:
    """A committed table's rows with `new` methods' rows added (replacing their old ones in the cells, noise
    mode and density, that `new` holds: a run of some densities keeps the method's others): each new method's
    rows right after those of the method it is the int8 twin of (`<name>-int8` after `<name>`), a classical
    filter's after the other classical filters, else last."""
    added = list(dict.fromkeys(r.method for r in new))
    order = [m for m in dict.fromkeys(r.method for r in previous) if m not in added]
    for method in added:
        twin_of = method.removesuffix(INT8_SUFFIX)
        if twin_of != method and twin_of in order:
            at = order.index(twin_of) + 1
        elif method in CLASSICAL:  # a classical anchor joins the others, before the models
            at = max((i + 1 for i, m in enumerate(order) if m in CLASSICAL), default=len(order))
        else:
            at = len(order)
        order.insert(at, method)
    rank = {m: i for i, m in enumerate(order)}
    replaced = {(r.method, r.noise, r.density) for r in new}
    kept = [r for r in previous if (r.method, r.noise, r.density) not in replaced] + new
    return sorted(kept, key=lambda r: (r.noise, r.density, r.image, rank[r.method]))


def write_outputs(rows: list[Row], summary: dict, out: Path, dataset: str, command: str,
                  kind: NoiseKind = NoiseKind(), added: tuple[str, ...] = ()) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "per_image.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["dataset", "image", "noise", "density", "method", "psnr", "ssim", "seconds"])
        for r in rows:
            writer.writerow([r.dataset, r.image, r.noise, r.density, r.method, f"{r.psnr:.4f}", f"{r.ssim:.5f}", f"{r.seconds:.4f}"])
    record = {"dataset": dataset, "noise": kind.label(), "command": command, **({"added_by": list(added)} if added else {})}
    (out / "summary.json").write_text(json.dumps({**record, "summary": summary}, indent=1) + "\n")
    (out / "README.md").write_text(markdown(summary, dataset, command, kind, added) + "\n")


def update_cards(summary: dict, dataset: str, model_paths: list[Path], command: str) -> None:
    """Write each model's scores, next to the noisy input's, into its model card."""
    for path in model_paths:
        scores = {
            noise: {d: {"psnr": v["psnr"], "ssim": v["ssim"], "noisy_psnr": by_method["noisy input"][d]["psnr"],
                        "best_classical_psnr": max(m[d]["psnr"] for name, m in by_method.items()
                                                   if name in METHODS and name != "noisy input")}
                    for d, v in by_method[path.stem].items()}
            for noise, by_method in summary.items() if path.stem in by_method
        }
        scores["command"] = command
        update_card(path, lambda card: card.setdefault("scores", {}).update({dataset: scores}))
