"""Train steps with sampling inside the compiled program (`fit --sampler device`, JAX backend).

The host path (`Run.train_step`) feeds numpy batches to Keras's `train_on_batch`. This one keeps the
model's and the optimizer's variables as JAX arrays for a whole epoch and runs one jitted function per
step: draw a batch on the device (`training.device_sampler.sample`), the forward and backward pass
(`stateless_call`), and Adam's update (`stateless_apply`, clipnorm included). The learning rate is an
argument of the step, so the schedule is the host path's. Between epochs the arrays are written back
into the Keras variables, so `Run`'s validation, checkpoints, resume and collapse guard are the same
code for both samplers.
"""

from __future__ import annotations

import math
import time

import numpy as np

from training import architectures
from training.device_sampler import DevicePhotos, check_recipe, sample


class DeviceTrainer:
    """One compiled step of `run`'s model on device-drawn batches; `epoch()` runs `steps` of them."""

    def __init__(self, run, images: list[np.ndarray]) -> None:
        import jax
        import keras
        from keras import ops

        if keras.backend.backend() != "jax":
            raise ValueError("the device sampler runs under the JAX backend: fit --backend jax --sampler device")
        cfg, recipe = run.cfg, run.recipe
        check_recipe(recipe, cfg.patch)
        self.run = run
        self.photos = DevicePhotos.upload(images, cfg.patch)
        module = architectures.get(cfg.arch)
        trained = module.training_model(run.model, cfg.loss) if hasattr(module, "training_model") else run.model
        if [id(v) for v in trained.trainable_variables] != [id(v) for v in run.model.trainable_variables]:
            raise RuntimeError("the training model orders its variables unlike the model the optimizer was built on")
        # Its non-trainable variables are its own: a detection stage's training model holds the detector
        # alone, so the frozen U-Net's weights (the whole model's non-trainables) are not among them.
        self.trained = trained
        loss_of = run.loss()
        optimizer = run.optimizer
        self.lr_index = next(i for i, v in enumerate(optimizer.variables) if v is optimizer._learning_rate)

        def loss(trainable, non_trainable, noisy, clean):
            predicted, non_trainable = trained.stateless_call(trainable, non_trainable, noisy, training=True)
            return loss_of(ops.concatenate([clean, noisy], axis=-1), predicted), non_trainable

        gradient = jax.value_and_grad(loss, has_aux=True)
        photos = self.photos

        def step(state, key, learning_rate):
            trainable, non_trainable, optimizer_vars = state
            key, draw = jax.random.split(key)
            noisy, clean = sample(draw, photos, recipe, cfg.patch, cfg.batch)
            (value, non_trainable), grads = gradient(trainable, non_trainable, noisy, clean)
            optimizer_vars = [learning_rate if i == self.lr_index else v for i, v in enumerate(optimizer_vars)]
            trainable, optimizer_vars = optimizer.stateless_apply(optimizer_vars, grads, trainable)
            return value, (trainable, non_trainable, optimizer_vars), key

        self.step = jax.jit(step, donate_argnums=0)
        self.key = jax.random.key(cfg.seed + 1000 * run.state.epochs_done)

    def _state(self):
        model, optimizer = self.trained, self.run.optimizer
        return ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
                [v.value for v in optimizer.variables])

    def _write_back(self, state) -> None:
        model, optimizer = self.trained, self.run.optimizer
        trainable, non_trainable, optimizer_vars = state
        for variables, values in ((model.trainable_variables, trainable), (model.non_trainable_variables, non_trainable),
                                  (optimizer.variables, optimizer_vars)):
            for variable, value in zip(variables, values):
                variable.assign(value)

    def epoch(self, epoch: int, lr_at) -> tuple[list[float], bool, dict]:
        """`steps` steps from the model's current weights (a rollback may have changed them): (losses,
        collapsed on a non-finite loss, timing). `lr_at(t)` is the learning rate of global step t."""
        import jax
        import jax.numpy as jnp

        cfg = self.run.cfg
        state = self._state()
        losses = []
        started = time.perf_counter()
        compile_seconds = 0.0
        for i in range(cfg.steps):
            value, state, self.key = self.step(state, self.key, jnp.float32(lr_at(epoch * cfg.steps + i)))
            losses.append(value)
            if i == 0:
                jax.block_until_ready(value)
                compile_seconds = time.perf_counter() - started
        values = [float(v) for v in jax.device_get(losses)]  # one transfer an epoch, not one a step
        seconds = time.perf_counter() - started
        collapsed = not all(math.isfinite(v) for v in values)
        if not collapsed:
            self._write_back(state)
        steady = max(seconds - compile_seconds, 1e-9)
        timing = {"first_step_seconds": round(compile_seconds, 2),
                  "steps_per_second": round((cfg.steps - 1) / steady, 2) if cfg.steps > 1 else None,
                  "patch_megapixels_per_second": round((cfg.steps - 1) * cfg.batch * cfg.patch**2 / steady / 1e6, 3)}
        return [v for v in values if math.isfinite(v)], collapsed, timing
