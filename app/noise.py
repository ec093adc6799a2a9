"""Salt-and-pepper (fixed-value impulse) noise: the only implementation in the project.

Training, evaluation, the benchmark and the `/corrupt` route all call `salt_and_pepper`, so a
model is trained and scored on exactly the noise the service produces.
"""

from __future__ import annotations

import numpy as np

# Largest seed the routes accept: numpy's generators take any non-negative integer; this bounds the form field.
MAX_SEED = 2**63 - 1
CHUNK_SITES = 1 << 20


def salt_and_pepper(
    image: np.ndarray,
    density: float,
    salt_ratio: float = 0.5,
    per_channel: bool = True,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Return a copy of `image` with a fraction `density` of its values set to 0 or the dtype's max.

    - `image`: (H, W) or (H, W, C) array of uint8 or uint16 (salt is 255 or 65535).
    - `density`: expected fraction of values hit, in [0, 1]; 1 hits every value.
    - `salt_ratio`: fraction of the hit values that become salt (max); the rest become pepper (0).
    - `per_channel`: colour only. True (MATLAB `imnoise`, skimage `random_noise`): each channel is hit
      independently. False: a hit pixel gets the same value in every channel.
    - `seed` / `rng`: the same seed and input give the same output; pass `rng` to draw from a
      generator you own (training does, for speed), else a fresh one is seeded with `seed`.

    One uniform draw `u` per site decides both: hit when `u < density`, salt when `u < density *
    salt_ratio`, so the salt share among hits is exactly `salt_ratio` in expectation.
    """
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"image must be uint8 or uint16, not {image.dtype}")
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), not shape {image.shape}")
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], not {density}")
    if not 0.0 <= salt_ratio <= 1.0:
        raise ValueError(f"salt_ratio must be in [0, 1], not {salt_ratio}")
    if rng is None:
        rng = np.random.default_rng(seed)
    site_shape = image.shape if (per_channel or image.ndim == 2) else image.shape[:2]
    out = image.copy()
    # Row chunks of about a million sites: the draws are the same stream as one draw of the whole
    # shape (numpy fills in C order), so results do not depend on the chunking, and memory beyond the
    # output stays a few MB (whole-image temporaries took /corrupt of a 60 MP photo to 3 GB).
    rows = max(1, CHUNK_SITES // max(1, int(np.prod(site_shape[1:]))))
    for top in range(0, image.shape[0], rows):
        u = rng.random((min(rows, image.shape[0] - top), *site_shape[1:]), dtype=np.float32)
        # float32 rounding could make u < 1.0 fail for u just below 1; density == 1 must hit everything.
        hit = np.ones(u.shape, bool) if density >= 1.0 else u < np.float32(density)
        salt = u < np.float32(density * salt_ratio)
        if site_shape != image.shape:
            hit, salt = hit[..., None], salt[..., None]
        chunk = out[top : top + len(u)]
        np.copyto(chunk, 0, where=hit)
        np.copyto(chunk, np.iinfo(image.dtype).max, where=hit & salt)
    return out


def impulse_fraction(image: np.ndarray) -> float:
    """Fraction of values at 0 or the dtype's max: an upper bound on the salt-and-pepper density.

    Clean photos have some true extremes (clipped highlights, black shadows), so this over-estimates
    on clean input; the service reports it as a hint, not a measurement.
    """
    top = np.iinfo(image.dtype).max
    if image.size == 0:
        return 0.0
    return float(np.count_nonzero((image == 0) | (image == top)) / image.size)
