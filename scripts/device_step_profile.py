"""Where a device training step's time goes (`fit --sampler device`, JAX): the sampler alone, the model's
forward pass, and its forward and backward pass with the run's loss, each jitted and timed apart.

Why: on the first GPU trip (docs/gpu.md, "The first trip (stop 33)") the blind stage's step ran at 11.8 a
second against jpeg-unet's 230-272, 23 times slower per patch pixel, and as slow with the GPU to itself.
The parts are timed on synthetic photos (noise statistics do not change the cost), with the model's
initial weights, so the probe needs neither the photo sets nor a checkpoint.

  KERAS_BACKEND=jax python scripts/device_step_profile.py --arch blind-unet-chroma --loss blind \
      --recipe train_only= --batch 64 --patch 128 --out /tmp/profile.txt
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def timed(name: str, fn, args: tuple, repeats: int, pixels: int, report) -> None:
    """Compile (the first call), then `repeats` calls; the device is waited for after each."""
    import jax

    started = time.perf_counter()
    jax.block_until_ready(fn(*args))
    compiled = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(fn(*args))
    each = (time.perf_counter() - started) / repeats
    report(f"{name}: compile {compiled:.1f} s, {each * 1e3:.2f} ms a call, {pixels / each / 1e6:.1f} M patch pixels/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", required=True)
    parser.add_argument("--loss", default=None, help="fit's --loss (default: the recipe's)")
    parser.add_argument("--recipe", action="append", default=[], help="fit's --recipe key=value")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, help="also append each line to this file (as it is measured)")
    parser.add_argument("--convs", action="store_true",
                        help="also one 3x3 convolution of 16 features, plain and dilated by 2, forward and backward "
                        "(blind-unet-chroma's detector block is dilated; jpeg-unet has none: the first suspect)")
    args = parser.parse_args()

    import jax
    import keras
    from keras import ops

    from training.device_sampler import sample
    from training.device_steps import DeviceTrainer
    from training.fit import FitConfig, Run

    if keras.backend.backend() != "jax":
        raise SystemExit("run with KERAS_BACKEND=jax")

    def report(line: str) -> None:
        print(line, flush=True)
        if args.out:
            with args.out.open("a") as f:
                f.write(line + "\n")

    report(f"{args.arch}, batch {args.batch} of {args.patch}x{args.patch}, {jax.devices()[0].device_kind}")
    recipe = dict(item.split("=", 1) for item in args.recipe)
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (321, 481, 3), dtype=np.uint8) for _ in range(8)]
    with tempfile.TemporaryDirectory() as out:
        cfg = FitConfig(arch=args.arch, data=[out], out=out, epochs=1, steps=1, batch=args.batch, patch=args.patch,
                        backend="jax", sampler="device", recipe=recipe,
                        **({"loss": args.loss} if args.loss else {})).resolved()
        run = Run(cfg, log=lambda *_: None)
        trainer = DeviceTrainer(run, photos)
    pixels = args.batch * args.patch**2
    draw = jax.jit(lambda key: sample(key, trainer.photos, run.recipe, cfg.patch, cfg.batch))
    timed("sampler alone", draw, (jax.random.key(0),), args.repeats, pixels, report)
    noisy, clean = draw(jax.random.key(1))
    trainable, non_trainable, _ = trainer._state()
    model, loss_of = trainer.trained, run.loss()

    forward = jax.jit(lambda tr, ntr, x: model.stateless_call(tr, ntr, x, training=False)[0])
    timed("forward", forward, (trainable, non_trainable, noisy), args.repeats, pixels, report)

    def loss(tr, ntr, x, y):
        predicted, _ = model.stateless_call(tr, ntr, x, training=True)
        return loss_of(ops.concatenate([y, x], axis=-1), predicted)

    backward = jax.jit(jax.value_and_grad(loss))
    timed("forward and backward, the run's loss", backward, (trainable, non_trainable, noisy, clean), args.repeats,
          pixels, report)
    if args.convs:
        features = jax.numpy.asarray(np.random.default_rng(1).random((args.batch, args.patch, args.patch, 16),
                                                                     dtype=np.float32))
        kernel = jax.numpy.asarray(np.random.default_rng(2).normal(0, 0.1, (3, 3, 16, 16)).astype(np.float32))
        for dilation in (1, 2):
            def conv_loss(w, x, dilation=dilation):
                y = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", rhs_dilation=(dilation, dilation),
                                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
                return jax.numpy.abs(y).mean()
            grads = jax.jit(jax.grad(conv_loss, argnums=(0, 1)))
            timed(f"3x3 conv of 16 features, dilation {dilation}, forward and backward", grads, (kernel, features),
                  args.repeats, pixels, report)


if __name__ == "__main__":
    main()
