"""GPU check: every shipped model on onnxruntime's CUDA provider, against the same model on the CPU (int8
twins excepted: the service runs their float models on CUDA).

For a machine with an NVIDIA GPU and the `gpu` extra (onnxruntime-gpu); CI has no GPU, so this is a
script, not a test. Per model it prints how far the CUDA output is from the CPU output (uint8 levels
and share of values that differ), both PSNRs against the clean photo, and the CUDA and CPU times at
each size (whole call, uint8 in and out, and the model's share of it), and the GPU memory in use.
cuDNN picks its own convolution algorithms, so a level here and there may differ; the check fails
when any value is off by more than `--max-levels` or the PSNRs differ by more than 0.05 dB.

    python scripts/check_cuda.py --sizes 512x512 1920x1080 3840x2160
    python scripts/check_cuda.py --sizes 1920x1080 --tile-size 1024 --cudnn-search EXHAUSTIVE   # docs/gpu.md
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from app.cards import int8_source, read_card
from app.imaging import DecodedImage
from app.inference import Denoiser, choose_providers
from app.noise import salt_and_pepper
from app.quality import psnr
from training.bench import photo


def timed(denoiser: Denoiser, image: np.ndarray, repeats: int) -> tuple[np.ndarray, float, float]:
    """The result, and the median wall time and model time of `repeats` runs after one warm-up."""
    out = denoiser.denoise(DecodedImage(image)).image.pixels
    times, model = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        model.append(denoiser.denoise(DecodedImage(image)).seconds)
        times.append(time.perf_counter() - started)
    return out, float(np.median(times)), float(np.median(model))


def gpu_memory_mb() -> int | None:
    """GPU memory in use (nvidia-smi). onnxruntime's arena keeps what it once took, so after a size's
    runs this is that size's peak, plus the CUDA context; None without nvidia-smi."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return int(out.split()[0])


def check(model: Path, sizes: list[tuple[int, int]], density: float, repeats: int, max_levels: int,
          tile_size: int = 0, cudnn_search: str | None = None) -> list[dict]:
    providers = choose_providers("cuda")
    if cudnn_search:  # the service's choice is HEURISTIC (app/inference.py: CUDA_OPTIONS)
        providers[0][1]["cudnn_conv_algo_search"] = cudnn_search
    gpu = Denoiser(model, providers, tile_size=tile_size)
    cpu = Denoiser(model, ["CPUExecutionProvider"])
    if gpu.provider != "CUDAExecutionProvider":
        raise SystemExit(f"{model.stem}: the session runs on {gpu.provider}, not CUDA")
    rows = []
    for height, width in sizes:
        clean = photo(height, width)
        noisy = salt_and_pepper(clean, density, seed=0)
        on_gpu, gpu_s, model_s = timed(gpu, noisy, repeats)
        on_cpu, cpu_s, _ = timed(cpu, noisy, 1)
        diff = np.abs(on_gpu.astype(np.int16) - on_cpu.astype(np.int16))
        row = {"model": model.stem, "size": f"{width}x{height}", "density": density,
               "max_levels": int(diff.max()), "share_differing": round(float((diff > 0).mean()), 6),
               "psnr_cuda": round(psnr(clean, on_gpu), 3), "psnr_cpu": round(psnr(clean, on_cpu), 3),
               "cuda_ms": round(gpu_s * 1000, 2), "cuda_mp_per_s": round(height * width / 1e6 / gpu_s, 1), "cuda_model_ms": round(model_s * 1000, 2),
               "cpu_ms": round(cpu_s * 1000, 1), "tile": gpu.tile_size, "gpu_memory_mb": gpu_memory_mb()}
        row["ok"] = row["max_levels"] <= max_levels and abs(row["psnr_cuda"] - row["psnr_cpu"]) <= 0.05
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", default=str(Path(__file__).resolve().parent.parent / "models"))
    parser.add_argument("--sizes", nargs="+", default=["512x512", "1920x1080"], help="WxH")
    parser.add_argument("--density", type=float, default=0.3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--max-levels", type=int, default=2, help="largest allowed CUDA-vs-CPU difference (uint8)")
    parser.add_argument("--tile-size", type=int, default=0, help="CUDA tile size (0: the service's default for CUDA)")
    parser.add_argument("--cudnn-search", choices=["EXHAUSTIVE", "HEURISTIC", "DEFAULT"],
                        help="cuDNN's algorithm search (default: the service's, HEURISTIC)")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args()
    print(f"onnxruntime {ort.__version__}, providers {ort.get_available_providers()}", flush=True)
    sizes = [tuple(int(v) for v in s.lower().split("x"))[::-1] for s in args.sizes]  # WxH -> (H, W)
    # int8 twins are the CPU's (app/registry.py): on CUDA the service runs their float models, checked here.
    models = [m for m in sorted(Path(args.models_dir).glob("*.onnx")) if int8_source(read_card(m, missing_ok=True)) is None]
    rows = [row for model in models
            for row in check(model, sizes, args.density, args.repeats, args.max_levels, args.tile_size, args.cudnn_search)]
    if args.json:
        Path(args.json).write_text(json.dumps({"onnxruntime": ort.__version__, "rows": rows}, indent=1) + "\n")
    failed = [r for r in rows if not r["ok"]]
    print(f"{len(rows) - len(failed)} of {len(rows)} checks passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
