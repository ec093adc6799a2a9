"""Impulse noise, every kind the product deals with: the only implementation in the project.

- `salt-pepper`: values set to 0 or the maximum (`salt_and_pepper`).
- `impulse-range`: non-extreme impulses (hot and dead sensor pixels, scanner dust): pepper uniform in
  [0, s], salt uniform in [max - s, max]; `spread` s on the 0..255 scale (s = 0 is salt-pepper).
- `random-valued`: impulses uniform over the whole range (transmission errors).
- then, optionally, a lossy re-encode (JPEG at a quality, Pillow's default 4:2:0 subsampling, or
  lossy WebP), last, as a camera, a phone or a website would save the noisy photo.

Training, evaluation, the benchmark and the `/corrupt` route all call this module, so a model is
trained and scored on exactly the noise the service produces. Seeded: the same seed and input give
the same output, per channel or per pixel, grey or colour, 8 or 16 bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Largest seed the routes accept: numpy's generators take any non-negative integer; this bounds the form
# field. 2^53 - 1, the largest integer a JSON number carries exactly: 2^63 - 1 was written 2^63 in the
# OpenAPI schema, so generated clients sent a value the route refused.
MAX_SEED = 2**53 - 1
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
    return _impulses(image, density, salt_ratio, per_channel, rng or np.random.default_rng(seed))


def _impulses(image: np.ndarray, density: float, salt_ratio: float, per_channel: bool, rng: np.random.Generator,
              kind: str = "salt-pepper", spread: int = 0) -> np.ndarray:
    """The one sampling loop: which sites are hit (and salt or pepper), then, for the kinds with
    random values, one value per hit site. Salt-pepper draws nothing else, so its stream is the one
    `salt_and_pepper` has always drawn (training runs reproduce)."""
    top = int(np.iinfo(image.dtype).max)
    site_shape = image.shape if (per_channel or image.ndim == 2) else image.shape[:2]
    out = image.copy()
    # Row chunks of about a million sites: the draws are the same stream as one draw of the whole
    # shape (numpy fills in C order), so results do not depend on the chunking, and memory beyond the
    # output stays a few MB (whole-image temporaries took /corrupt of a 60 MP photo to 3 GB).
    rows = max(1, CHUNK_SITES // max(1, int(np.prod(site_shape[1:]))))
    for row in range(0, image.shape[0], rows):
        u = rng.random((min(rows, image.shape[0] - row), *site_shape[1:]), dtype=np.float32)
        # float32 rounding could make u < 1.0 fail for u just below 1; density == 1 must hit everything.
        hit = np.ones(u.shape, bool) if density >= 1.0 else u < np.float32(density)
        salt = u < np.float32(density * salt_ratio)
        salt_sites = salt
        if site_shape != image.shape:
            hit, salt = hit[..., None], salt[..., None]
        chunk = out[row : row + len(u)]
        if kind == "salt-pepper":
            np.copyto(chunk, 0, where=hit)
            np.copyto(chunk, top, where=hit & salt)
            continue
        v = rng.random(u.shape, dtype=np.float32)
        if kind == "random-valued":
            values = np.minimum(v * np.float32(top + 1), top).astype(image.dtype)
        else:  # impulse-range: pepper in [0, spread], salt in [top - spread, top]
            offset = np.minimum(v * np.float32(spread + 1), spread).astype(image.dtype)
            values = np.where(salt_sites, top - offset, offset).astype(image.dtype)
        if site_shape != image.shape:
            values = values[..., None]
        np.copyto(chunk, values, where=hit)
    return out


NOISE_KINDS = ("salt-pepper", "impulse-range", "random-valued")
LOSSY_FORMATS = ("jpeg", "webp")


@dataclass(frozen=True)
class NoiseSpec:
    """A kind of noise, its parameters and an optional lossy re-encode: what `add_noise` adds.

    `spread` is on the 0..255 scale whatever the bit depth (x257 for 16-bit images); `jpeg_quality`
    and `webp_quality` (1..100) re-encode after the impulses, at most one of them.
    """

    kind: str = "salt-pepper"
    density: float = 0.2
    salt_ratio: float = 0.5
    per_channel: bool = True
    spread: float = 30.0
    jpeg_quality: int | None = None
    webp_quality: int | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in NOISE_KINDS:
            problems.append(f"kind must be one of {', '.join(NOISE_KINDS)}, not {self.kind!r}")
        if not 0.0 <= self.density <= 1.0:
            problems.append(f"density must be in [0, 1], not {self.density}")
        if not 0.0 <= self.salt_ratio <= 1.0:
            problems.append(f"salt_ratio must be in [0, 1], not {self.salt_ratio}")
        if not 0.0 <= self.spread <= 255.0:
            problems.append(f"spread must be in [0, 255], not {self.spread}")
        for name in ("jpeg_quality", "webp_quality"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= 100:
                problems.append(f"{name} must be in [1, 100], not {value}")
        if self.jpeg_quality is not None and self.webp_quality is not None:
            problems.append("give jpeg_quality or webp_quality, not both")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def lossy(self) -> tuple[str, int] | None:
        """(format, quality) of the re-encode, or None."""
        if self.jpeg_quality is not None:
            return "jpeg", self.jpeg_quality
        if self.webp_quality is not None:
            return "webp", self.webp_quality
        return None


def add_noise(image: np.ndarray, spec: NoiseSpec, seed: int | None = None,
              rng: np.random.Generator | None = None) -> np.ndarray:
    """`image` with the impulses of `spec`, then its lossy re-encode (if any): a new array.

    Salt-pepper, and impulse-range with spread 0, are exactly `salt_and_pepper` (same draws)."""
    if image.dtype not in (np.uint8, np.uint16) or image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C) uint8 or uint16, not {image.dtype} {image.shape}")
    if spec.lossy is not None and image.dtype != np.uint8:
        raise ValueError(f"{spec.lossy[0].upper()} is an 8-bit format: a 16-bit image cannot be re-encoded with it")
    rng = rng or np.random.default_rng(seed)
    scale = 257 if image.dtype == np.uint16 else 1
    spread = int(round(spec.spread * scale))
    kind = "salt-pepper" if spec.kind == "impulse-range" and spread == 0 else spec.kind
    noisy = _impulses(image, spec.density, spec.salt_ratio, spec.per_channel, rng, kind, spread)
    return noisy if spec.lossy is None else reencode(noisy, *spec.lossy)


def reencode(pixels: np.ndarray, fmt: str, quality: int) -> np.ndarray:
    """uint8 grey or RGB pixels saved as lossy JPEG (Pillow's default 4:2:0 subsampling) or WebP at
    `quality`, and read back: what a noisy photo looks like once a camera or a website has saved it.
    Through the service's own encoder and decoder (app/imaging.py)."""
    from app.imaging import DecodedImage, decode, encode  # imaging does not import this module; lazily all the same

    if fmt not in LOSSY_FORMATS:
        raise ValueError(f"lossy format must be one of {', '.join(LOSSY_FORMATS)}, not {fmt!r}")
    data, _ = encode(DecodedImage(pixels), fmt, quality, lossy_webp=True)
    back = decode(data, pixels.shape[0] * pixels.shape[1]).pixels
    return as_grey(back) if pixels.ndim == 2 else back  # WebP keeps no grey mode: back to grey


def as_grey(pixels: np.ndarray) -> np.ndarray:
    """Grey uint8 pixels as they are; RGB ones as Pillow's luma (0.299 R + 0.587 G + 0.114 B): how a grey photo
    saved as WebP, which has no grey mode and so decodes as colour, is turned back to grey."""
    if pixels.ndim == 2:
        return pixels
    from PIL import Image

    return np.asarray(Image.fromarray(pixels).convert("L"))


def road(values: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """Rank-ordered absolute differences (Garnett et al. 2005) of an (H, W) channel or each channel of an
    (H, W, C) image: per value, the sum of its 4 smallest absolute differences to its 8 neighbours, as
    int32. Small inside smooth or textured regions, large for an impulse of any value, which differs from
    (almost) all of its neighbours.

    `known`: values already known to be impulses (exact extremes); differences to them count as 0, so a
    clean value among many salt-and-pepper impulses is not taken for one (at density 0.3 that made the
    estimate 0.36).

    8-bit values are worked on as int16 (a difference fits, and so does a sum of four): half the bytes of
    int32 (CHUNK_VALUES gives the time)."""
    wide = np.int16 if values.dtype.itemsize == 1 else np.int32
    space = ((1, 1), (1, 1)) + ((0, 0),) * (values.ndim - 2)  # pad the rows and columns, not the channels
    padded = np.pad(values.astype(wide), space, mode="reflect")
    h, w = values.shape[:2]
    centre = padded[1 : 1 + h, 1 : 1 + w]
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
    d = [np.abs(padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] - centre) for dy, dx in shifts]
    if known is not None:
        keep = np.pad(~known.astype(bool), space, mode="reflect")
        d = [v * keep[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for v, (dy, dx) in zip(d, shifts)]
    return sum_of_four_smallest(d, np.minimum, np.maximum).astype(np.int32, copy=False)


# Sorting network for 4 values (5 compare-exchanges).
SORT4 = ((0, 1), (2, 3), (0, 2), (1, 3), (1, 2))


def sum_of_four_smallest(d: list, minimum: Callable, maximum: Callable):
    """The sum of the 4 smallest of 8 same-shaped arrays, value by value, with min/max only: ROAD's
    selection, shared by `road` (NumPy) and the blind model's graph (`training.architectures.blind_unet.road`,
    keras.ops, exported as ONNX Min/Max). Element-wise on whole arrays: np.partition along a last axis of 8
    was far slower.

    Each half is sorted (5 compare-exchanges each), then the smaller of a[i] and b[3 - i] for each i: the
    lower half of a bitonic merge, which holds exactly the 4 smallest of the 8. 24 min/max where a full sort
    of 8 (19 compare-exchanges) took 38. `d` is reordered in place."""
    for half in (0, 4):
        for i, j in SORT4:
            a, b = d[half + i], d[half + j]
            d[half + i], d[half + j] = minimum(a, b), maximum(a, b)
    return minimum(d[0], d[7]) + minimum(d[1], d[6]) + minimum(d[2], d[5]) + minimum(d[3], d[4])


# A value is called an impulse above this ROAD (on the 0..255 scale). Garnett et al. pair ROAD with
# 40-60 and a trilateral filter; with a switching fill, 90 did best on scikit-image's astronaut, coffee and
# camera crops (never a test set): random-valued 0.1 / 0.3 gave 32.1 / 28.1 dB at 90 against 28.1 / 26.5
# at 40 (median 3x3: 31.3 / 24.4; `python scripts/impulse_checks.py`). training/baselines.py's ROAD anchor.
ROAD_THRESHOLD = 90
ESTIMATE_PIXELS = 1 << 18  # larger images are estimated on evenly spaced bands of about this many pixels
BAND_ROWS = 8
# Smaller ones are worked through whole, in row chunks of about this many values, so that ROAD's two dozen
# intermediate arrays stay in the cache. With that, int16 for 8-bit values and every channel at once (`road`),
# and `sum_of_four_smallest`'s 24 min/max for 38: a 512x512 photo's estimate 60.9 -> 7.8 ms, 1 MP 37.6 ->
# 10.6 ms (bands), the same values; 24 MP unchanged, 21.3 / 21.8 ms (`python scripts/impulse_checks.py`,
# the code before and after, one after the other: medians of 7). Each /denoise pays it once.
# 1 << 14 to 1 << 17 were within a few ms of each other on a 512x512 photo; 1 << 13 and a whole image at
# once were slower.
CHUNK_VALUES = 1 << 16


@dataclass(frozen=True)
class ImpulseEstimate:
    """`impulse_estimate`'s answer: the share of values that look like impulses, and among them the share
    at 0 or the maximum (counted on the same rows)."""

    fraction: float
    at_extremes: float

    @property
    def elsewhere(self) -> float:
        """The share that look like impulses and are not at 0 or the maximum: what a model that changes
        only exact extremes (`app.pipeline.EXTREMES_ONLY`) cannot take."""
        return self.fraction - self.at_extremes


def impulse_fraction(image: np.ndarray) -> float:
    """`impulse_estimate(image).fraction`: the X-Impulse-Fraction header."""
    return impulse_estimate(image).fraction


def impulse_estimate(image: np.ndarray) -> ImpulseEstimate:
    """An estimate of the share of values that are impulses, for every kind of impulse noise: values at
    0 or the maximum, or whose ROAD (with exact extremes as known impulses) exceeds ROAD_THRESHOLD.

    Measured on 256x256 crops of scikit-image's astronaut, coffee and camera (`python
    scripts/impulse_checks.py`): clean 0.011-0.038; salt-and-pepper 0.1 / 0.3 / 0.5: 0.106-0.128 /
    0.303-0.318 / 0.502-0.512; random-valued 0.2: 0.171-0.190; impulse-range (spread 30) 0.3: 0.228-0.291;
    salt-and-pepper 0.2 then JPEG 90: 0.270-0.304
    (the JPEG spreads each impulse). A hint, not a measurement: photos with large clipped regions read
    high (the whole astronaut, clean: 0.13), and dense noise hides impulses among impulses.
    """
    if image.size == 0:
        return ImpulseEstimate(0.0, 0.0)
    h, w = image.shape[:2]
    if h * w > ESTIMATE_PIXELS:  # evenly spaced bands: bounded time and memory
        rows = min(BAND_ROWS, h)
        starts = np.linspace(0, h - rows, max(1, min(h // rows, ESTIMATE_PIXELS // (rows * w)))).astype(int)
    else:  # every row, a few at a time: arrays that stay in the cache
        rows = max(1, CHUNK_VALUES // (w * (image.size // (h * w))))
        starts = range(0, h, rows)
    top = int(np.iinfo(image.dtype).max)
    threshold = ROAD_THRESHOLD * (top // 255)
    hits = extremes = total = 0
    for y in starts:
        end = min(h, y + rows)
        lo, hi = max(0, y - 1), min(h, end + 1)  # one row of context each side, not counted
        band = image[lo:hi]
        extreme = (band == 0) | (band == top)
        hit = extreme | (road(band, extreme) > threshold)
        inner = hit[y - lo : end - lo]
        hits, total = hits + int(np.count_nonzero(inner)), total + inner.size
        extremes += int(np.count_nonzero(extreme[y - lo : end - lo]))
    return ImpulseEstimate(hits / total, extremes / total)
