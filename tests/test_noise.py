import numpy as np
import pytest

from app.noise import impulse_fraction, salt_and_pepper


@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("density,salt_ratio", [(0.1, 0.5), (0.5, 0.3), (0.9, 0.8)])
def test_measured_density_and_salt_ratio_match_parameters(density, salt_ratio, per_channel):
    clean = np.full((512, 512, 3), 128, np.uint8)
    noisy = salt_and_pepper(clean, density, salt_ratio, per_channel=per_channel, seed=1)
    hit = noisy != 128
    salt = noisy == 255
    assert abs(hit.mean() - density) < 0.01
    assert abs(salt.sum() / hit.sum() - salt_ratio) < 0.01
    assert np.all((noisy == 0) | (noisy == 255) | (noisy == 128))


def test_per_pixel_hits_all_channels_together():
    noisy = salt_and_pepper(np.full((64, 64, 3), 100, np.uint8), 0.5, per_channel=False, seed=3)
    assert np.all(noisy.min(axis=2) == noisy.max(axis=2))


def test_per_channel_hits_channels_independently():
    noisy = salt_and_pepper(np.full((128, 128, 3), 100, np.uint8), 0.5, per_channel=True, seed=3)
    differs = noisy.min(axis=2) != noisy.max(axis=2)
    assert differs.mean() > 0.5  # independent hits: most pixels differ across channels


def test_zero_density_changes_nothing_and_one_hits_everything(astronaut):
    assert np.array_equal(salt_and_pepper(astronaut, 0.0, seed=0), astronaut)
    full = salt_and_pepper(astronaut, 1.0, seed=0)
    assert np.all((full == 0) | (full == 255))


def test_same_seed_same_noise_and_different_seed_different_noise(camera):
    a = salt_and_pepper(camera, 0.3, seed=7)
    assert np.array_equal(a, salt_and_pepper(camera, 0.3, seed=7))
    assert not np.array_equal(a, salt_and_pepper(camera, 0.3, seed=8))
    assert a.shape == camera.shape and a.dtype == np.uint8


def test_sixteen_bit_salt_is_the_dtype_maximum():
    noisy = salt_and_pepper(np.full((64, 64), 1000, np.uint16), 0.5, salt_ratio=1.0, seed=0)
    assert set(np.unique(noisy)) == {1000, 65535}


def test_input_is_not_modified(camera):
    copy = camera.copy()
    salt_and_pepper(camera, 0.5, seed=0)
    assert np.array_equal(copy, camera)


@pytest.mark.parametrize("kwargs", [{"density": -0.1}, {"density": 1.5}, {"density": 0.1, "salt_ratio": 2.0}])
def test_out_of_range_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        salt_and_pepper(np.zeros((4, 4), np.uint8), **kwargs)


def test_float_images_are_refused():
    with pytest.raises(ValueError):
        salt_and_pepper(np.zeros((4, 4), np.float32), 0.1)


def test_impulse_fraction_counts_extremes():
    image = np.full((10, 10), 7, np.uint8)
    image[0, :5] = 0
    image[1, :5] = 255
    assert impulse_fraction(image) == pytest.approx(0.1)
