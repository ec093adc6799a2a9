"""The device's JPEG save (`training.device_jpeg`) against Pillow's own: the tables, the pixels, and what
the noise looks like afterwards. The GPU path trains the blind models on it, the tables and the service
are scored on Pillow's, so the two must agree."""

from __future__ import annotations

import io

import jax
import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from app.noise import NoiseSpec, add_noise, reencode
from app.quality import psnr
from training.device_jpeg import jpeg_roundtrip, quant_tables

roundtrip = jax.jit(jpeg_roundtrip)


def ours(pixels: np.ndarray, quality: int) -> np.ndarray:
    return np.asarray(roundtrip(pixels[None].astype(np.float32), np.array([quality])))[0].astype(np.uint8)


@pytest.mark.parametrize("quality", [1, 10, 49, 50, 51, 75, 90, 95, 100])
def test_the_tables_are_the_ones_pillow_writes(quality):
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(buffer, "JPEG", quality=quality)
    written = Image.open(io.BytesIO(buffer.getvalue())).quantization  # natural (row) order
    luma, chroma = quant_tables(np.array([quality]))
    assert np.asarray(luma)[0].ravel().tolist() == list(written[0])
    assert np.asarray(chroma)[0].ravel().tolist() == list(written[1])


@pytest.fixture(scope="module")
def photos(astronaut) -> dict[str, np.ndarray]:
    return {"astronaut": astronaut[:160, :192], "coffee": np.ascontiguousarray(skdata.coffee()[100:228, 200:392])}


@pytest.mark.parametrize("noisy", [False, True])
@pytest.mark.parametrize("quality", [100, 90, 75, 40, 10])
def test_pixels_come_back_as_from_pillow(photos, noisy, quality):
    """libjpeg's `islow` DCT is fixed point, ours float: values may differ by a few levels, without a
    bias, and the damage the save does (PSNR against the photo) is the same to 0.1 dB."""
    for photo in photos.values():
        saved = add_noise(photo, NoiseSpec("salt-pepper", 0.2), seed=3) if noisy else photo
        pillow, mine = reencode(saved, "jpeg", quality), ours(saved, quality)
        difference = mine.astype(int) - pillow.astype(int)
        assert np.mean(difference == 0) > 0.55
        assert np.abs(difference).mean() < 1.0
        assert abs(difference.mean()) < 0.1
        assert psnr(pillow, mine) > 40.0
        assert abs(psnr(photo, mine) - psnr(photo, pillow)) < 0.1


def test_chroma_is_subsampled_and_flat_colour_survives_exactly():
    flat = np.zeros((32, 48, 3), np.uint8)
    flat[...] = (200, 30, 90)
    assert np.array_equal(ours(flat, 90), reencode(flat, "jpeg", 90))
    # One red value in grey: 4:2:0 spreads its colour over the neighbours, as Pillow's save does
    grey = np.full((32, 32, 3), 128, np.uint8)
    grey[13, 13] = (255, 0, 0)
    mine, pillow = ours(grey, 95), reencode(grey, "jpeg", 95)
    moved = np.abs(mine.astype(int) - 128).max(axis=2) > 3
    assert moved.sum() > 40 and not moved[20:, 20:].any()  # over its 16x16 block (of blocks), not beyond
    assert np.abs(mine.astype(int) - pillow.astype(int)).max() <= 2


def test_each_patch_has_its_own_quality(photos):
    batch = np.stack([photos["astronaut"][:64, :64]] * 2).astype(np.float32)
    both = np.asarray(roundtrip(batch, np.array([95, 20]))).astype(np.uint8)
    assert np.array_equal(both[0], ours(batch[0].astype(np.uint8), 95))
    assert np.array_equal(both[1], ours(batch[1].astype(np.uint8), 20))
    assert psnr(batch[0].astype(np.uint8), both[0]) > psnr(batch[1].astype(np.uint8), both[1]) + 5


def test_only_whole_16x16_blocks():
    with pytest.raises(ValueError, match="multiples of 16"):
        jpeg_roundtrip(np.zeros((1, 24, 32, 3), np.float32), np.array([90]))
