"""Throughput and peak memory of every shipped model and the classical filters, side by side.

Each method runs in a fresh subprocess, so its peak resident memory (ru_maxrss) is its own: Python,
onnxruntime and the model included. Numbers are for this machine; the sgemm figure gives the scale.
An int8 twin and its float model (both in the list) are also timed in one subprocess in turn, A B A B:
these hosts drift by 10-30% between minutes, so the speed-up quoted is the median of pair-by-pair ratios.
Not a test: it prints figures (and can write them into the model cards).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CLASSICAL = ("median 3x3", "adaptive median 7x7", "switching mean", "inpaint (Telea)")


def sgemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    a @ a
    started = time.perf_counter()
    for _ in range(repeats):
        a @ a
    return 2 * n**3 * repeats / (time.perf_counter() - started) / 1e9


def cpu_description() -> str:
    """The processor, as /proc/cpuinfo names it, and its widest vector unit: the build machines'
    hosts change between sessions, and the same model ran 2x slower on one than on another."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "unknown CPU")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    # int8 convolutions: VNNI multiplies u8 x s8 in one instruction without 16-bit saturation; without it
    # (plain AVX2) onnxruntime needs the twins' 7-bit weights and gains less (training/quantize.py).
    vnni = " with VNNI" if {"avx512_vnni", "avx_vnni"} & set(flags) else ""
    return f"{name}, {vector}{vnni}"


def photo(height: int, width: int) -> np.ndarray:
    """A photo-like test image of any size: skimage's astronaut, tiled (also scripts/check_cuda.py's)."""
    from skimage import data

    base = data.astronaut()
    reps = (-(-height // base.shape[0]), -(-width // base.shape[1]), 1)
    return np.ascontiguousarray(np.tile(base, reps)[:height, :width])


def _photo(height: int, width: int, density: float) -> np.ndarray:
    from app.noise import salt_and_pepper

    return salt_and_pepper(photo(height, width), density, seed=0)


def _model_run(path: str, image: np.ndarray, threads: int):
    """One call of the service's own `Denoiser` on `image`."""
    from app.imaging import DecodedImage
    from app.inference import Denoiser

    denoiser = Denoiser(Path(path), threads=threads)
    return lambda: denoiser.denoise(DecodedImage(image))


def measure_one(method: str, height: int, width: int, repeats: int, threads: int, density: float) -> dict:
    """Runs inside the subprocess: load, warm up once, time `repeats` runs, report peak memory."""
    image = _photo(height, width, density)
    if method.endswith(".onnx"):
        run = _model_run(method, image, threads)
        name = Path(method).stem
    else:
        import cv2

        from training.baselines import METHODS

        cv2.setNumThreads(threads)
        run = lambda: METHODS[method](image)  # noqa: E731
        name = method
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    seconds = float(np.median(times))
    return {"method": name, "size": f"{width}x{height}", "median_seconds": round(seconds, 4),
            "megapixels_per_second": round(height * width / 1e6 / seconds, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def measure_pair(first: str, second: str, height: int, width: int, repeats: int, threads: int,
                 density: float) -> dict:
    """Runs inside the subprocess: two models in turn, `repeats` pairs after one warm-up each; the ratio is
    the first's time / the second's in each pair (median, min, max). In turn, so a drift in the machine's
    speed (these hosts are shared) moves both sides of a ratio alike."""
    image = _photo(height, width, density)
    runs = [_model_run(first, image, threads), _model_run(second, image, threads)]
    for run in runs:
        run()
    ratios = []
    for _ in range(repeats):
        seconds = []
        for run in runs:
            started = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - started)
        ratios.append(seconds[0] / seconds[1])
    return {"first": Path(first).stem, "second": Path(second).stem, "size": f"{width}x{height}", "pairs": repeats,
            "ratio_median": round(float(np.median(ratios)), 3), "ratio_min": round(min(ratios), 3),
            "ratio_max": round(max(ratios), 3)}


def _as_twin_pair(pair: dict) -> dict:
    """A (float model, int8 twin) pair as the cards record it: the twin's speed-up over its float model."""
    return {"float": pair["first"], "int8": pair["second"], "size": pair["size"], "pairs": pair["pairs"],
            "speedup_median": pair["ratio_median"], "speedup_min": pair["ratio_min"], "speedup_max": pair["ratio_max"]}


def twin_pairs(models: list[Path]) -> list[tuple[Path, Path]]:
    """(float model, its int8 twin) for every twin in `models` whose float model is there too (its card's
    `int8_of`)."""
    from app.cards import int8_source, read_card

    by_name = {p.stem: p for p in models}
    pairs = []
    for path in models:
        source = (int8_source(read_card(path, missing_ok=True)) or {}).get("name")
        if source in by_name:
            pairs.append((by_name[source], path))
    return pairs


def _subprocess(*args: object) -> dict:
    cmd = [sys.executable, "-m", "training.bench", *map(str, args)]
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])


def pair_in_subprocess(first: Path | str, second: Path | str, height: int, width: int, repeats: int, threads: int,
                       density: float) -> dict:
    """`measure_pair` in a fresh process (no other library's threads or arena beside onnxruntime's)."""
    return _subprocess("--pair", first, second, height, width, repeats, threads, density)


def bench(models: list[Path], sizes: list[tuple[int, int]], repeats: int, threads: int, classical: bool,
          density: float = 0.3, pairs: list[tuple[Path, Path]] = ()) -> dict:
    """Each method alone (`rows`), each int8 twin in turn with its float model (`int8_pairs`), and each of
    `pairs` in turn (`pairs`: the first's time over the second's, the figure a speed target compares)."""
    methods = [str(p) for p in models] + (list(CLASSICAL) if classical else [])
    rows, twins, timed_pairs = [], [], []
    for height, width in sizes:
        for method in methods:
            rows.append(_subprocess(method, height, width, repeats, threads, density))
            print(_row_text(rows[-1]), flush=True)
        for float_model, twin in twin_pairs(models):
            twins.append(_as_twin_pair(pair_in_subprocess(float_model, twin, height, width, repeats, threads, density)))
            print(_twin_text(twins[-1]), flush=True)
        for first, second in pairs:
            timed_pairs.append(pair_in_subprocess(first, second, height, width, repeats, threads, density))
            print(pair_text(timed_pairs[-1]), flush=True)
    return {"cpu": cpu_description(), "sgemm_gflops": round(sgemm_gflops(), 1), "threads": threads, "density": density,
            "repeats": repeats, "rows": rows, "int8_pairs": twins, "pairs": timed_pairs}


def _twin_text(pair: dict) -> str:
    return (f"{pair['int8'] + ' vs float':24s} {pair['size']:>10s} {pair['speedup_median']:9.2f}x faster "
            f"(median of {pair['pairs']} pairs in turn; {pair['speedup_min']:.2f}-{pair['speedup_max']:.2f})")


def pair_text(pair: dict) -> str:
    return (f"{pair['first'] + ' / ' + pair['second']:24s} {pair['size']:>10s} {pair['ratio_median']:9.2f}x the time "
            f"(median of {pair['pairs']} pairs in turn; {pair['ratio_min']:.2f}-{pair['ratio_max']:.2f})")


def _row_text(row: dict) -> str:
    return (f"{row['method']:24s} {row['size']:>10s} {row['median_seconds'] * 1000:10.1f} ms "
            f"{row['megapixels_per_second']:8.2f} MP/s {row['peak_rss_mb']:9.1f} MB peak")


if __name__ == "__main__":  # the per-method (or per-pair) subprocess
    if sys.argv[1] == "--pair":
        a, b, h, w, repeats, threads, density = sys.argv[2:9]
        print(json.dumps(measure_pair(a, b, int(h), int(w), int(repeats), int(threads), float(density))))
    else:
        method, h, w, repeats, threads, density = sys.argv[1:7]
        print(json.dumps(measure_one(method, int(h), int(w), int(repeats), int(threads), float(density))))
