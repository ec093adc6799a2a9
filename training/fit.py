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
from app.quality import psnr, to_uint8
from training import architectures
from training.data import (
    PatchSampler,
    load_rgb,
    real_world_validation_set,
    split_folders,
    validation_cases,
    validation_groups,
    validation_set,
)
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
    loss: str | None = None  # None: the recipe's ("l1", "l1-per-impulse", "bce", "blind" or "blind-detect")
    threads: int = 0  # 0: the CPUs this process may use
    max_images: int = 0  # 0: all (tests use a few)
    init: str | None = None  # start from: a run folder, a .weights.h5 file or an exported .onnx model
    recipe: dict[str, str] = field(default_factory=dict)  # recipe fields to override, as text
    backend: str = "tensorflow"  # the Keras backend that trains (set before Keras is imported: __main__)
    sampler: str = "host"  # "host": numpy batches (training/data.py); "device": drawn in the jitted step (JAX)
    # 0: every epoch of the schedule. N: stop after epoch N of it, the learning rate where the schedule has it
    # then. For a run a time limit cut off (a GPU trip), so that `reproduce` stops where it stopped; not part
    # of what the run is, so the same run resumes with another value (on the next trip, to finish it).
    stop_after: int = 0

    def effective_recipe(self) -> Recipe:
        return architectures.get(self.arch).RECIPE.with_overrides(self.recipe)

    def resolved(self) -> "FitConfig":
        recipe = self.effective_recipe()
        return FitConfig(**{**asdict(self), "patch": self.patch or recipe.patch, "loss": self.loss or recipe.loss,
                            "batch": self.batch or recipe.batch,
                            # `--lr 0` is a rate (weights that do not move: a probe), not "the recipe's"
                            "lr": recipe.learning_rate if self.lr is None else self.lr})


@dataclass
class Validation:
    """One validation pass: mean PSNR by case (density or real-world case), which the checkpoint and the
    guard go by, and by group of photos (`training.data.validation_layouts`), which only reports: noise per
    channel and per pixel moved in opposite directions under one mean (docs/model-design.md, stop 28)."""

    by_case: dict[str, float]
    by_group: dict[str, float]

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.by_case.values())))

    def describe(self) -> str:
        """`33.02 dB (a / b / ... at case/case/...; colour/channel x, grey/pixel y)`, for the log."""
        return (f"{self.mean:.2f} dB (" + " / ".join(f"{v:.2f}" for v in self.by_case.values())
                + f" at {'/'.join(self.by_case)}; " + ", ".join(f"{g} {v:.2f}" for g, v in self.by_group.items())
                + ")")


def score_validation(predict, noisy: np.ndarray, clean: np.ndarray, cases: list[str], groups: tuple[str, ...] | list[str],
                     cap: float = math.inf) -> Validation:
    """PSNR of `predict`'s rounded uint8 outputs (as the tables) on validation patches, each capped at `cap`,
    averaged by each patch's case and by its group of photos: what `Run.validate` reports and
    scripts/blind_threshold.py picks the decision settings by. `predict` maps a float batch to outputs."""
    by_case: dict[str, list[float]] = {case: [] for case in dict.fromkeys(cases)}
    by_group: dict[str, list[float]] = {group: [] for group in sorted(set(groups))}
    for i in range(0, len(noisy), 32):
        for k, p in enumerate(np.asarray(predict(noisy[i : i + 32])), start=i):
            score = min(psnr(clean[k], to_uint8(p)), cap)
            by_case[cases[k]].append(score)
            by_group[groups[k]].append(score)
    return Validation({c: float(np.mean(v)) for c, v in by_case.items()}, {g: float(np.mean(v)) for g, v in by_group.items()})


def run_real_world_validation(config: FitConfig, cases: str | None = None):
    """A real-world run's held-out photos and its validation patches as `fit` built them (same split, seed
    and layouts), with each patch's case and group: (images, noisy, clean, cases, groups). For the scripts
    that study a run's weights (scripts/blind_threshold.py, scripts/validation_cells.py); `cases` names
    other cases of `training.data.VALIDATION_CASES` on the same photos."""
    recipe = config.effective_recipe()
    _, val_files = split_folders(config.data, config.val_fraction, config.seed, config.max_images)
    images = [load_rgb(p) for p in val_files]
    noisy, clean, names = real_world_validation_set(images, config.patch, config.seed + 1, recipe.grey_photos_per_pixel,
                                                    cases=validation_cases(recipe.validation_cases if cases is None else cases))
    cases = [names[k % len(names)] for k in range(len(noisy))]
    return images, noisy, clean, cases, validation_groups(images, recipe.grey_photos_per_pixel, len(names))


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


def make_optimizer(model, learning_rate: float, clipnorm: float, full_rate_prefix: str = "", other_lr_scale: float = 1.0):
    """Adam over `model`'s trainable variables, built. With `full_rate_prefix`, the variables of layers whose
    names start otherwise step at `other_lr_scale` times the rate (Adam's step is proportional to its
    rate, so this is a per-layer rate; its moments are Adam's own)."""
    import keras

    class LayerScaledAdam(keras.optimizers.Adam):
        def update_step(self, gradient, variable, learning_rate):
            if self._var_key(variable) in self.slow_keys:
                learning_rate = learning_rate * other_lr_scale
            return super().update_step(gradient, variable, learning_rate)

    optimizer = LayerScaledAdam(learning_rate=learning_rate, clipnorm=clipnorm)
    variables = model.trainable_variables
    optimizer.slow_keys = set() if not full_rate_prefix or other_lr_scale == 1.0 else {
        optimizer._var_key(v) for v in variables if not v.path.startswith(full_rate_prefix)}
    optimizer.build(variables)
    return optimizer


def _lr_factor(step: int, total: int, cosine: bool, warmup: int = 300) -> float:
    """Linear warm-up (Adam's first steps are the violent ones), then cosine decay to 1%."""
    if not cosine:
        return 1.0
    ramp = min(1.0, (step + 1) / min(warmup, max(1, total // 10)))
    return ramp * max(0.01, 0.5 * (1 + math.cos(math.pi * step / total)))


def _loss_function(name: str):
    """loss(noisy, clean, predicted) -> scalar, in keras.ops (any backend).

    "l1-per-impulse": mean absolute error over each patch's 0/1 values, then over patches, so a patch
    at density 0.05 weighs as much as one at 0.9 (plain L1 over all values is dominated by dense
    patches, while PSNR at low density depends on small errors on few values).
    """
    import keras
    from keras import ops

    if name == "bce":
        return lambda x, y, p: ops.mean(keras.losses.binary_crossentropy(y, p))
    if name == "l1":
        return lambda x, y, p: ops.mean(ops.abs(y - p))
    penalties = {
        "l1-per-impulse": lambda e: ops.abs(e),
        "l2-per-impulse": lambda e: ops.square(e),
        # sqrt(e^2 + eps^2) - eps: quadratic below ~2.5 grey levels (small errors, small gradients), L1 above
        "charbonnier-per-impulse": lambda e: ops.sqrt(ops.square(e) + 1e-4) - 1e-2,
    }
    if name in penalties:
        penalty = penalties[name]

        def per_impulse(x, y, p):
            impulse = ops.cast((x <= 0.0) | (x >= 1.0), x.dtype)
            error = ops.sum(penalty(y - p) * impulse, axis=[1, 2, 3])
            return ops.mean(error / (ops.sum(impulse, axis=[1, 2, 3]) + 1.0))
        return per_impulse
    raise ValueError(f"unknown loss {name!r}")


BLIND_BCE_WEIGHT = 0.2  # the detector's cross-entropy beside the restoration error


# A patch counts as saved lossily when more than this share of its values that moved by at most 3 levels
# moved at all. Noise replaces values and leaves the rest bit for bit; a JPEG save moves nearly every value
# a little. Of 3,000 patches of the blind recipe (40% saved as JPEG) it calls 99.2% of the noisy saved ones
# saved and 0.6% of the others (`python scripts/reencoded_share_probe.py --patches 3000`, stop 30).
REENCODED_SHARE = 0.1


def saved_lossily(moved):
    """(batch, 1, 1, 1): 1.0 for the patches that were saved lossily after the noise (`REENCODED_SHARE`),
    told apart by `moved`, |noisy - clean| (batch, height, width, channels; values k/255), so both
    samplers' batches serve as they are."""
    from keras import ops

    near = ops.cast(moved <= 3.5 / 255.0, moved.dtype)
    slightly = near * ops.cast(moved > 0.5 / 255.0, moved.dtype)
    share = ops.sum(slightly, axis=[1, 2, 3], keepdims=True) / ops.maximum(
        ops.sum(near, axis=[1, 2, 3], keepdims=True), 1.0)
    return ops.cast(share > REENCODED_SHARE, moved.dtype)


def corrupted_label(clean, noisy, threshold: float, reencoded_threshold: float = 0.0):
    """0/1 where the noise moved a value by more than `threshold`: the detector's target, from the clean
    and noisy patches.

    `reencoded_threshold` > 0: that threshold instead on the patches `saved_lossily` after the noise. A
    JPEG save rings around each impulse; at 10 levels that ringing is labelled corrupted, and the
    detector, taught to flag values beside impulses, flagged three times as many clean values on per-pixel
    noise without any JPEG (docs/model-design.md, stop 29). So: 10 levels where the noise alone moved
    values, 20 where a JPEG save smeared them. Tried in stop 30, it did not pay: the saved patches still
    cost near-extreme and random-valued impulses 0.2-0.3 dB (docs/model-design.md)."""
    from keras import ops

    moved = ops.abs(noisy - clean)
    if reencoded_threshold:
        threshold = ops.where(saved_lossily(moved) > 0.5, reencoded_threshold, threshold)
    return ops.cast(moved > threshold, moved.dtype)


def _corrupted_and_probability(y_true, y_pred, threshold: float, reencoded_threshold: float = 0.0):
    """The blind losses' shared inputs: `corrupted_label` of the packed clean and noisy patches, and the
    detector's clipped probabilities (`y_pred` = [restored (3), probability (3)],
    `blind_unet.training_model`)."""
    from keras import ops

    corrupted = corrupted_label(y_true[..., :3], y_true[..., 3:6], threshold, reencoded_threshold)
    return corrupted, ops.clip(y_pred[..., 3:6], 1e-6, 1.0 - 1e-6)


def _cross_entropy(corrupted, probability, axis=None):
    from keras import ops

    return ops.mean(-(corrupted * ops.log(probability) + (1.0 - corrupted) * ops.log(1.0 - probability)), axis=axis)


def blind_terms(y_true, y_pred, threshold: float, error_floor: float = 0.0, reencoded_threshold: float = 0.0,
                squared: bool = False):
    """The blind loss's two terms per patch: (restoration error, detector cross-entropy), each (batch,).

    Restoration: absolute error over every value of a patch against the clean value where the noise moved
    it and against the input elsewhere, divided by the number of corrupted values plus one (the
    per-impulse weighting of "l1-per-impulse"), or by `error_floor` times the patch's values when that is
    more. So a value the model changes on a clean patch costs as much as a missed impulse, and nothing is
    gained by smoothing the small errors a JPEG save leaves everywhere (with the clean photo as the target
    everywhere, those unfixable errors swamped the loss and the first run fell 0.5 dB in one epoch).

    Without a floor a clean patch's error is its sum over all its values, divided by one: the shipped
    blind-unet loses 20-23 on the average clean patch of the GPU trip's recipe against 0.074 on a noisy one,
    all of it on clean patches with clipped 0s and 255s, up to 846 for one (the exact-impulse path fills
    those), so a tenth of the patches made 94-95% of the loss (`python scripts/sampler_loss_probe.py`,
    stop 27). A floor of 0.01 weighs a clean patch's values as a patch at density 0.01 weighs its impulses.

    `squared`: the squared error instead of the absolute one (the recipe's `squared_error`). Through the
    frozen U-Net it made the detector miss more than L1 did (docs/model-design.md, stop 30).

    Detection: mean binary cross-entropy, which trains the detector while its probabilities are still
    below the dead zone (no restoration gradient reaches it there)."""
    from keras import ops

    clean, noisy, restored = y_true[..., :3], y_true[..., 3:6], y_pred[..., :3]
    corrupted, probability = _corrupted_and_probability(y_true, y_pred, threshold, reencoded_threshold)
    target = corrupted * clean + (1.0 - corrupted) * noisy
    denominator = ops.sum(corrupted, axis=[1, 2, 3]) + 1.0
    if error_floor:
        denominator = ops.maximum(denominator, error_floor * ops.sum(ops.ones_like(corrupted), axis=[1, 2, 3]))
    difference = target - restored
    error = ops.sum(ops.square(difference) if squared else ops.abs(difference), axis=[1, 2, 3]) / denominator
    return error, _cross_entropy(corrupted, probability, axis=[1, 2, 3])


def _blind_loss(threshold: float, error_floor: float = 0.0, reencoded_threshold: float = 0.0, squared: bool = False):
    """The blind model's loss, on `y_true` = [clean (3), noisy (3)] and `y_pred` = [restored (3), detector
    probability (3)]: the mean over patches of `blind_terms`, the cross-entropy weighed by
    `BLIND_BCE_WEIGHT`."""
    from keras import ops

    def blind(y_true, y_pred):
        error, cross_entropy = blind_terms(y_true, y_pred, threshold, error_floor, reencoded_threshold, squared)
        return ops.mean(error) + BLIND_BCE_WEIGHT * ops.mean(cross_entropy)

    return blind


def _detection_loss(threshold: float, reencoded_threshold: float = 0.0):
    """The blind model's first stage: the detector's mean binary cross-entropy alone (`y_true`, `y_pred` as
    `_blind_loss`). With the restoration error beside it, the error's gradients (a patch's sum over the
    few corrupted values, large wherever a probability sits in the dead zone) set Adam's scale, and the
    cross-entropy's small steady ones hardly moved the detector: after 500 steps its probabilities on
    corrupted and clean values differed by 0.01."""

    def detect(y_true, y_pred):
        return _cross_entropy(*_corrupted_and_probability(y_true, y_pred, threshold, reencoded_threshold))

    return detect


def packed_loss(name: str, label_threshold: float = 0.0, error_floor: float = 0.0,
                reencoded_label_threshold: float = 0.0, squared_error: bool = False):
    """The loss as Keras' compile() wants it, loss(y_true, y_pred): `y_true` carries the clean patch and
    the noisy one side by side on the channel axis (the per-impulse losses weigh by the input's 0/1
    values, the blind ones derive which values the noise moved by more than `label_threshold`), so one
    `train_on_batch` serves every backend and both samplers."""
    if name == "blind":
        return _blind_loss(label_threshold, error_floor, reencoded_label_threshold, squared_error)
    if name == "blind-detect":
        return _detection_loss(label_threshold, reencoded_label_threshold)
    loss = _loss_function(name)

    def compiled(y_true, y_pred):
        return loss(y_true[..., 3:], y_true[..., :3], y_pred)

    compiled.__name__ = name.replace("-", "_")
    return compiled


class Run:
    """One run folder: the model, its optimizer and state, and the steps `fit` composes.

    Each step is a method (checkpoint, restore, validate, start from other weights, train an epoch,
    guard), as BasicSR's model classes split theirs, so `fit` reads as the recipe it follows.
    """

    def __init__(self, cfg: FitConfig, log) -> None:
        self.cfg, self.log = cfg, log
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.recipe = cfg.effective_recipe()
        self.model = architectures.get(cfg.arch).build()  # after the seed: initial weights are seeded
        if self.recipe.train_only:  # a stage that trains some layers and keeps the rest as they start
            for layer in self.model.layers:
                layer.trainable = layer.name.startswith(self.recipe.train_only)
        # Blind models' decision, training only (Recipe.straight_through_margin, Recipe.restoration_to_detector).
        for layer in self.model.layers:
            if hasattr(layer, "straight_through_margin"):
                layer.straight_through_margin = self.recipe.straight_through_margin
                layer.restoration_to_detector = self.recipe.restoration_to_detector
        self.state_path = self.out / "state.json"
        self.state = self._saved_state() or RunState(config=asdict(cfg))
        self.optimizer = make_optimizer(self.model, cfg.lr, self.recipe.clipnorm, self.recipe.full_rate_prefix,
                                        self.recipe.other_lr_scale)
        self.val_noisy = self.val_clean = np.empty(0)
        self.val_cases: tuple[str, ...] = tuple(str(d) for d in VAL_DENSITIES)  # the patches cycle through these
        self.val_groups: tuple[str, ...] = ()  # each patch's group of photos (`validation_layouts`)

    def _saved_state(self) -> RunState | None:
        """The state of an earlier run of the same command (to resume), None for a fresh folder."""
        if not self.state_path.exists():
            return None
        saved = RunState(**json.loads(self.state_path.read_text()))
        saved.config.setdefault("backend", "tensorflow")  # runs from before --backend existed
        saved.config.setdefault("sampler", "host")  # ... and before --sampler
        ours = asdict(self.cfg)
        if {**saved.config, "stop_after": 0} != {**ours, "stop_after": 0}:
            raise ValueError(f"{self.out} holds a run with other settings; use another --out or the same arguments")
        saved.config["stop_after"] = ours["stop_after"]  # where this call stops is this call's
        return saved

    def load_photos(self, threads: int) -> list[np.ndarray]:
        """Training photos in memory, and the fixed validation patches of the held-out ones."""
        cfg = self.cfg
        train_files, val_files = split_folders(cfg.data, cfg.val_fraction, cfg.seed, cfg.max_images)
        self.state.train_files, self.state.val_files = len(train_files), len(val_files)
        self.log(f"{cfg.arch}: {self.model.count_params():,} parameters; {len(train_files)} training and "
                 f"{len(val_files)} validation photos; {threads} threads")
        train_images = [load_rgb(p) for p in train_files]
        val_images = [load_rgb(p) for p in val_files]
        if self.recipe.real_world:
            self.val_noisy, self.val_clean, self.val_cases = real_world_validation_set(
                val_images, cfg.patch, cfg.seed + 1, self.recipe.grey_photos_per_pixel,
                cases=validation_cases(self.recipe.validation_cases))
        else:
            self.val_noisy, self.val_clean = validation_set(val_images, cfg.patch, VAL_DENSITIES, cfg.seed + 1, 1,
                                                            grey_per_pixel=self.recipe.grey_photos_per_pixel)
        self.val_groups = validation_groups(val_images, self.recipe.grey_photos_per_pixel,
                                            len(self.val_noisy) // max(1, len(val_images)))
        return train_images

    def save(self, prefix: str) -> None:
        """Checkpoint: weights and Adam's moments, so a resumed run continues exactly."""
        self.model.save_weights(self.out / f"{prefix}.weights.h5")
        np.savez(self.out / f"{prefix}.optimizer.npz", *[v.numpy() for v in self.optimizer.variables])

    def restore(self, prefix: str) -> None:
        self.model.load_weights(self.out / f"{prefix}.weights.h5")
        with np.load(self.out / f"{prefix}.optimizer.npz") as saved:
            for var, key in zip(self.optimizer.variables, saved.files):
                var.assign(saved[key])

    def save_state(self) -> None:
        self.state_path.write_text(json.dumps(asdict(self.state), indent=1))

    def validate(self) -> Validation:
        """Mean PSNR of the validation patches by density (or real-world case) and by group of photos, on
        rounded uint8 outputs (as the tables)."""
        import keras

        # JAX: the compiled predict (an eager call traces the graph anew, 20 s an epoch on the CPU);
        # TensorFlow: the eager call that chose the shipped models' checkpoints, kept as it was.
        jax = keras.backend.backend() == "jax"
        # A clean patch returned untouched scores infinity, which would swamp the mean: capped at 60 dB (the
        # clean-input target) in the real-world cases; the salt-and-pepper-only runs stay as they were.
        cap = 60.0 if self.recipe.real_world else math.inf
        cases = [self.val_cases[k % len(self.val_cases)] for k in range(len(self.val_noisy))]
        return score_validation(lambda batch: self.model.predict_on_batch(batch) if jax else self.model(batch, training=False),
                                self.val_noisy, self.val_clean, cases, self.val_groups, cap)

    def start_from(self, init: Path) -> None:
        """Fine-tune: load other weights; their validation PSNR is the score to beat (the best
        checkpoint changes only when training improves on it)."""
        from training.init_weights import start_weights

        self.state.init_weights_sha256 = start_weights(self.model, self.cfg.arch, init)
        val = self.validate()
        # A salt-and-pepper fine-tune must beat its start. A real-world recipe teaches a new task from the
        # default's weights: its first epochs trade some of the exact-impulse score for the new kinds, and the
        # guard then rolled back every epoch (-0.5 dB on the mean of the validation cases, twice); it is
        # judged against its own epochs.
        if not self.recipe.real_world:
            self.state.best_val_psnr = val.mean
        self.save("best")
        self.save_state()
        self.log(f"started from {init} (weights {self.state.init_weights_sha256[:12]}...): val PSNR {val.describe()}")

    def train_step(self):
        """The compiled step of whichever Keras backend runs: loss, gradients, Adam update; returns the
        batch's loss. jit_compile off under TensorFlow: its graph function is what trained the shipped
        models (XLA would change the float rounding); JAX always compiles with XLA."""
        import keras

        jit = keras.backend.backend() != "tensorflow"
        module = architectures.get(self.cfg.arch)
        trained = module.training_model(self.model, self.cfg.loss) if hasattr(module, "training_model") else self.model
        trained.compile(optimizer=self.optimizer, loss=self.loss(),
                        jit_compile=jit)

        def step(batch):
            return trained.train_on_batch(batch.noisy, np.concatenate([batch.clean, batch.noisy], axis=-1))

        return step

    def loss(self):
        """The run's loss, loss(y_true, y_pred) on packed patches (`packed_loss`) with the recipe's labels,
        error floor and error kind: what both samplers' steps train on."""
        return packed_loss(self.cfg.loss, self.recipe.label_threshold, self.recipe.error_floor,
                           self.recipe.reencoded_label_threshold, self.recipe.squared_error)

    def learning_rate(self, step: int) -> float:
        """The scheduled learning rate of global step `step` (warm-up, cosine decay, the guard's scale)."""
        cfg = self.cfg
        return cfg.lr * self.state.lr_scale * _lr_factor(step, cfg.epochs * cfg.steps, self.recipe.cosine_decay)

    def train_epoch(self, epoch: int, batches, step) -> tuple[list[float], bool]:
        """`steps` batches at the scheduled learning rate: (losses, collapsed on a non-finite loss)."""
        from tqdm import tqdm

        cfg = self.cfg
        losses: list[float] = []
        bar = tqdm(range(cfg.steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", mininterval=5, leave=False)
        for i in bar:
            self.optimizer.learning_rate.assign(self.learning_rate(epoch * cfg.steps + i))
            batch = next(batches)
            loss = float(step(batch))
            if not math.isfinite(loss):
                return losses, True
            losses.append(loss)
            if i % 50 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        return losses, False

    def guard(self, epoch: int, losses: list[float], collapsed: bool, val: Validation | None) -> bool:
        """True (and the run rolled back to its best weights at half the learning rate) when the epoch
        diverged or collapsed. (A loss spike at epoch 6 of the first LeakyReLU run threw the net back
        to the pre-fill's level.)"""
        mean_val = val.mean if val else -math.inf
        mean_loss = float(np.mean(losses)) if losses else math.inf
        best_loss = min((h["loss"] for h in self.state.history), default=math.inf)
        if not (collapsed or mean_val < self.state.best_val_psnr - GUARD_DB or mean_loss > GUARD_LOSS_FACTOR * best_loss):
            return False
        self.state.lr_scale *= 0.5
        self.restore("best" if (self.out / "best.weights.h5").exists() else "last")
        self.log(f"epoch {epoch + 1}: collapse (loss {losses[-1] if losses else 'nan'}, val "
                 + (val.describe() if val else "not run") + f"); rolled back, learning rate x{self.state.lr_scale}")
        return True

    def finish_epoch(self, epoch: int, losses: list[float], val: Validation, seconds: float) -> None:
        """Record the epoch, checkpoint (best when it improved), write state and the log line."""
        mean_val = val.mean
        self.state.epochs_done = epoch + 1
        self.state.seconds += seconds
        record = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "val_psnr": mean_val,
                  "val_psnr_by_density": val.by_case, "val_psnr_by_group": val.by_group, "lr": float(np.asarray(self.optimizer.learning_rate)),
                  "seconds": round(self.state.seconds, 1)}
        self.state.history.append(record)
        if mean_val > self.state.best_val_psnr:
            self.state.best_val_psnr = mean_val
            self.save("best")
        self.save("last")
        self.save_state()
        line = f"epoch {epoch + 1}: loss {record['loss']:.5f}  val PSNR {val.describe()}  {seconds:.0f} s"
        self.log(line)
        with open(self.out / "train.log", "a") as f:
            f.write(line + "\n")


def fit(config: FitConfig, log=print) -> RunState:
    """Train (or resume) the run described by `config`; returns the final state."""
    import keras

    cfg = config.resolved()
    if keras.backend.backend() != cfg.backend:
        raise RuntimeError(f"this run asks for the {cfg.backend} backend but Keras runs on {keras.backend.backend()}: "
                           f"set KERAS_BACKEND={cfg.backend} before Keras is imported (python -m training fit "
                           "--backend does)")
    threads = cfg.threads or available_cpus()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # TensorFlow already started in this process (tests): keep its threads
            pass
    keras.utils.set_random_seed(cfg.seed)

    run = Run(cfg, log)
    train_images = run.load_photos(threads)
    step = run.train_step() if cfg.sampler == "host" else None
    if run.state.epochs_done:
        run.restore("last")
        log(f"resumed after epoch {run.state.epochs_done} (best validation PSNR {run.state.best_val_psnr:.2f} dB)")
    elif cfg.init:
        run.start_from(Path(cfg.init))

    if cfg.sampler == "device":
        from training.device_steps import DeviceTrainer

        trainer = DeviceTrainer(run, train_images)

        def train_epoch(epoch: int) -> tuple[list[float], bool]:
            losses, collapsed, timing = trainer.epoch(epoch, lambda t: run.learning_rate(t))
            log(f"epoch {epoch + 1}: device sampler, first step (compilation) {timing['first_step_seconds']} s, then "
                f"{timing['steps_per_second']} steps/s ({timing['patch_megapixels_per_second']} M patch pixels/s)")
            return losses, collapsed
    else:
        batches = PatchSampler(train_images, run.recipe, cfg.patch, cfg.batch,
                               cfg.seed + 1000 * run.state.epochs_done).prefetch()

        def train_epoch(epoch: int) -> tuple[list[float], bool]:
            return run.train_epoch(epoch, batches, step)

    for epoch in range(run.state.epochs_done, min(cfg.epochs, cfg.stop_after or cfg.epochs)):
        started = time.time()
        losses, collapsed = train_epoch(epoch)
        val = None if collapsed else run.validate()
        if run.guard(epoch, losses, collapsed, val):
            continue
        assert val is not None  # the guard rolls back every collapsed epoch
        run.finish_epoch(epoch, losses, val, time.time() - started)
    if cfg.stop_after and run.state.epochs_done < cfg.epochs:
        log(f"stopped after epoch {run.state.epochs_done} of {cfg.epochs} (--stop-after {cfg.stop_after}); the same "
            "command without it resumes the schedule")
    return run.state
