"""Training speed of one architecture under each Keras backend, in one run (prints figures, not a test).

Each backend runs in its own process (Keras picks its backend at import): the `fit` machinery (same
recipe, same sampler, the compiled step), a few warm-up steps (compilation), then `steps` timed steps.
Reported as patch pixels per second, with numpy's sgemm from the same run for scale.

  python -m training train-speed --data ../shared/data/CBSD432 --backends tensorflow jax jax-device --steps 30
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
    """Runs inside the per-backend process. `backend` "jax-device": JAX with the device sampler (crops and noise
    in the jitted step, training/device_steps.py). Also times the sampler alone (patches a second), so
    the figures say where the time goes: drawing batches or the step."""
    import keras

    from training.fit import FitConfig, Run

    device = backend == "jax-device"
    with tempfile.TemporaryDirectory() as out:
        cfg = FitConfig(arch=arch, data=[data], out=out, epochs=1, steps=steps, batch=batch, patch=patch,
                        threads=threads, max_images=40, backend="jax" if device else backend,
                        sampler="device" if device else "host").resolved()
        keras.utils.set_random_seed(cfg.seed)
        run = Run(cfg, log=lambda *_: None)
        images = run.load_photos(threads)
        if device:
            steps_per_second, waited, sampler_rate = _device(run, images, steps)
        else:
            steps_per_second, waited, sampler_rate = _host(run, images, steps)
    return {"backend": backend, "arch": arch, "batch": cfg.batch, "patch": cfg.patch, "steps": steps,
            "steps_per_second": round(steps_per_second, 3),
            "patch_megapixels_per_second": round(steps_per_second * cfg.batch * cfg.patch**2 / 1e6, 4),
            "waiting_for_batches_percent": round(100 * waited, 1),
            "sampler_patches_per_second": round(sampler_rate, 1)}


def _host(run, images, steps: int) -> tuple[float, float, float]:
    """(steps a second, share of the time waiting for batches, patches a second of one sampler thread)."""
    from training.data import PatchSampler

    cfg = run.cfg
    sampler = PatchSampler(images, run.recipe, cfg.patch, cfg.batch, cfg.seed + 1)
    started = time.perf_counter()
    for _ in range(max(2, steps // 5)):
        sampler.next_batch()
    sampler_rate = max(2, steps // 5) * cfg.batch / (time.perf_counter() - started)
    step = run.train_step()
    batches = PatchSampler(images, run.recipe, cfg.patch, cfg.batch, cfg.seed).prefetch()
    for _ in range(WARMUP_STEPS):
        step(next(batches))
    waited = 0.0
    started = time.perf_counter()
    for _ in range(steps):
        t = time.perf_counter()
        batch_ = next(batches)
        waited += time.perf_counter() - t
        step(batch_)
    seconds = time.perf_counter() - started
    return steps / seconds, waited / seconds, sampler_rate


def _device(run, images, steps: int) -> tuple[float, float, float]:
    """As `_host`, for the device sampler: no waiting (the draw is part of the step), and the jitted
    sampler alone timed apart."""
    import jax

    from training.device_sampler import sample
    from training.device_steps import DeviceTrainer

    cfg = run.cfg
    trainer = DeviceTrainer(run, images)
    draw = jax.jit(lambda key: sample(key, trainer.photos, run.recipe, cfg.patch, cfg.batch))
    jax.block_until_ready(draw(jax.random.key(0)))
    started = time.perf_counter()
    for i in range(max(2, steps // 5)):
        jax.block_until_ready(draw(jax.random.key(i + 1)))
    sampler_rate = max(2, steps // 5) * cfg.batch / (time.perf_counter() - started)
    _, _, timing = trainer.epoch(0, lambda t: run.learning_rate(t))  # its first step compiles, not timed
    return timing["steps_per_second"], 0.0, sampler_rate


def run_all(backends: list[str], data: str, arch: str, steps: int, batch: int | None, patch: int | None,
            threads: int) -> list[dict]:
    rows = []
    for backend in backends:
        args = [backend, data, arch, str(steps), str(batch or 0), str(patch or 0), str(threads)]
        env = {**os.environ, "KERAS_BACKEND": backend.removesuffix("-device"), "TF_CPP_MIN_LOG_LEVEL": "2"}
        done = subprocess.run([sys.executable, "-m", "training.train_speed", *args], capture_output=True, text=True,
                              env=env)
        if done.returncode != 0:
            raise RuntimeError(f"{backend}: {done.stderr[-2000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"{backend:12s} {rows[-1]['steps_per_second']:8.3f} steps/s  "
              f"{rows[-1]['patch_megapixels_per_second']:8.4f} M patch pixels/s  "
              f"(batch {rows[-1]['batch']} of {rows[-1]['patch']}x{rows[-1]['patch']}; "
              f"{rows[-1]['waiting_for_batches_percent']}% of the time waiting for batches; the sampler alone "
              f"{rows[-1]['sampler_patches_per_second']} patches/s)", flush=True)
    return rows


if __name__ == "__main__":  # the per-backend process
    backend, data, arch, steps, batch, patch, threads = sys.argv[1:8]
    print(json.dumps(measure(backend, data, arch, int(steps), int(batch) or None, int(patch) or None, int(threads))))
