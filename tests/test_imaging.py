import io

import numpy as np
import pytest
from PIL import Image

from app.errors import EmptyFile, ImageTooLarge, InvalidImage
from app.imaging import DecodedImage, decode, encode

LIMIT = 60_000_000


def save(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def test_rgb_png_round_trips_exactly(astronaut):
    decoded = decode(save(Image.fromarray(astronaut), "PNG"), LIMIT)
    assert decoded.pixels.dtype == np.uint8 and np.array_equal(decoded.pixels, astronaut)
    body, media = encode(decoded, "png")
    assert media == "image/png" and np.array_equal(np.asarray(Image.open(io.BytesIO(body))), astronaut)


def test_grey_stays_grey(camera):
    decoded = decode(save(Image.fromarray(camera), "PNG"), LIMIT)
    assert decoded.is_grey and np.array_equal(decoded.pixels, camera)
    assert Image.open(io.BytesIO(encode(decoded)[0])).mode == "L"


def test_alpha_is_carried_through(astronaut):
    alpha = np.tile(np.arange(astronaut.shape[1], dtype=np.uint8), (astronaut.shape[0], 1))
    rgba = np.dstack([astronaut, alpha])
    decoded = decode(save(Image.fromarray(rgba, "RGBA"), "PNG"), LIMIT)
    assert np.array_equal(decoded.pixels, astronaut) and np.array_equal(decoded.alpha, alpha)
    out = np.asarray(Image.open(io.BytesIO(encode(decoded)[0])))
    assert out.shape[2] == 4 and np.array_equal(out[..., 3], alpha)


def test_sixteen_bit_grey_stays_sixteen_bit():
    values = (np.arange(64 * 64, dtype=np.uint32) * 16).reshape(64, 64).astype(np.uint16)
    decoded = decode(save(Image.fromarray(values), "PNG"), LIMIT)
    assert decoded.pixels.dtype == np.uint16 and np.array_equal(decoded.pixels, values)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode(decoded)[0]))), values)


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    decoded = decode(save(image, "JPEG", exif=exif), LIMIT)
    assert decoded.pixels.shape[:2] == (40, 20)


def test_palette_and_cmyk_become_rgb(astronaut):
    palette = Image.fromarray(astronaut).convert("P")
    assert decode(save(palette, "PNG"), LIMIT).pixels.shape == astronaut.shape
    cmyk = Image.fromarray(astronaut).convert("CMYK")
    assert decode(save(cmyk, "JPEG"), LIMIT).pixels.shape == astronaut.shape


def test_first_frame_of_an_animated_gif():
    frames = [Image.new("L", (16, 16), v) for v in (10, 200)]
    data = save(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert decode(data, LIMIT).pixels.mean() < 100


@pytest.mark.parametrize("fmt", ["png", "webp", "tiff"])
def test_lossless_formats_are_lossless(astronaut, fmt):
    body, _ = encode(DecodedImage(astronaut), fmt)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(body)).convert("RGB")), astronaut)


def test_empty_garbage_and_truncated_files_are_refused(astronaut):
    with pytest.raises(EmptyFile):
        decode(b"", LIMIT)
    with pytest.raises(InvalidImage):
        decode(b"this is not an image", LIMIT)
    with pytest.raises(InvalidImage):
        decode(save(Image.fromarray(astronaut), "PNG")[:2000], LIMIT)


def test_pixel_limit_is_checked_on_the_header():
    data = save(Image.new("L", (300, 200)), "PNG")
    assert decode(data, 300 * 200).pixels.shape == (200, 300)
    with pytest.raises(ImageTooLarge):
        decode(data, 300 * 200 - 1)


def test_sixteen_bit_colour_png_stays_sixteen_bit():
    import cv2

    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 65536, (40, 50, 3), dtype=np.uint16)
    alpha = rng.integers(0, 65536, (40, 50), dtype=np.uint16)
    ok, data = cv2.imencode(".png", np.dstack([rgb[..., ::-1], alpha]))
    decoded = decode(data.tobytes(), LIMIT)
    assert decoded.pixels.dtype == np.uint16 and np.array_equal(decoded.pixels, rgb)
    assert np.array_equal(decoded.alpha, alpha)
    body, media = encode(decoded, "png")
    back = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_UNCHANGED)
    assert media == "image/png" and back.dtype == np.uint16
    assert np.array_equal(back[..., 2::-1], rgb) and np.array_equal(back[..., 3], alpha)


def test_read_photo_gives_8_bit_as_stored(tmp_path, astronaut):
    from app.imaging import read_photo, to_8bit

    deep = (np.arange(64 * 64, dtype=np.uint32) * 16).reshape(64, 64).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    Image.fromarray(np.dstack([astronaut, astronaut[..., 0]])).save(tmp_path / "rgba.png")
    assert np.array_equal(read_photo(tmp_path / "deep.png"), (deep >> 8).astype(np.uint8))
    assert np.array_equal(read_photo(tmp_path / "rgba.png"), astronaut)  # alpha dropped
    assert to_8bit(np.array([0, 255, 65535], np.uint16)).tolist() == [0, 0, 255]
