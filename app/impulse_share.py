"""The whole photo's share of isolated exact impulses, which a model's rule for clipped regions needs.

Why (stop 38): since stop 37 `prefill-unet` and `blind-unet` keep an exact 0 or 255 as content when its 5x5
window holds at least k of it, and k rises with p, the share of values the solid rule flags (an extreme not in
or next to a solid 5x5 block of it; `_isolated` in training/architectures/prefill_unet.py). Computed inside
the graph, p was the share in what the graph is given: for a photo larger than one tile, each tile's own,
so tiles decided differently from the whole photo (0-13.6% of the values at exact salt-and-pepper; tiled
PSNR -0.56 to +0.36 dB from the whole photo's; `scripts/tile_checks.py --own-p`). The service computes p
once for the whole photo here and feeds it as the model's `impulse_share` input, so every tile decides with
the same p.

This is the one place outside the graph that knows the solid rule; tests/test_impulse_share.py checks it
against the graph's own p on photos of every kind. It runs on the integer pixels, in bands of rows, so its
memory stays a band's worth whatever the photo (57 MiB at its peak for a 60 MP photo, freed before the first
tile); a 6000x4000 photo takes 0.08 s, 0.6% of the served model's run (`python scripts/share_checks.py --time
6000x4000`, stop 38; since stop 46, with the noise's share below, 0.21 s and 1.5% on another host, where the
solid rule's share alone took 0.16 s; `--time 7740x7740` for the 60 MP figures).

What the service feeds (`photo_shares`, stop 46) is that share lowered where the photo's extremes are not
noise. k is meant to follow the share of the photo's *noise*; the solid rule's share also counts content
that lies in no solid block (thin highlights, small clipped specks), so on a clean photo with clipped
highlights p came out at up to 0.15, k at about 16, and the thin highlights were filled. Noise strikes a
value whatever its surroundings; content extremes lie beside values near them. So the share of salt among the
values whose 5x5 median lies in the lower half of the range (and of pepper in the upper half) estimates the
noise's share, nearly untouched by content, and p becomes the lesser of the solid rule's share and
NOISE_SLACK times that estimate. The slack is there because near a clipped region a noise value kept costs
far more than a content value filled (which is filled from the clipped values beside it): with the estimate
itself (k for the true noise share) photos lost up to 4.75 dB at salt-and-pepper 0.005. Measured on held-out
training photos, never a test photo (`python scripts/share_checks.py --slack 1 2 3 4 5`; docs/model-design.md,
stop 46): at 5 no case's mean fell by 0.01 dB or more and no photo lost more than 0.5 dB but one (-1.16, a
grey clean photo at 89 dB, about as much at every slack); clean photos clipped x1.6 gained 3.25 dB (colour)
and 2.25 (grey).
"""

from __future__ import annotations

import numpy as np

SHARE_INPUT = "impulse_share"  # the input's name in the ONNX files that take it
OWN_SHARE = -1.0  # fed where no whole photo is known: the graph takes p from what it is given
BLOCK = 5  # the solid rule's window
REACH = 2 * (BLOCK // 2)  # rows a value's verdict depends on, above and below: the erosion's, then the dilation's
BAND_ROWS = 512
FAR_MEDIAN = 5  # the window of the median that tells where a value lies far from an extreme
NOISE_SLACK = 5.0  # p is at most this many times the share of an extreme among the values far from it
# Where fewer than this share of a channel's values lie far from an extreme (a photo bright all over, for
# salt), the estimate is not made and the solid rule's share is kept.
FAR_MIN_SHARE = 0.02


def own_shares() -> np.ndarray:
    """The input that leaves p to the graph (every image of a batch its own)."""
    return np.full((1, 1, 1, 6), OWN_SHARE, np.float32)


def _flagged(extreme: np.ndarray, rows: slice) -> np.ndarray:
    """Per channel, how many values of `rows` of a 0/1 uint8 map (H, W, up to 4 channels: OpenCV works on each)
    lie in no solid BLOCK x BLOCK block of ones and next to none (windows cut at the edges, as the graph's
    "same" pools are); the rows around `rows` are context."""
    import cv2

    kernel = np.ones((BLOCK, BLOCK), np.uint8)
    # cv2's default border for erosion and dilation is the neutral value: outside the image counts for nothing
    kept = cv2.dilate(cv2.erode(extreme, kernel), kernel).reshape(extreme.shape)
    flagged = cv2.subtract(extreme[rows], kept[rows])  # saturates: 1 - 1 = 0 - 1 = 0
    return np.asarray(cv2.sumElems(flagged)[: extreme.shape[2]], np.int64)  # numpy's count per channel: 40x slower


def solid_rule_shares(pixels: np.ndarray, max_value: int) -> np.ndarray:
    """(1, 1, 1, 6) float32: for each of 3 channels the share of values at `max_value` (salt), then at 0
    (pepper), that the solid rule flags: the graph's own p (`own_share`). A grey photo (H, W) counts as the
    model sees it, repeated to 3 channels."""
    return _as_input(_counts(pixels, max_value)[0] / float(pixels.shape[0] * pixels.shape[1]))


def photo_shares(pixels: np.ndarray, max_value: int, slack: float = NOISE_SLACK) -> np.ndarray:
    """(1, 1, 1, 6) float32, the input the service gives every tile: per channel and extreme, the solid
    rule's share, at most `slack` times the share of that extreme among the values whose FAR_MEDIAN x
    FAR_MEDIAN median lies in the other half of the range (kept as it is where under FAR_MIN_SHARE of the
    values lie there). See the module's docstring for why."""
    flagged, far, far_hits = _counts(pixels, max_value, noise=True)
    values = float(pixels.shape[0] * pixels.shape[1])
    solid = flagged / values
    judged = far >= FAR_MIN_SHARE * values
    noise = slack * far_hits / np.maximum(far, 1)
    return _as_input(np.where(judged, np.minimum(solid, noise), solid))


def _counts(pixels: np.ndarray, max_value: int, noise: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per extreme (salt, then pepper) and channel, (2, C) int64: the values the solid rule flags; with
    `noise`, also the values far from that extreme (their FAR_MEDIAN median in the other half of the range)
    and those of them at it (zeros without)."""
    import cv2

    planes = pixels[..., None] if pixels.ndim == 2 else pixels
    h, channels = planes.shape[0], planes.shape[2]
    flagged, far, far_hits = (np.zeros((2, channels), np.int64) for _ in range(3))
    half = (max_value + 1) // 2
    for top in range(0, h, BAND_ROWS):
        start, stop = max(0, top - REACH), min(h, top + BAND_ROWS + REACH)
        rows = slice(top - start, top - start + min(BAND_ROWS, h - top))
        band = planes[start:stop]
        median = None
        if noise:  # cv2 replicates the photo's edge rows; a band's REACH rows of context cover the median's reach
            median = cv2.medianBlur(np.ascontiguousarray(band), FAR_MEDIAN).reshape(band.shape)[rows]
        for which, value in enumerate((max_value, 0)):
            extreme = (band == value).view(np.uint8)
            if median is not None:
                away = (median < half if value else median >= half).view(np.uint8)
                far[which] += _per_channel(away)
            if extreme.any():
                flagged[which] += _flagged(extreme, rows)
                if median is not None:
                    far_hits[which] += _per_channel(cv2.bitwise_and(away, extreme[rows]).reshape(away.shape))
    return flagged, far, far_hits


def _per_channel(ones: np.ndarray) -> np.ndarray:
    """How many ones each channel of an (H, W, up to 4) 0/1 uint8 map holds (OpenCV: numpy's count per channel
    took 0.9 s of a 6000x4000 photo's 1.5)."""
    import cv2

    return np.asarray(cv2.sumElems(np.ascontiguousarray(ones))[: ones.shape[2]], np.int64)


def _as_input(shares: np.ndarray) -> np.ndarray:
    """(2, C) shares as the model's (1, 1, 1, 6) input: a grey photo's one channel repeated to 3."""
    if shares.shape[1] == 1:
        shares = np.repeat(shares, 3, axis=1)
    return shares.reshape(1, 1, 1, 6).astype(np.float32)


def takes_share(input_names: list[str]) -> bool:
    return SHARE_INPUT in input_names


def feed(input_names: list[str], batch: np.ndarray, shares: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """A session's inputs for `batch` (its first input): with `shares` (default: `own_shares()`) when the model
    takes them. For callers that run an ONNX file directly (export, int8 calibration, scripts, tests)."""
    inputs = {input_names[0]: batch}
    if takes_share(input_names):
        inputs[SHARE_INPUT] = own_shares() if shares is None else shares
    return inputs
