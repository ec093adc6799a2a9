"""Fit an architecture on photo folders: seeded, resumable, checkpointed, guarded against collapse.

A run folder holds everything needed to resume or export:
  state.json           arguments, finished epochs, learning curve, best validation PSNR
  last.weights.h5      weights after the last finished epoch (+ optimizer.npz: Adam's moments)
  best.weights.h5      weights with the best validation PSNR (what `export` ships)
  train.log            one line per epoch
Re-running the same command continues from the last finished epoch. `init` starts from other weights
(a run folder or a shipped ONNX model: fine-tuning), `recipe` overrides fields of the architecture's
recipe (e.g. the share of grey patches) for this run.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from app.cpus import available_cpus
from app.metrics import psnr, to_uint8
from training import architectures
from training.data import PatchSampler, list_images, load_rgb, split_files, validation_set
from training.recipe import Recipe

VAL_DENSITIES = (0.1, 0.3, 0.5, 0.7, 0.9)
GUARD_DB = 0.5  # roll back when validation PSNR falls this far below the best ...
GUARD_LOSS_FACTOR = 2.0  # ... or the epoch's loss is this many times the best epoch's


@dataclass
class FitConfig:
    arch: str
    data: list[str]
    out: str
    epochs: int = 10
    steps: int = 500
    patch: int | None = None  # None: the architecture's recipe
    batch: int | None = None
    lr: float | None = None
    seed: int = 0
    val_fraction: float = 0.2
    loss: str | None = None  # None: the recipe's ("l1", "l1-per-impulse" or "bce")
    threads: int = 0  # 0: the CPUs this process may use
    max_images: int = 0  # 0: all (tests use a few)
    init: str | None = None  # start from: a run folder, a .weights.h5 file or an exported .onnx model
    recipe: dict[str, str] = field(default_factory=dict)  # recipe fields to override, as text

    def effective_recipe(self) -> Recipe:
        return architectures.get(self.arch).RECIPE.with_overrides(self.recipe)

    def resolved(self) -> "FitConfig":
        recipe = self.effective_recipe()
        return FitConfig(**{**asdict(self), "patch": self.patch or recipe.patch, "loss": self.loss or recipe.loss,
                            "batch": self.batch or recipe.batch, "lr": self.lr or recipe.learning_rate})


@dataclass
class RunState:
    config: dict
    epochs_done: int = 0
    best_val_psnr: float = -math.inf
    lr_scale: float = 1.0
    history: list[dict] = field(default_factory=list)
    train_files: int = 0
    val_files: int = 0
    seconds: float = 0.0
    init_weights_sha256: str = ""  # fingerprint of the weights `init` started from


def _lr_factor(step: int, total: int, cosine: bool, warmup: int = 300) -> float:
    """Linear warm-up (Adam's first steps are the violent ones), then cosine decay to 1%."""
    if not cosine:
        return 1.0
    ramp = min(1.0, (step + 1) / min(warmup, max(1, total // 10)))
    return ramp * max(0.01, 0.5 * (1 + math.cos(math.pi * step / total)))


def _loss_function(name: str):
    """loss(noisy, clean, predicted) -> scalar.

    "l1-per-impulse": mean absolute error over each patch's 0/1 values, then over patches, so a patch
    at density 0.05 weighs as much as one at 0.9 (plain L1 over all values is dominated by dense
    patches, while PSNR at low density depends on small errors on few values).
    """
    import keras
    import tensorflow as tf

    if name == "bce":
        bce = keras.losses.BinaryCrossentropy()
        return lambda x, y, p: bce(y, p)
    if name == "l1":
        return lambda x, y, p: tf.reduce_mean(tf.abs(y - p))
    penalties = {
        "l1-per-impulse": lambda e: tf.abs(e),
        "l2-per-impulse": lambda e: tf.square(e),
        # sqrt(e^2 + eps^2) - eps: quadratic below ~2.5 grey levels (small errors, small gradients), L1 above
        "charbonnier-per-impulse": lambda e: tf.sqrt(tf.square(e) + 1e-4) - 1e-2,
    }
    if name in penalties:
        penalty = penalties[name]

        def per_impulse(x, y, p):
            impulse = tf.cast((x <= 0.0) | (x >= 1.0), x.dtype)
            error = tf.reduce_sum(penalty(y - p) * impulse, axis=[1, 2, 3])
            return tf.reduce_mean(error / (tf.reduce_sum(impulse, axis=[1, 2, 3]) + 1.0))
        return per_impulse
    raise ValueError(f"unknown loss {name!r}")


def _load_images(folders: list[str], val_fraction: float, seed: int, max_images: int):
    train, val = [], []
    for folder in folders:
        files = list_images(Path(folder))
        if max_images:
            files = files[:max_images]
        if not files:
            raise ValueError(f"no images under {folder}")
        t, v = split_files(files, val_fraction, seed)
        train += t
        val += v
    return train, val


def fit(config: FitConfig, log=print) -> RunState:
    """Train (or resume) the run described by `config`; returns the final state."""
    import keras
    import tensorflow as tf

    cfg = config.resolved()
    threads = cfg.threads or available_cpus()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already started in this process (tests): keep its threads
        pass
    keras.utils.set_random_seed(cfg.seed)

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    module = architectures.get(cfg.arch)
    recipe = cfg.effective_recipe()
    model = module.build()

    state_path = out / "state.json"
    state = RunState(config=asdict(cfg))
    if state_path.exists():
        saved = RunState(**json.loads(state_path.read_text()))
        if saved.config != asdict(cfg):
            raise ValueError(f"{out} holds a run with other settings; use another --out or the same arguments")
        state = saved

    train_files, val_files = _load_images(cfg.data, cfg.val_fraction, cfg.seed, cfg.max_images)
    state.train_files, state.val_files = len(train_files), len(val_files)
    log(f"{cfg.arch}: {model.count_params():,} parameters; {len(train_files)} training and "
        f"{len(val_files)} validation photos; {threads} threads")
    train_images = [load_rgb(p) for p in train_files]
    val_noisy, val_clean = validation_set([load_rgb(p) for p in val_files], cfg.patch, VAL_DENSITIES, cfg.seed + 1, 1,
                                          grey_per_pixel=recipe.grey_photos_per_pixel)

    total_steps = cfg.epochs * cfg.steps
    optimizer = keras.optimizers.Adam(learning_rate=cfg.lr, clipnorm=recipe.clipnorm)
    optimizer.build(model.trainable_variables)
    lr_var = optimizer.learning_rate  # a variable: the loop sets it each step (cosine decay, guard)

    loss_fn = _loss_function(cfg.loss)

    @tf.function(reduce_retracing=True)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(x, y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def save(prefix: str) -> None:
        model.save_weights(out / f"{prefix}.weights.h5")
        np.savez(out / f"{prefix}.optimizer.npz", *[v.numpy() for v in optimizer.variables])

    def restore(prefix: str) -> None:
        model.load_weights(out / f"{prefix}.weights.h5")
        with np.load(out / f"{prefix}.optimizer.npz") as saved:
            for var, key in zip(optimizer.variables, saved.files):
                var.assign(saved[key])

    def validate() -> dict[str, float]:
        scores: dict[str, list[float]] = {str(d): [] for d in VAL_DENSITIES}
        for i in range(0, len(val_noisy), 32):
            pred = model(val_noisy[i : i + 32], training=False).numpy()
            for j, p in enumerate(pred):
                k = i + j
                scores[str(VAL_DENSITIES[k % len(VAL_DENSITIES)])].append(psnr(val_clean[k], to_uint8(p)))
        return {d: float(np.mean(v)) for d, v in scores.items()}

    if state.epochs_done:
        restore("last")
        log(f"resumed after epoch {state.epochs_done} (best validation PSNR {state.best_val_psnr:.2f} dB)")
    elif cfg.init:
        from training.export import weights_sha256
        from training.init_weights import load_initial_weights

        load_initial_weights(model, Path(cfg.init))
        state.init_weights_sha256 = weights_sha256(model)
        # The starting point is the score to beat: the best checkpoint is kept only if training improves it.
        val = validate()
        state.best_val_psnr = float(np.mean(list(val.values())))
        save("best")
        state_path.write_text(json.dumps(asdict(state), indent=1))
        log(f"started from {cfg.init} (weights {state.init_weights_sha256[:12]}...): val PSNR "
            f"{state.best_val_psnr:.2f} dB (" + " / ".join(f"{v:.2f}" for v in val.values()) + ")")

    from tqdm import tqdm

    sampler = PatchSampler(train_images, recipe, cfg.patch, cfg.batch, cfg.seed + 1000 * state.epochs_done)
    batches = sampler.prefetch()
    for epoch in range(state.epochs_done, cfg.epochs):
        started = time.time()
        losses: list[float] = []
        bar = tqdm(range(cfg.steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", mininterval=5, leave=False)
        collapsed = False
        for step in bar:
            t = epoch * cfg.steps + step
            lr_var.assign(cfg.lr * state.lr_scale * _lr_factor(t, total_steps, recipe.cosine_decay))
            batch = next(batches)
            loss = float(train_step(batch.noisy, batch.clean))
            if not math.isfinite(loss):
                collapsed = True
                break
            losses.append(loss)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        val = {} if collapsed else validate()
        mean_val = float(np.mean(list(val.values()))) if val else -math.inf
        mean_loss = float(np.mean(losses)) if losses else math.inf
        best_loss = min((h["loss"] for h in state.history), default=math.inf)
        if collapsed or mean_val < state.best_val_psnr - GUARD_DB or mean_loss > GUARD_LOSS_FACTOR * best_loss:
            # Guard: a diverged or collapsed net goes back to its best weights at half the learning rate.
            # (A loss spike at epoch 6 of the first LeakyReLU run threw the net back to the pre-fill's level.)
            state.lr_scale *= 0.5
            restore("best" if (out / "best.weights.h5").exists() else "last")
            log(f"epoch {epoch + 1}: collapse (loss {losses[-1] if losses else 'nan'}, val {mean_val:.2f} dB); "
                f"rolled back, learning rate x{state.lr_scale}")
            continue
        state.epochs_done = epoch + 1
        state.seconds += time.time() - started
        record = {"epoch": epoch + 1, "loss": mean_loss, "val_psnr": mean_val,
                  "val_psnr_by_density": val, "lr": float(lr_var.numpy()), "seconds": round(state.seconds, 1)}
        state.history.append(record)
        if mean_val > state.best_val_psnr:
            state.best_val_psnr = mean_val
            save("best")
        save("last")
        state_path.write_text(json.dumps(asdict(state), indent=1))
        line = (f"epoch {epoch + 1}: loss {record['loss']:.5f}  val PSNR {mean_val:.2f} dB  ("
                + " / ".join(f"{v:.2f}" for v in val.values()) + f" at {'/'.join(val)})  "
                + f"{time.time() - started:.0f} s")
        log(line)
        with open(out / "train.log", "a") as f:
            f.write(line + "\n")
    return state
