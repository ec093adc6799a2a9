"""scripts/tile_checks.py: tiled against whole, the figures of the notes on tiles (stops 37 and 38)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.noise import NoiseSpec, add_noise
from tests.conftest import load_script

MODEL = Path(__file__).resolve().parents[1] / "models" / "prefill-unet.onnx"


def test_tiles_agree_given_the_photos_p_and_differ_where_each_takes_its_own():
    """A photo whose top half is clipped white and bottom half mid grey, with sparse salt and pepper: the tiles
    of each half see other shares of flagged values. Given the photo's p (the service since stop 38) 64-pixel
    tiles give the whole photo's output; each taking its own (`own_p`, stop 37's service) they do not. Dense
    salt-and-pepper: every tile's p is past the last step, so they agree either way."""
    from skimage import data

    checks = load_script("tile_checks")
    rng = np.random.default_rng(0)
    split = np.full((256, 256, 3), 128, np.uint8)
    split[:128] = 255
    split[:128][rng.random((128, 256, 3)) < 0.3] = 200  # a clipped sky broken up by texture
    noisy = add_noise(split, NoiseSpec("salt-pepper", 0.05), seed=3)
    share, largest, whole, tiled = checks.compare(MODEL, split, noisy, tile=64)
    assert share == 0 and largest == 0 and whole == tiled
    share, largest, whole, tiled = checks.compare(MODEL, split, noisy, tile=64, own_p=True)
    assert share > 0 and largest > 0

    clean = np.ascontiguousarray(data.astronaut()[:192, :256])
    dense = add_noise(clean, NoiseSpec("salt-pepper", 0.95), seed=2)
    share, largest, whole, tiled = checks.compare(MODEL, clean, dense, tile=64, own_p=True)
    assert share == 0 and largest == 0 and whole == tiled


def test_the_photos_are_three_times_larger_than_scikit_images():
    from skimage import data

    photos = load_script("tile_checks").photos()
    assert set(photos) == {"astronaut", "coffee", "chelsea"}
    assert photos["coffee"].shape == (3 * data.coffee().shape[0], 3 * data.coffee().shape[1], 3)


def test_the_crop_shows_clean_whole_tiled_and_where_they_differ(tmp_path):
    from PIL import Image

    out = tmp_path / "seam.png"
    load_script("tile_checks").save_crop(out, MODEL)
    assert Image.open(out).size == (4 * 256 * 2, 256 * 2)
