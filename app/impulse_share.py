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
memory stays a few megabytes whatever the photo; a 6000x4000 photo takes 0.08 s, 0.6% of the served model's
run (`python scripts/share_checks.py --time 6000x4000`, stop 38).
"""

from __future__ import annotations

import numpy as np

SHARE_INPUT = "impulse_share"  # the input's name in the ONNX files that take it
OWN_SHARE = -1.0  # fed where no whole photo is known: the graph takes p from what it is given
BLOCK = 5  # the solid rule's window
REACH = 2 * (BLOCK // 2)  # rows a value's verdict depends on, above and below: the erosion's, then the dilation's
BAND_ROWS = 512


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
    (pepper), that the solid rule flags. A grey photo (H, W) counts as the model sees it, repeated to 3
    channels."""
    planes = pixels[..., None] if pixels.ndim == 2 else pixels
    h, w = planes.shape[:2]
    counts = np.zeros((2, planes.shape[2]), np.int64)
    for top in range(0, h, BAND_ROWS):
        start, stop = max(0, top - REACH), min(h, top + BAND_ROWS + REACH)
        rows = slice(top - start, top - start + min(BAND_ROWS, h - top))
        band = planes[start:stop]
        for which, value in enumerate((max_value, 0)):
            extreme = (band == value).view(np.uint8)
            if extreme.any():
                counts[which] += _flagged(extreme, rows)
    shares = counts / float(h * w)
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
