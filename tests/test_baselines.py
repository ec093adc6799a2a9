import numpy as np
import pytest

from app.noise import salt_and_pepper
from app.quality import psnr
from training.baselines import METHODS, adaptive_median, switching_mean


@pytest.mark.parametrize("name", [n for n in METHODS if n != "noisy input"])
def test_clean_image_is_left_nearly_unchanged(name, astronaut):
    clean = np.clip(astronaut, 1, 254)  # no true extremes, so detectors find nothing
    out = METHODS[name](clean)
    assert out.shape == clean.shape and out.dtype == np.uint8
    # Plain and adaptive medians touch clean pixels (local extremes); detectors of 0/255 touch none; ROAD
    # takes a few sharp details for impulses (38.1 dB on this crop).
    floor = {"median 3x3": 24, "median 5x5": 24, "adaptive median 7x7": 33, "ROAD switching": 35}.get(name, 60)
    assert psnr(clean, out) > floor


def test_switching_filter_restores_a_small_synthetic_case():
    clean = np.full((9, 9), 100, np.uint8)
    noisy = clean.copy()
    noisy[4, 4], noisy[2, 6] = 255, 0
    assert np.array_equal(switching_mean(noisy), clean)
    assert np.array_equal(adaptive_median(noisy), clean)


@pytest.mark.parametrize("name", [n for n in METHODS if n not in ("noisy input", "median 5x5")])
def test_every_filter_improves_a_noisy_photo(name, camera):
    noisy = salt_and_pepper(camera, 0.2, seed=4)
    assert psnr(camera, METHODS[name](noisy)) > psnr(camera, noisy) + 10


def test_road_finds_impulses_of_any_value_and_leaves_smooth_regions():
    from training.baselines import road, road_switching

    smooth = np.tile(np.linspace(60, 190, 64).astype(np.uint8), (64, 1))
    noisy = smooth.copy()
    rng = np.random.default_rng(0)
    spots = rng.choice(64 * 64, 200, replace=False)
    noisy.flat[spots] = np.where(smooth.flat[spots] > 128, 10, 240)  # far from their neighbours, not 0/255
    assert road(smooth).max() < 20 and np.all(road(noisy).flat[spots] > 90)
    assert psnr(smooth, road_switching(noisy)) > psnr(smooth, noisy) + 20
