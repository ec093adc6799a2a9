"""app.jpeg_quality: the quality of a JPEG file's save, from its luminance table, and decode's reading of it."""

import io

import numpy as np
import pytest
from PIL import Image

from app.imaging import decode
from app.jpeg_quality import IJG_LUMINANCE, ijg_quality, ijg_table


def saved(pixels: np.ndarray, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt, **options)
    return buffer.getvalue()


def test_the_tables_are_libjpegs():
    """Quality 50 is the standard table itself; 75 halves it (libjpeg's rounding), 100 is all ones."""
    assert ijg_table(50).tolist() == IJG_LUMINANCE.tolist()
    assert ijg_table(75)[:8].tolist() == [8, 6, 5, 8, 12, 20, 26, 31]
    assert ijg_table(100).tolist() == [1] * 64
    assert ijg_table(1).max() == 255  # clamped for baseline


def test_every_quality_pillow_writes_is_read_back_exactly():
    noise = np.random.default_rng(0).integers(0, 256, (16, 16), np.uint8)
    found = [decode(saved(noise, quality=q), 10**6).jpeg_quality for q in range(1, 101)]
    assert found == list(range(1, 101))


def test_colour_and_opencv_files_give_their_quality():
    import cv2

    colour = np.random.default_rng(1).integers(0, 256, (16, 16, 3), np.uint8)
    assert decode(saved(colour, quality=83), 10**6).jpeg_quality == 83
    ok, data = cv2.imencode(".jpg", colour, [cv2.IMWRITE_JPEG_QUALITY, 37])
    assert ok and decode(data.tobytes(), 10**6).jpeg_quality == 37


def test_a_cameras_own_table_gets_the_nearest_quality():
    """A table that is no IJG scaling (each entry 1.2x quality 80's): the quality of as coarse a save, between
    the two IJG tables it lies between."""
    table = np.round(ijg_table(80) * 1.2).astype(int)
    assert 75 <= ijg_quality(table) < 80
    custom = saved(np.zeros((16, 16), np.uint8), qtables=[table.tolist()])
    assert decode(custom, 10**6).jpeg_quality == ijg_quality(table)


@pytest.mark.parametrize("table", [[16] * 63, [0] + [16] * 63, []])
def test_a_table_that_is_not_64_positive_entries_has_no_quality(table):
    assert ijg_quality(table) is None


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_other_files_have_none(fmt):
    assert decode(saved(np.zeros((16, 16, 3), np.uint8), fmt), 10**6).jpeg_quality is None


def test_a_camera_jpeg_with_a_preview_picture_has_its_quality():
    first = Image.fromarray(np.zeros((16, 16, 3), np.uint8))
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[first], quality=66)
    image = decode(buffer.getvalue(), 10**6)
    assert image.source_format == "MPO" and image.jpeg_quality == 66


def test_the_quality_survives_the_denoisers_output():
    from app.imaging import DecodedImage

    image = DecodedImage(np.zeros((4, 4), np.uint8), source_format="JPEG", jpeg_quality=70)
    assert image.with_pixels(np.ones((4, 4), np.uint8)).jpeg_quality == 70
