import numpy as np
import pytest

from app.noise import salt_and_pepper
from app.quality import psnr
from training.baselines import COLOUR_ONLY, METHODS, adaptive_median, luma_chroma_median, median, switching_mean


@pytest.mark.parametrize("name", [n for n in METHODS if n != "noisy input"])
def test_clean_image_is_left_nearly_unchanged(name, astronaut):
    clean = np.clip(astronaut, 1, 254)  # no true extremes, so detectors find nothing
    out = METHODS[name](clean)
    assert out.shape == clean.shape and out.dtype == np.uint8
    # Plain and adaptive medians touch clean pixels (local extremes); detectors of 0/255 touch none; ROAD
    # takes a few sharp details for impulses (38.1 dB on this crop).
    floor = {"median 3x3": 24, "median 5x5": 24, "adaptive median 7x7": 33, "ROAD switching": 35,
             **dict.fromkeys(COLOUR_ONLY, 24)}.get(name, 60)
    assert psnr(clean, out) > floor


def test_switching_filter_restores_a_small_synthetic_case():
    clean = np.full((9, 9), 100, np.uint8)
    noisy = clean.copy()
    noisy[4, 4], noisy[2, 6] = 255, 0
    assert np.array_equal(switching_mean(noisy), clean)
    assert np.array_equal(adaptive_median(noisy), clean)


@pytest.mark.parametrize("name", [n for n in METHODS if n not in ("noisy input", "median 5x5", *COLOUR_ONLY)])
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


def test_luma_chroma_median_beats_the_rgb_medians_on_colour_noise_saved_as_jpeg(astronaut, camera):
    from app.noise import NoiseSpec, add_noise

    noisy = add_noise(astronaut, NoiseSpec(density=0.1, jpeg_quality=90), seed=3)
    rgb = max(psnr(astronaut, median(noisy, size)) for size in (3, 5))
    # measured on this crop: 27.99 and 27.20 dB against the RGB medians' best 26.03
    assert psnr(astronaut, luma_chroma_median(noisy, 3, 9)) > rgb + 1.0
    assert psnr(astronaut, luma_chroma_median(noisy, 5, 13)) > rgb + 0.5
    # a grey photo has no chroma: the luma median is the plain median
    grey = salt_and_pepper(camera, 0.2, seed=4)
    assert np.array_equal(luma_chroma_median(grey, 5, 13), median(grey, 5))
    # a grey photo stored as RGB keeps R = G = B within a level (the conversion's rounding)
    as_rgb = luma_chroma_median(np.repeat(grey[..., None], 3, axis=-1), 3, 9)
    assert np.abs(as_rgb.astype(int) - median(grey, 3)[..., None]).max() <= 1
