"""Classical impulse-noise filters the models are compared with; vectorised, uint8 in and out.

Each takes (H, W) or (H, W, C) uint8 and returns the same shape. The switching filters for salt and
pepper treat a value of exactly 0 or 255 as corrupt, the same rule the models' pre-fill uses; the
ROAD filter detects impulses of any value (random-valued, near-extreme, after a JPEG save).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from app.noise import ROAD_THRESHOLD, road


def _per_channel(image: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    if image.ndim == 2:
        return fn(image)
    return np.stack([fn(np.ascontiguousarray(image[..., c])) for c in range(image.shape[2])], axis=2)


def median(image: np.ndarray, size: int) -> np.ndarray:
    """Plain median filter (reflected borders): blurs every pixel, noisy or not."""
    return _per_channel(image, lambda ch: cv2.medianBlur(ch, size))


# JFIF's RGB -> YCbCr, the conversion a JPEG file stores (rows Y, Cb, Cr; the chroma offset of 128 apart).
JFIF_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def luma_chroma_median(image: np.ndarray, luma: int = 3, chroma: int = 9) -> np.ndarray:
    """A `luma` x `luma` median on JFIF's Y and a `chroma` x `chroma` one on Cb and Cr (each plane rounded
    to 8 bits, as a JPEG stores it), back to RGB; a grey photo gets the `luma` median alone.

    Why: JPEG's 4:2:0 keeps chroma at half resolution and smears a per-channel impulse's colour over its
    neighbours while the luma keeps it sharp, so a per-channel RGB median treats the smeared colour as
    detail. On held-out colour training photos with salt-and-pepper saved as JPEG it beat the RGB medians
    by 1.2-2.0 dB (`python scripts/chroma_median_probe.py --photos 16 --crop 256`; docs/model-design.md),
    the strongest classical filter we know there, so it is one of the tables' anchors on colour photos."""
    if image.ndim == 2 or image.shape[2] == 1:
        return median(image, luma)
    top = np.iinfo(image.dtype).max
    ycc = np.clip(np.round(to_ycbcr(image)), 0, top).astype(image.dtype)
    planes = [cv2.medianBlur(np.ascontiguousarray(ycc[..., c]), luma if c == 0 else chroma) for c in range(3)]
    return from_ycbcr(np.stack(planes, axis=-1), image.dtype)


def _chroma_offset(dtype: np.dtype) -> np.ndarray:
    return np.array([0.0, 0.5, 0.5]) * (float(np.iinfo(dtype).max) + 1)


def to_ycbcr(image: np.ndarray) -> np.ndarray:
    """JFIF YCbCr of an 8- or 16-bit RGB image, float64 and unrounded (Cb, Cr centred on half the range)."""
    return image.astype(np.float64) @ JFIF_YCBCR.T + _chroma_offset(image.dtype)


def from_ycbcr(ycc: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """RGB of `dtype` (rounded, clipped) from JFIF YCbCr on that type's scale."""
    rgb = (ycc.astype(np.float64) - _chroma_offset(dtype)) @ np.linalg.inv(JFIF_YCBCR).T
    return np.clip(np.round(rgb), 0, np.iinfo(dtype).max).astype(dtype)


def adaptive_median(image: np.ndarray, max_size: int = 7) -> np.ndarray:
    """Textbook adaptive median (Gonzalez & Woods), windows 3, 5, ... max_size.

    Per pixel, the smallest window whose median is not an extreme of the window decides: keep the
    pixel when it is not an extreme either, else take that median; when no window qualifies, the
    largest window's median.
    """

    def one(ch: np.ndarray) -> np.ndarray:
        out = cv2.medianBlur(ch, max_size)
        decided = np.zeros(ch.shape, bool)
        for size in range(3, max_size + 1, 2):
            kernel = np.ones((size, size), np.uint8)
            lo = cv2.erode(ch, kernel, borderType=cv2.BORDER_REFLECT_101)
            hi = cv2.dilate(ch, kernel, borderType=cv2.BORDER_REFLECT_101)
            med = cv2.medianBlur(ch, size)
            here = ~decided & (lo < med) & (med < hi)
            keep = (lo < ch) & (ch < hi)
            out[here] = np.where(keep, ch, med)[here]
            decided |= here
        return out

    return _per_channel(image, one)


def switching_mean(image: np.ndarray, max_iterations: int = 100,
                   detect: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Decision-based filter: keep every value the detector calls clean (default: not 0/255); fill
    the others, iteratively.

    Each pass fills the corrupt values that have at least one known 3x3 neighbour with the mean of
    those neighbours (known = clean, or filled in an earlier pass), as in iterative mean filters.
    """

    def one(ch: np.ndarray) -> np.ndarray:
        known = ~detect(ch) if detect is not None else (ch != 0) & (ch != 255)
        if known.all():
            return ch.copy()
        if not known.any():
            return np.full_like(ch, 128)
        values = np.where(known, ch, 0).astype(np.float32)
        mask = known.astype(np.float32)
        for _ in range(max_iterations):
            s = cv2.boxFilter(values * mask, -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
            n = cv2.boxFilter(mask, -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
            new = (mask == 0) & (n > 0)
            values[new] = s[new] / n[new]
            mask[new] = 1.0
            if mask.all():
                break
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)

    return _per_channel(image, one)


def inpaint_telea(image: np.ndarray, radius: int = 3) -> np.ndarray:
    """OpenCV Telea inpainting of the 0/255 values, channel by channel (each has its own mask)."""

    def one(ch: np.ndarray) -> np.ndarray:
        mask = ((ch == 0) | (ch == 255)).astype(np.uint8)
        if not mask.any():
            return ch.copy()
        if mask.all():
            return np.full_like(ch, 128)
        return cv2.inpaint(ch, mask, radius, cv2.INPAINT_TELEA)

    return _per_channel(image, one)


def road_switching(image: np.ndarray, threshold: int = ROAD_THRESHOLD) -> np.ndarray:
    """ROAD detector + the switching mean's fill: impulses of any value (random-valued, near-extreme,
    smeared by a JPEG save) are found and filled; every other value is kept."""
    return _per_channel(image, lambda ch: switching_mean(ch, detect=lambda c: road(c) > threshold))


METHODS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "noisy input": lambda x: x,
    "median 3x3": lambda x: median(x, 3),
    "median 5x5": lambda x: median(x, 5),
    "adaptive median 7x7": adaptive_median,
    "switching mean": switching_mean,
    "inpaint (Telea)": inpaint_telea,
    "ROAD switching": road_switching,
    "median Y 3x3, CbCr 9x9": lambda x: luma_chroma_median(x, 3, 9),
    "median Y 5x5, CbCr 13x13": lambda x: luma_chroma_median(x, 5, 13),
}
# On a grey photo these are the plain medians above: the evaluation runs them on colour photos only.
COLOUR_ONLY = ("median Y 3x3, CbCr 9x9", "median Y 5x5, CbCr 13x13")
