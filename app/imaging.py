"""Decode uploads into arrays the models take, and encode results; shared by the service and the CLI.

What comes out of `decode`:
- `pixels`: (H, W) grey or (H, W, 3) RGB, uint8 or uint16 (16-bit grey and 16-bit colour PNGs stay
  16-bit; Pillow has no 16-bit colour mode, so OpenCV reads and writes those).
- `alpha`: the alpha channel, carried through untouched (only colour is denoised), or None.
- `source_format`: Pillow's name for the file's format, but "WEBP lossy" (`LOSSY_WEBP`) for a lossy WebP: the
  pipeline treats its pixels as it treats a JPEG file's, saved lossily after any noise they hold.
- `jpeg_quality`: for a JPEG file, the quality of its save (`app.jpeg_quality`), which the pipeline's choice of
  model for a grey one reads.
- EXIF orientation is applied, so the array is upright; the EXIF block itself is not copied to the
  output (its orientation tag would rotate the image twice). The ICC profile is kept and written back.
Limits are checked on the header, before pixels are decoded, so a tiny file that claims 40000x40000
pixels costs nothing.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import EmptyFile, ImageTooLarge, InvalidImage, InvalidParameter, UnsupportedImage
from app.formats import DECODERS, INPUT_DESCRIPTION, OUTPUT_FORMATS
from app.jpeg_quality import ijg_quality

LOSSY_WEBP = "WEBP lossy"  # a WebP file whose picture is VP8 (lossy), not VP8L (lossless)
JPEG_FORMATS = ("JPEG", "MPO")  # Pillow's names for JPEG files ("MPO": a camera's, with a preview picture)


@dataclass
class DecodedImage:
    pixels: np.ndarray
    alpha: np.ndarray | None = None
    source_format: str | None = None  # Pillow's format name, or LOSSY_WEBP
    icc_profile: bytes | None = None
    # A JPEG file's: the IJG quality of its save (`app.jpeg_quality`), read from its header; None for any other
    jpeg_quality: int | None = None

    @property
    def is_grey(self) -> bool:
        return self.pixels.ndim == 2

    @property
    def looks_grey(self) -> bool:
        """Grey, or colour values that are grey to within one step of 8 bits (`grey_in_colour`): which model
        suits the photo depends on what it shows, not on the file's mode."""
        return self.is_grey or grey_in_colour(self.pixels)

    @property
    def max_value(self) -> int:
        return int(np.iinfo(self.pixels.dtype).max)

    @property
    def pixel_count(self) -> int:
        return self.pixels.shape[0] * self.pixels.shape[1]

    def with_pixels(self, pixels: np.ndarray) -> "DecodedImage":
        """The same image (alpha, format, ICC profile) with new colour values."""
        return DecodedImage(pixels, self.alpha, self.source_format, self.icc_profile, self.jpeg_quality)


# Rows compared at a time by `grey_in_colour`: a colour photo stops at its first band, and a 24 MP grey one
# holds one band's int32 copy (about 18 MB at 6000 pixels wide), not the whole photo's.
GREY_BAND_ROWS = 256


def grey_in_colour(pixels: np.ndarray) -> bool:
    """Whether (H, W, 3) colour values are a grey photo's: every pixel's channels within one step of 8 bits
    of each other (257 at 16 bits). A grey photo saved as lossy WebP, which has no grey mode, decodes with
    channels 1 apart (4:2:0 chroma rounding); one saved as an RGB JPEG, with them equal. A colour photo
    is told apart in its first band of rows, as a rule."""
    if pixels.ndim != 3:
        return False
    step = np.iinfo(pixels.dtype).max // 255
    for row in range(0, pixels.shape[0], GREY_BAND_ROWS):
        band = pixels[row : row + GREY_BAND_ROWS].astype(np.int32)
        if np.abs(band[..., 0] - band[..., 1]).max() > step or np.abs(band[..., 1] - band[..., 2]).max() > step:
            return False
    return True


# Pillow's own decompression-bomb limit is a process-wide figure (89 MP warns, 179 MP fails) that would
# answer before ours with its own number; the service's limit (`max_pixels`, a setting, divided by the
# ensemble) is checked on the header in `_open` instead, so Pillow's is turned off.
Image.MAX_IMAGE_PIXELS = None
Image.init()  # register every plugin now: `Image.open(formats=...)` looks the allowed ones up by name


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """The image's header only (no pixels decoded yet), refused when it claims more than `max_pixels`."""
    if not data:
        raise EmptyFile("the uploaded file is empty")
    try:
        image = Image.open(io.BytesIO(data), formats=DECODERS)
    except UnidentifiedImageError:
        raise InvalidImage(f"the file is not an image in a supported format ({INPUT_DESCRIPTION})") from None
    except Exception as e:  # Pillow raises many types for malformed headers
        raise InvalidImage(f"the image header could not be read: {e}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(f"image is {width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,}")
    if width == 0 or height == 0:
        raise InvalidImage("the image has no pixels")
    return image


def _to_arrays(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(image, dtype=np.uint16), None
    if mode == "I":
        values = np.asarray(image)
        if values.min() < 0 or values.max() > 65535:
            raise UnsupportedImage("32-bit integer images outside 0..65535 are not supported")
        return values.astype(np.uint16), None
    if mode == "F":
        raise UnsupportedImage("floating-point images are not supported")
    if mode == "P":
        palette = np.asarray(image.getpalette() or [0, 0, 0]).reshape(-1, 3)
        grey = bool(np.all(palette == palette[:, :1]))  # a grey palette (GIFs of grey images) stays grey
        image = image.convert(("LA" if grey else "RGBA") if "transparency" in image.info else ("L" if grey else "RGB"))
    elif mode == "PA":
        image = image.convert("RGBA")
    elif mode == "1":
        image = image.convert("L")
    elif mode == "La":
        image = image.convert("LA")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if mode.endswith("A") or mode == "RGBa" else "RGB")  # CMYK, YCbCr, LAB, HSV...
    array = np.asarray(image)
    if image.mode in ("LA", "RGBA"):
        return np.ascontiguousarray(array[..., :-1].squeeze(-1) if image.mode == "LA" else array[..., :3]), array[..., -1].copy()
    return array, None


def _is_png_16bit_colour(data: bytes) -> bool:
    """PNG signature, IHDR with bit depth 16 and colour type 2 (RGB) or 6 (RGBA)."""
    return data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and data[24] == 16 and data[25] in (2, 6)


def _decode_png_16bit_colour(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    import cv2

    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16 or array.ndim != 3:
        raise InvalidImage("the 16-bit PNG data is truncated or corrupt")
    rgb = np.ascontiguousarray(array[..., 2::-1])  # OpenCV is BGR(A)
    return rgb, (np.ascontiguousarray(array[..., 3]) if array.shape[2] == 4 else None)


# The picture's chunk comes within the first few (VP8X, ICCP, ANIM, ANMF, ALPH); a file of many empty chunks
# before it would otherwise be walked to its end on every request: a million of them in an 8 MB upload, in a
# Python loop (tests/test_imaging.py builds such files).
WEBP_CHUNKS_READ = 16


def _lossy_webp(data: bytes) -> bool:
    """Whether a WebP file's (first) picture is lossy: the first VP8 or VP8L chunk among its RIFF chunks
    (inside an animation's first ANMF frame, past that frame's 16-byte header). Pillow does not say."""
    position = 12  # past "RIFF", the size and "WEBP"
    for _ in range(WEBP_CHUNKS_READ):
        if position + 8 > len(data):
            break
        tag, size = data[position : position + 4], int.from_bytes(data[position + 4 : position + 8], "little")
        if tag in (b"VP8 ", b"VP8L"):
            return tag == b"VP8 "
        position += 8 + 16 if tag == b"ANMF" else 8 + size + (size & 1)  # chunks are padded to even sizes
    return False


def decode(data: bytes, max_pixels: int, check_size: Callable[[int, int], None] | None = None) -> DecodedImage:
    """Decode an upload (first frame of animations), upright, within the pixel limit.

    `check_size(width, height)` runs on the header, before any pixel is decoded: a caller's own
    refusal (the pipeline's cost of a shape) costs nothing either.
    """
    image = _open(data, max_pixels)
    if check_size is not None:
        check_size(*image.size)
    source_format = LOSSY_WEBP if image.format == "WEBP" and _lossy_webp(data) else image.format
    icc = image.info.get("icc_profile")
    tables = getattr(image, "quantization", None) if source_format in JPEG_FORMATS else None
    quality = ijg_quality(tables[min(tables)]) if tables else None  # the first table: luminance, as libjpeg writes
    if _is_png_16bit_colour(data):
        pixels, alpha = _decode_png_16bit_colour(data)
        return DecodedImage(pixels, alpha, source_format, icc)
    try:
        image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image) or image
        pixels, alpha = _to_arrays(image)
    except (UnsupportedImage, ImageTooLarge):
        raise
    except Exception as e:  # truncated data, bad compression stream, ...
        raise InvalidImage(f"the image data is truncated or corrupt: {e}") from None
    return DecodedImage(np.ascontiguousarray(pixels), alpha, source_format, icc, quality)


def to_8bit(array: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 by dropping the low byte (65535 -> 255); uint8 is returned as it is."""
    return (array >> 8).astype(np.uint8) if array.dtype == np.uint16 else array


def read_photo(path: Path) -> np.ndarray:
    """A photo file as 8-bit pixels, grey (H, W) or colour (H, W, 3), alpha dropped: how training and
    evaluation read their data sets, through the same decoder as the service."""
    return to_8bit(decode(Path(path).read_bytes(), max_pixels=1 << 40).pixels)


def to_pil(image: DecodedImage) -> Image.Image:
    pixels = image.pixels
    if pixels.dtype == np.uint16:
        if pixels.ndim == 3:  # Pillow has no 16-bit RGB mode
            pixels = to_8bit(pixels)
        else:
            return Image.fromarray(pixels)  # I;16
    if image.alpha is not None:
        alpha = to_8bit(image.alpha)
        stacked = np.dstack([pixels, alpha])
        return Image.fromarray(stacked)  # LA or RGBA, inferred from the shape
    return Image.fromarray(pixels)  # L or RGB


def _encode_16bit_colour(image: DecodedImage, fmt: str) -> bytes:
    import cv2

    channels = [image.pixels[..., 2], image.pixels[..., 1], image.pixels[..., 0]]  # OpenCV is BGR(A)
    if image.alpha is not None:
        channels.append(image.alpha.astype(np.uint16) * 257 if image.alpha.dtype == np.uint8 else image.alpha)
    ok, body = cv2.imencode(".png" if fmt == "png" else ".tiff", np.dstack(channels))
    if not ok:
        raise RuntimeError("OpenCV could not encode the 16-bit image")
    return body.tobytes()


def encode(image: DecodedImage, fmt: str = "png", quality: int = 95, lossy_webp: bool = False) -> tuple[bytes, str]:
    """(bytes, media type) in `fmt`; WebP is written lossless (lossy at `quality` with `lossy_webp`: the
    noise module's re-save, never a reply), JPEG at `quality` (alpha dropped).

    16-bit colour stays 16-bit in PNG and TIFF (through OpenCV; the ICC profile is not carried there);
    WebP and JPEG are 8-bit formats.
    """
    if fmt not in OUTPUT_FORMATS:
        raise InvalidParameter(f"unknown format {fmt!r}; use one of {', '.join(OUTPUT_FORMATS)}")
    pil_format, media_type = OUTPUT_FORMATS[fmt].pillow, OUTPUT_FORMATS[fmt].media_type
    if image.pixels.dtype == np.uint16 and image.pixels.ndim == 3 and fmt in ("png", "tiff"):
        return _encode_16bit_colour(image, fmt), media_type
    pil = to_pil(image)
    options: dict = {}
    if image.icc_profile and fmt != "tiff":
        options["icc_profile"] = image.icc_profile
    if fmt == "webp":
        if pil.mode == "I;16":
            pil = Image.fromarray(to_8bit(image.pixels))
        if lossy_webp:
            options.update(quality=quality)
        else:
            options.update(lossless=True, quality=100, method=4)
    elif fmt == "jpeg":
        if pil.mode in ("RGBA", "LA"):
            pil = pil.convert(pil.mode[:-1])
        if pil.mode == "I;16":
            pil = Image.fromarray(to_8bit(image.pixels))
        options.update(quality=quality)
    elif fmt == "png":
        # Level 1: a 481x321 photo in 10.7 ms and 307 KB, against 14.1 ms / 306 KB at 3 and 26 ms / 326 KB
        # at Pillow's default 6 (photo content barely compresses; the CPU is better spent on inference).
        options.update(compress_level=1)
    elif fmt == "tiff":
        options.update(compression="tiff_deflate")
    buffer = io.BytesIO()
    pil.save(buffer, pil_format, **options)
    return buffer.getvalue(), media_type
