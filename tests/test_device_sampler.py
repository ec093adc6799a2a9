"""Crops and noise drawn inside the jitted step (issue 14, section 2): the statistics of `app.noise`, crops
that come from the photos, and a JAX fit that uses them."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import jax  # the train extra installs JAX
import numpy as np
import pytest
from PIL import Image

from training.device_sampler import DevicePhotos, check_recipe, sample
from training.recipe import Recipe

PLAIN = Recipe(loss="l1", learning_rate=1e-3, clipnorm=None, cosine_decay=False, batch=8, patch=32, density_max=0.6,
               per_pixel_share=0.0, grey_share=0.0, clip_augment_share=0.0, salt_ratio_range=(0.3, 0.3),
               pad_multiple=1)


def draw(photos, recipe, batch=64, patch=32, seed=0):
    noisy, clean = jax.jit(lambda k: sample(k, photos, recipe, patch, batch))(jax.random.key(seed))
    return np.rint(np.asarray(noisy) * 255).astype(int), np.rint(np.asarray(clean) * 255).astype(int)


@pytest.fixture(scope="module")
def photos(astronaut, camera):
    return [astronaut[:200, :150], np.repeat(camera[:120, :180, None], 3, axis=2), astronaut[100:120, 10:40]]


def _dihedral(crop: np.ndarray) -> list[np.ndarray]:
    out = []
    for k in range(4):
        r = np.rot90(crop, k)
        out += [r, r[:, ::-1]]
    return out


def test_clean_patches_are_crops_of_the_photos_under_a_dihedral_transform(photos):
    device = DevicePhotos.upload(photos, 32)
    _, clean = draw(device, PLAIN, batch=24)
    grown = [np.pad(p, ((0, max(0, 32 - p.shape[0])), (0, max(0, 32 - p.shape[1])), (0, 0)), mode="reflect")
             for p in photos]
    windows = [np.lib.stride_tricks.sliding_window_view(photo, (32, 32, 3)) for photo in grown]

    def in_a_photo(candidate: np.ndarray) -> bool:
        return any((w == candidate).all(axis=(-3, -2, -1)).any() for w in windows)

    untransformed = transposed = 0
    for patch in clean:
        candidates = _dihedral(patch.astype(np.uint8))  # the identity first; odd quarter turns at 2, 3, 6, 7
        if in_a_photo(candidates[0]):
            untransformed += 1
            continue
        turned = any(in_a_photo(candidates[i]) for i in (2, 3, 6, 7))
        transposed += turned
        assert turned or any(in_a_photo(candidates[i]) for i in (1, 4, 5))  # every patch is a crop, turned or flipped
    # 1 in 8 expected untransformed and 1 in 2 transposed: the transforms are drawn, not skipped
    assert untransformed <= 12 and transposed >= 4


def test_salt_and_pepper_density_and_salt_share(photos):
    device = DevicePhotos.upload(photos, 32)
    recipe = dataclasses.replace(PLAIN, density_max=0.8)
    noisy, clean = draw(device, recipe, batch=256)
    hit = noisy != clean
    assert set(np.unique(noisy[hit])) <= {0, 255}
    # density ~ U[0, 0.8]: 0.4 on average (values already at 0/255 may be hit unseen)
    assert 0.33 < hit.mean() < 0.45
    salt = (noisy == 255) & hit
    assert 0.25 < salt.sum() / hit.sum() < 0.35  # salt_ratio 0.3


def test_impulse_range_random_valued_and_per_pixel(photos):
    device = DevicePhotos.upload(photos, 32)
    ranged = dataclasses.replace(PLAIN, impulse_range_share=1.0, spread_max=20.0, real_world_density_max=0.5,
                                 per_pixel_share=1.0)
    noisy, clean = draw(device, ranged, batch=128)
    hit = noisy != clean
    assert ((noisy[hit] <= 20) | (noisy[hit] >= 235)).all()
    assert len(np.unique(noisy[hit])) > 20  # not only the extremes
    assert 0.2 < hit.any(axis=-1).mean() < 0.3  # density ~ U[0, 0.5], per pixel
    pixel_hit = hit.any(axis=-1)
    equal = (noisy[..., 0] == noisy[..., 1]) & (noisy[..., 1] == noisy[..., 2])
    assert equal[pixel_hit].mean() > 0.99  # one value for the whole pixel

    random = dataclasses.replace(PLAIN, random_valued_share=1.0, real_world_density_max=0.5)
    noisy, clean = draw(device, random, batch=128)
    values = noisy[noisy != clean]
    assert np.histogram(values, bins=4, range=(0, 256))[0].min() > 0.2 * len(values)  # uniform over 0..255


def test_jpeg_saves_follow_the_share_and_a_clean_saved_patch_is_its_own_target(photos):
    device = DevicePhotos.upload(photos, 32)
    recipe = dataclasses.replace(PLAIN, jpeg_share=0.5, clean_share=0.3, jpeg_quality_min=60)
    noisy, clean = draw(device, recipe, batch=256)
    changed = noisy != clean
    impulses_only = ~changed | (noisy == 0) | (noisy == 255)
    saved_noisy = np.array([not impulses_only[i].all() for i in range(len(noisy))])  # JPEG moved other values
    same = np.array([not changed[i].any() for i in range(len(noisy))])
    # Saved with impulses: 0.5 x 0.7 of the patches. Clean, saved or not: 0.3, the target being what the
    # model is given (were a saved clean patch's target its crop, these would be 0.5 and 0.15).
    assert 0.27 < saved_noisy.mean() < 0.43
    assert 0.22 < same.mean() < 0.38


def test_jpeg_saves_need_whole_16x16_blocks():
    check_recipe(dataclasses.replace(PLAIN, jpeg_share=0.5), 64)
    check_recipe(PLAIN, 40)
    with pytest.raises(ValueError, match="multiple of 16"):
        check_recipe(dataclasses.replace(PLAIN, jpeg_share=0.5), 40)


def photo_folder(tmp_path, astronaut, camera=None):
    """Three shifted astronauts (and the cameraman, when given) as PNG files: a tiny training set."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.roll(astronaut, 40 * i, axis=1)).save(folder / f"a{i}.png")
    if camera is not None:
        Image.fromarray(camera).save(folder / "c.png")
    return folder


def device_fit_command(arch: str, folder, out, steps: int) -> list[str]:
    """One epoch of `steps` steps under JAX with the device sampler, 2 patches of 64x64 a step."""
    return [sys.executable, "-m", "training", "fit", "--arch", arch, "--data", str(folder), "--out", str(out),
            "--epochs", "1", "--steps", str(steps), "--patch", "64", "--batch", "2", "--threads", "2",
            "--backend", "jax", "--sampler", "device"]


def test_a_jax_fit_with_the_device_sampler_trains_checkpoints_and_resumes(astronaut, camera, tmp_path):
    out = tmp_path / "run"
    command = device_fit_command("prefill-unet", photo_folder(tmp_path, astronaut, camera), out, steps=3)
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "device sampler" in done.stdout and "steps/s" in done.stdout
    state = json.loads((out / "state.json").read_text())
    assert state["epochs_done"] == 1 and state["config"]["sampler"] == "device", done.stdout
    assert all(np.isfinite(h["loss"]) for h in state["history"])
    assert (out / "last.weights.h5").exists() and (out / "last.optimizer.npz").exists()
    again = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert again.returncode == 0 and "resumed after epoch 1" in again.stdout


def test_a_blind_detection_stage_trains_on_the_device_with_jpeg_saves(astronaut, tmp_path):
    """The blind recipe's own first stage (the detector alone, the U-Net frozen, 40% of the patches saved
    as JPEG): its training model holds only the detector, so the step's non-trainable state is that
    model's, not the whole model's (it once passed the frozen U-Net's 26 and failed)."""
    out = tmp_path / "run"
    command = device_fit_command("blind-unet", photo_folder(tmp_path, astronaut), out, steps=2)
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads((out / "state.json").read_text())
    assert state["epochs_done"] == 1 and state["config"]["loss"] == "blind-detect"
    assert all(np.isfinite(h["loss"]) for h in state["history"])
    from training.architectures import blind_unet

    assert blind_unet.RECIPE.jpeg_share > 0 and blind_unet.RECIPE.train_only  # what this stage drew and froze


LEARNING_RATE_PROBE = """
import sys, tempfile, numpy as np
from training.fit import FitConfig, Run
from training.device_steps import DeviceTrainer
with tempfile.TemporaryDirectory() as out:
    cfg = FitConfig(arch="prefill-unet", data=[sys.argv[1]], out=out, epochs=1, steps=2, batch=2, patch=64,
                    backend="jax", sampler="device").resolved()
    run = Run(cfg, log=lambda *_: None)
    trainer = DeviceTrainer(run, [np.load(sys.argv[2])])
    weights = lambda: [np.array(v.value) for v in run.model.trainable_variables]
    before = weights()
    trainer.epoch(0, lambda step: 0.0)
    still = all(np.array_equal(a, b) for a, b in zip(before, weights()))
    trainer.epoch(0, lambda step: 1e-3)
    moved = not all(np.array_equal(a, b) for a, b in zip(before, weights()))
    print(still, moved)
"""


def test_the_device_step_follows_the_scheduled_learning_rate(astronaut, tmp_path):
    """The rate is an argument of the jitted step (the host path assigns it to the optimizer): 0 leaves the
    weights as they are, 1e-3 moves them."""
    np.save(tmp_path / "photo.npy", astronaut)
    done = subprocess.run([sys.executable, "-c", LEARNING_RATE_PROBE, str(tmp_path), str(tmp_path / "photo.npy")],
                          capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2:] == ["True", "True"]
