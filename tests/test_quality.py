import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from app.noise import salt_and_pepper
from app.quality import psnr, ssim, to_uint8


def test_psnr_of_identical_images_is_infinite(camera):
    assert psnr(camera, camera) == math.inf


def test_psnr_of_a_known_offset_is_exact():
    a = np.full((32, 32), 100, np.uint8)
    b = a + 5  # MSE = 25
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 25), abs=1e-12)


def test_psnr_does_not_wrap_around_in_uint8():
    a = np.zeros((8, 8), np.uint8)
    b = np.full((8, 8), 255, np.uint8)
    assert psnr(a, b) == pytest.approx(0.0)


def test_ssim_of_identical_images_is_one(astronaut):
    assert ssim(astronaut, astronaut) == pytest.approx(1.0)


@pytest.mark.parametrize("fixture", ["astronaut", "camera"])
def test_ssim_matches_scikit_image_protocol(fixture, request):
    clean = request.getfixturevalue(fixture)
    noisy = salt_and_pepper(clean, 0.2, seed=1)
    expected = structural_similarity(clean, noisy, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255, channel_axis=2 if clean.ndim == 3 else None)
    assert ssim(clean, noisy) == pytest.approx(expected, abs=1e-9)


def test_to_uint8_rounds_then_clips():
    x = np.array([-0.1, 0.0, 0.5 / 255, 1.4 / 255, 1.6 / 255, 1.0, 1.2])
    assert to_uint8(x).tolist() == [0, 0, 0, 1, 2, 255, 255]


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))
