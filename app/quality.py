"""Image quality metrics on what the user gets: rounded integer images, as BasicSR and KAIR score.

PSNR with peak 255 (or the dtype's max); SSIM as in the denoising literature and
`skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255)`, colour = mean over channels. Numpy only, so the
service can use it without scipy or scikit-image.
"""

from __future__ import annotations

import math

import numpy as np


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] -> uint8 by round-then-clip (what a saved PNG holds)."""
    return np.clip(np.rint(np.asarray(image, np.float64) * 255.0), 0, 255).astype(np.uint8)


def psnr(reference: np.ndarray, test: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB; `inf` for identical images."""
    if reference.shape != test.shape:
        raise ValueError(f"shape mismatch: {reference.shape} vs {test.shape}")
    squared = sum(float(np.sum((a.astype(np.float64) - b.astype(np.float64)) ** 2))
                  for a, b in zip(_strips(reference), _strips(test)))
    return psnr_of(squared, reference.size, peak)


def psnr_of(squared: float, count: int, peak: float = 255.0) -> float:
    """PSNR in dB from a sum of squared errors over `count` values (`inf` for none): for callers that sum
    only some of the errors, over the whole image's count."""
    mse = squared / max(1, count)
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)


def _gaussian_kernel(sigma: float = 1.5, truncate: float = 3.5) -> np.ndarray:
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _filter_valid(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Separable correlation keeping only positions whose window lies inside the image.

    skimage filters with reflection and then crops the window radius from every border, so the
    reflected values never reach the mean: a 'valid' filter gives the same number.
    """
    n = len(k)
    h, w = a.shape
    rows = sum(k[i] * a[i : h - n + 1 + i, :] for i in range(n))
    return sum(k[j] * rows[:, j : w - n + 1 + j] for j in range(n))


# Row strips of about this many values: memory stays bounded (tens of MB) whatever the image size.
# Whole-image float64 temporaries took /compare of two 60 MP photos to 8.2 GB (issue 13).
STRIP_VALUES = 1 << 20


def _strips(image: np.ndarray, overlap: int = 0):
    """Row strips of `image` (views, no copies), each `overlap` rows into the next one's."""
    per_row = max(1, image.size // max(1, image.shape[0]))
    rows = max(overlap + 1, STRIP_VALUES // per_row)
    for top in range(0, max(1, image.shape[0] - overlap), rows):
        yield image[top : top + rows + overlap]


def _ssim_sum(x: np.ndarray, y: np.ndarray, data_range: float, k: np.ndarray) -> tuple[float, int]:
    """(sum, count) of the SSIM map of one channel strip (valid positions only)."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    ux, uy = _filter_valid(x, k), _filter_valid(y, k)
    vx = _filter_valid(x * x, k) - ux * ux
    vy = _filter_valid(y * y, k) - uy * uy
    vxy = _filter_valid(x * y, k) - ux * uy
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return float(s.sum()), s.size


def _ssim_channel(x: np.ndarray, y: np.ndarray, data_range: float, k: np.ndarray) -> float:
    """Mean SSIM of one channel, computed in row strips that overlap by the window (same value)."""
    total, count = 0.0, 0
    for a, b in zip(_strips(x, len(k) - 1), _strips(y, len(k) - 1)):
        part, n = _ssim_sum(a, b, data_range, k)
        total, count = total + part, count + n
    return total / count


def ssim(reference: np.ndarray, test: np.ndarray, data_range: float = 255.0) -> float:
    """Mean structural similarity (Gaussian window sigma 1.5); colour = mean over channels."""
    if reference.shape != test.shape:
        raise ValueError(f"shape mismatch: {reference.shape} vs {test.shape}")
    k = _gaussian_kernel()
    if min(reference.shape[:2]) < len(k):
        raise ValueError(f"images must be at least {len(k)}x{len(k)} for SSIM")
    if reference.ndim == 2:
        return _ssim_channel(reference, test, data_range, k)
    return float(np.mean([_ssim_channel(reference[..., c], test[..., c], data_range, k)
                          for c in range(reference.shape[2])]))
