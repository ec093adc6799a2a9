"""Training speed of one architecture under each Keras backend, in one run (prints figures, not a test).

Each backend runs in its own process (Keras picks its backend at import): the `fit` machinery (same
recipe, same sampler, the compiled step), a few warm-up steps (compilation), then `steps` timed steps.
Reported as patch pixels per second, with numpy's sgemm from the same run for scale.

  python -m training train-speed --data ../shared/data/CBSD432 --backends tensorflow jax --steps 30
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

WARMUP_STEPS = 3


def measure(backend: str, data: str, arch: str, steps: int, batch: int | None, patch: int | None, threads: int) -> dict:
    """Runs inside the per-backend process."""
    import keras

    from training.data import PatchSampler
    from training.fit import FitConfig, Run

    with tempfile.TemporaryDirectory() as out:
        cfg = FitConfig(arch=arch, data=[data], out=out, epochs=1, steps=steps, batch=batch, patch=patch,
                        threads=threads, max_images=40, backend=backend).resolved()
        keras.utils.set_random_seed(cfg.seed)
        run = Run(cfg, log=lambda *_: None)
        images = run.load_photos(threads)
        step = run.train_step()
        batches = PatchSampler(images, run.recipe, cfg.patch, cfg.batch, cfg.seed).prefetch()
        for _ in range(WARMUP_STEPS):
            batch_ = next(batches)
            step(batch_)
        waited = 0.0
        started = time.perf_counter()
        for _ in range(steps):
            t = time.perf_counter()
            batch_ = next(batches)
            waited += time.perf_counter() - t
            step(batch_)
        seconds = time.perf_counter() - started
    pixels = steps * cfg.batch * cfg.patch * cfg.patch
    return {"backend": backend, "arch": arch, "batch": cfg.batch, "patch": cfg.patch, "steps": steps,
            "steps_per_second": round(steps / seconds, 3),
            "patch_megapixels_per_second": round(pixels / seconds / 1e6, 4),
            "waiting_for_batches_percent": round(100 * waited / seconds, 1)}


def run_all(backends: list[str], data: str, arch: str, steps: int, batch: int | None, patch: int | None,
            threads: int) -> list[dict]:
    rows = []
    for backend in backends:
        args = [backend, data, arch, str(steps), str(batch or 0), str(patch or 0), str(threads)]
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        done = subprocess.run([sys.executable, "-m", "training.train_speed", *args], capture_output=True, text=True,
                              env=env)
        if done.returncode != 0:
            raise RuntimeError(f"{backend}: {done.stderr[-2000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"{backend:12s} {rows[-1]['steps_per_second']:8.3f} steps/s  "
              f"{rows[-1]['patch_megapixels_per_second']:8.4f} M patch pixels/s  "
              f"(batch {rows[-1]['batch']} of {rows[-1]['patch']}x{rows[-1]['patch']}; "
              f"{rows[-1]['waiting_for_batches_percent']}% of the time waiting for batches)", flush=True)
    return rows


if __name__ == "__main__":  # the per-backend process
    backend, data, arch, steps, batch, patch, threads = sys.argv[1:8]
    print(json.dumps(measure(backend, data, arch, int(steps), int(batch) or None, int(patch) or None, int(threads))))
