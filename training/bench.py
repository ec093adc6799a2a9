"""Throughput and peak memory of every shipped model and the classical filters, side by side.

Each method runs in a fresh subprocess, so its peak resident memory (ru_maxrss) is its own: Python,
onnxruntime and the model included. Numbers are for this machine; the sgemm figure gives the scale.
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
    return f"{name}, {vector}"


def photo(height: int, width: int) -> np.ndarray:
    """A photo-like test image of any size: skimage's astronaut, tiled (also scripts/check_cuda.py's)."""
    from skimage import data

    base = data.astronaut()
    reps = (-(-height // base.shape[0]), -(-width // base.shape[1]), 1)
    return np.ascontiguousarray(np.tile(base, reps)[:height, :width])


def _photo(height: int, width: int, density: float) -> np.ndarray:
    from app.noise import salt_and_pepper

    return salt_and_pepper(photo(height, width), density, seed=0)


def measure_one(method: str, height: int, width: int, repeats: int, threads: int, density: float) -> dict:
    """Runs inside the subprocess: load, warm up once, time `repeats` runs, report peak memory."""
    image = _photo(height, width, density)
    if method.endswith(".onnx"):
        from app.imaging import DecodedImage
        from app.inference import Denoiser

        denoiser = Denoiser(Path(method), threads=threads)
        run = lambda: denoiser.denoise(DecodedImage(image))  # noqa: E731
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


def bench(models: list[Path], sizes: list[tuple[int, int]], repeats: int, threads: int, classical: bool,
          density: float = 0.3) -> dict:
    methods = [str(p) for p in models] + (list(CLASSICAL) if classical else [])
    rows = []
    for height, width in sizes:
        for method in methods:
            cmd = [sys.executable, "-m", "training.bench", method, str(height), str(width), str(repeats), str(threads), str(density)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            rows.append(json.loads(out))
            print(_row_text(rows[-1]), flush=True)
    return {"cpu": cpu_description(), "sgemm_gflops": round(sgemm_gflops(), 1), "threads": threads, "density": density,
            "repeats": repeats, "rows": rows}


def _row_text(row: dict) -> str:
    return (f"{row['method']:24s} {row['size']:>10s} {row['median_seconds'] * 1000:10.1f} ms "
            f"{row['megapixels_per_second']:8.2f} MP/s {row['peak_rss_mb']:9.1f} MB peak")


if __name__ == "__main__":  # the per-method subprocess
    method, h, w, repeats, threads, density = sys.argv[1:7]
    print(json.dumps(measure_one(method, int(h), int(w), int(repeats), int(threads), float(density))))
