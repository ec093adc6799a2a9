"""Image formats, defined once: what the service reads, what it writes, and their names everywhere.

The routes' form fields, content negotiation, the OpenAPI response types, the command line's file
suffixes and the encoder all read these tables, so adding a format is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args


@dataclass(frozen=True)
class OutputFormat:
    name: str  # the value of the `format` field and of --format
    pillow: str  # Pillow's format name
    media_type: str
    suffix: str  # file suffix the command line writes
    lossless: bool  # JPEG smears impulses: /corrupt and `corrupt` refuse lossy formats


OUTPUT_FORMATS: dict[str, OutputFormat] = {f.name: f for f in (
    OutputFormat("png", "PNG", "image/png", ".png", lossless=True),
    OutputFormat("webp", "WEBP", "image/webp", ".webp", lossless=True),  # written lossless
    OutputFormat("tiff", "TIFF", "image/tiff", ".tiff", lossless=True),
    OutputFormat("jpeg", "JPEG", "image/jpeg", ".jpg", lossless=False),
)}
LOSSLESS: tuple[str, ...] = tuple(name for name, f in OUTPUT_FORMATS.items() if f.lossless)

# The same names as types, for form fields (FastAPI turns a Literal into an enum in the OpenAPI schema).
FormatName = Literal[tuple(OUTPUT_FORMATS)]  # type: ignore[valid-type]
LosslessFormatName = Literal[LOSSLESS]  # type: ignore[valid-type]
assert set(get_args(FormatName)) == set(OUTPUT_FORMATS)

# Accept header values -> format name ("image/jpg" is a common misspelling that browsers still send).
MEDIA_TYPES: dict[str, str] = {f.media_type: name for name, f in OUTPUT_FORMATS.items()} | {"image/jpg": "jpeg"}

# What uploads and input files may be: the README's list, the Pillow plugins allowed to read them (no
# other plugin ever sees an upload: EPS would reach Ghostscript; JPEG 2000, AVIF, ICO, PSD... are
# refused with 415), and the suffixes the command line picks up. (Camera JPEGs that carry a second,
# preview picture open as "MPO": Pillow's JPEG opener makes them.)
INPUT_DESCRIPTION = "PNG, JPEG, WebP, TIFF, BMP or GIF (first frame)"
DECODERS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF")
INPUT_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif"})


def response_content(names: tuple[str, ...] = tuple(OUTPUT_FORMATS)) -> dict[str, dict]:
    """The `content` of an OpenAPI 200 response that returns one of `names`."""
    return {OUTPUT_FORMATS[n].media_type: {} for n in names}
