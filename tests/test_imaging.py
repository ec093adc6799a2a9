import io

import numpy as np
import pytest
from PIL import Image

from app.errors import EmptyFile, ImageTooLarge, InvalidImage
from app.imaging import LOSSY_WEBP, DecodedImage, decode, encode
from tests.conftest import png_claiming

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


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_is_applied_in_the_right_direction(fmt):
    """Orientation 6 means "turn 90 degrees clockwise to display": the left half ends up on top."""
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (20, 0, 40, 20))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6
    pixels = decode(save(image, fmt, exif=exif), LIMIT).pixels
    assert pixels.shape == (40, 20, 3)
    assert pixels[5, 10, 0] > 200 and pixels[5, 10, 2] < 60  # top: red
    assert pixels[34, 10, 2] > 200 and pixels[34, 10, 0] < 60  # bottom: blue


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


def test_pixel_limit_refuses_a_bomb_before_decoding_with_the_services_figure():
    """A 60-byte PNG claiming 10000x8000 (under Pillow's own warning level) and one claiming 40000x40000
    (over Pillow's error level): both are refused by the service's limit, quoted in the message. Their
    pixel data is missing, so a check after decoding would report a corrupt file instead."""
    for width, height in ((10000, 8000), (40000, 40000)):
        with pytest.raises(ImageTooLarge, match="the limit is 60,000,000"):
            decode(png_claiming(width, height), LIMIT)
    with pytest.raises(InvalidImage):  # within the limit, the same file is read and found corrupt
        decode(png_claiming(10000, 8000), 10**9)


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("fmt,kept", [("png", True), ("webp", True), ("jpeg", True), ("tiff", False)])
def test_icc_profile_is_kept_except_in_tiff(astronaut, fmt, kept):
    icc = _srgb_profile()
    decoded = decode(save(Image.fromarray(astronaut), "PNG", icc_profile=icc), LIMIT)
    assert decoded.icc_profile == icc
    out = Image.open(io.BytesIO(encode(decoded, fmt)[0]))
    assert (out.info.get("icc_profile") == icc) is kept


@pytest.mark.parametrize(("mode", "options", "expected"), [
    ("RGB", {"quality": 80}, LOSSY_WEBP),  # a plain VP8 file
    ("RGB", {"lossless": True}, "WEBP"),  # VP8L
    ("RGBA", {"quality": 80}, LOSSY_WEBP),  # VP8X: its alpha (ALPH) is lossless, its colour VP8
    ("RGBA", {"lossless": True}, "WEBP"),
    ("L", {"quality": 80}, LOSSY_WEBP),
    ("RGB", {"quality": 80, "icc_profile": b"odd"}, LOSSY_WEBP),  # a chunk of odd size before the picture's: padded
])
@pytest.mark.parametrize("frames", [1, 2])  # 2: an animation (ANMF frames), whose first frame is decoded
def test_a_lossy_webp_is_told_from_a_lossless_one(astronaut, mode, options, expected, frames):
    """The pipeline sends a lossy WebP file where it sends a JPEG file (`app.pipeline.SAVED_FORMATS`), and
    Pillow calls both kinds "WEBP": the file's own chunks say which."""
    image = Image.fromarray(astronaut[:64, :48]).convert(mode)
    more = {"save_all": True, "append_images": [image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]} if frames > 1 else {}
    assert decode(save(image, "WEBP", **options, **more), LIMIT).source_format == expected
    assert decode(save(image, "PNG"), LIMIT).source_format == "PNG"


def test_a_webp_s_chunks_are_read_only_up_to_a_bound():
    """A hostile file of many empty chunks before its picture is not walked to the end (one request's time):
    past WEBP_CHUNKS_READ chunks it counts as lossless, as a PNG would."""
    from app import imaging

    def webp(chunks: int) -> bytes:
        body = b"WEBP" + b"XTRA\0\0\0\0" * chunks + b"VP8 \x02\0\0\0\0\0"
        return b"RIFF" + len(body).to_bytes(4, "little") + body

    assert imaging._lossy_webp(webp(imaging.WEBP_CHUNKS_READ - 1))
    assert not imaging._lossy_webp(webp(imaging.WEBP_CHUNKS_READ))
    assert not imaging._lossy_webp(webp(10**6))


def test_a_grey_photo_in_a_colour_file_looks_grey(camera, astronaut):
    """A grey photo saved as lossy WebP (no grey mode: channels 1 apart) or as an RGB JPEG (equal) looks grey;
    a colour photo does not, nor a grey one with one pixel 2 apart, in any band of rows."""
    from app import imaging

    grey_rgb = Image.fromarray(np.tile(camera[:, :64], (3, 1))).convert("RGB")  # 384 rows: two bands
    for fmt, options in (("WEBP", {"quality": 80}), ("JPEG", {"quality": 90})):
        decoded = decode(save(grey_rgb, fmt, **options), LIMIT)
        assert not decoded.is_grey and decoded.looks_grey, fmt
    assert decode(save(Image.fromarray(camera[:64, :64]), "PNG"), LIMIT).looks_grey  # grey mode itself
    assert not decode(save(Image.fromarray(astronaut[:64, :64]), "PNG"), LIMIT).looks_grey
    tinted = np.asarray(grey_rgb).copy()
    assert imaging.grey_in_colour(tinted)
    tinted[imaging.GREY_BAND_ROWS + 5, 7] = (100, 100, 102)
    assert not imaging.grey_in_colour(tinted)  # in the second band of rows
    sixteen = np.full((4, 4, 3), 30000, np.uint16)
    sixteen[..., 1] += 257  # one step of 8 bits
    assert imaging.grey_in_colour(sixteen)
    sixteen[0, 0, 1] += 1
    assert not imaging.grey_in_colour(sixteen)


def test_exif_is_not_copied_to_the_output(astronaut):
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Camera maker"
    decoded = decode(save(Image.fromarray(astronaut), "JPEG", exif=exif), LIMIT)
    for fmt in ("jpeg", "png", "webp", "tiff"):
        out = Image.open(io.BytesIO(encode(decoded, fmt)[0]))
        assert "exif" not in out.info and 0x010F not in out.getexif() and 0x0112 not in out.getexif(), fmt


def test_sixteen_bit_tiff_in_and_out():
    values = (np.arange(48 * 64, dtype=np.uint32) * 21).reshape(48, 64).astype(np.uint16)
    decoded = decode(save(Image.fromarray(values), "TIFF"), LIMIT)
    assert decoded.pixels.dtype == np.uint16 and np.array_equal(decoded.pixels, values)
    out = Image.open(io.BytesIO(encode(decoded, "tiff")[0]))
    assert out.mode.startswith("I;16") and np.array_equal(np.asarray(out), values)


def test_bmp_is_read_exactly(astronaut):
    assert np.array_equal(decode(save(Image.fromarray(astronaut), "BMP"), LIMIT).pixels, astronaut)


def test_a_grey_palette_stays_grey():
    index = np.arange(32 * 40, dtype=np.uint32).reshape(32, 40) % 256
    image = Image.fromarray(index.astype(np.uint8), "P")
    image.putpalette([v for level in range(256) for v in (255 - level,) * 3])  # grey, inverted
    pixels = decode(save(image, "PNG"), LIMIT).pixels
    assert pixels.ndim == 2 and np.array_equal(pixels, 255 - index)


def test_jpeg_quality_is_applied(astronaut):
    image = DecodedImage(astronaut)
    low, high = encode(image, "jpeg", 10)[0], encode(image, "jpeg", 95)[0]
    assert len(low) < len(high) / 2
    from app.quality import psnr

    assert psnr(astronaut, decode(low, LIMIT).pixels) + 5 < psnr(astronaut, decode(high, LIMIT).pixels)


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
