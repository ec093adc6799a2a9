"""Whether an image's pixels were saved as JPEG, whatever file they came in: the trace of JPEG's quantisation.

Why: the hint (`app.pipeline.model_to_try`) sends noise that was saved as JPEG after it struck to the model
trained on it (`jpeg-unet`), and the file format says so only for a JPEG file. The same pixels in a PNG (the
demo page's own `/corrupt` with a JPEG quality, or a JPEG converted by another tool) would go to
`blind-unet`, 3.6-4.5 dB worse on colour CBSD68 (stop 34's models; README, "Real-world impulse noise").

How: JPEG rounds each 8x8 block's DCT coefficients to multiples of a step (2-3 for the lowest frequencies
at quality 90, 5-8 at 75), and the decoded pixels keep that lattice, on JPEG's own grid only. So the score is
how strongly the low-frequency coefficients of blocks on the grid cluster on some step's multiples, less
the same on blocks shifted off the grid (which any smooth or flat photo shows as well). Blocks holding a
value at 0 or the maximum are skipped: decoding clips such values, which moves them off the lattice, and
exact salt-and-pepper is such values.

Measured (`python scripts/jpeg_grid_checks.py --data ../shared/data/CBSD68 --limit 8`, and without `--data` on
8 of scikit-image's photos): never saved, clean or with impulses of any kind (salt-and-pepper as light as
0.015), or impulses added after a save: -0.07 to 0.13, never taken for saved. Noise then a JPEG save at
quality 60-90: up to 0.88, and taken for saved on CBSD68 in all 8 photos at salt-and-pepper 0.1 (quality
60, 75, 90), random-valued 0.2 or near-extreme 0.3 (quality 90), and clean; in 7 and 5 of 8 at
salt-and-pepper 0.3 then quality 90 and 75 (the others: too few blocks free of clipped values). Where blocks
remain, saved photos score 0.29-0.88 on CBSD68 and 0.21-0.90 on scikit-image's (the script's "lowest not 0"
and "max"; stop 41). It misses what clipping hides: at salt-and-pepper 0.5 then JPEG 90 no block is left
(score 0: no verdict), and quality 95 moves these coefficients by steps of 1-2, which the rounding of the
decoded values blurs (0.02-0.06 on CBSD68). On all 68 CBSD68 photos (`--limit 68`), light salt-and-pepper
never saved (0.015-0.025, and 0.04 of whole pixels) scores -0.19 to 0.10 (MIN_BLOCKS, FEW_BLOCKS below).
"""

from __future__ import annotations

import numpy as np

BLOCK = 8
# The lowest AC frequencies: the largest coefficients, so the ones most often off zero, and the smallest steps.
FREQUENCIES = ((0, 1), (1, 0), (1, 1), (0, 2), (2, 0), (1, 2), (2, 1), (2, 2))
STEPS = np.arange(2, 41)  # candidate quantisation steps: quality ~95 (2) to ~25 (40) for these frequencies
OFF_GRID = ((4, 4), (2, 5))  # reference grids: no JPEG save lines up with them
MAX_BLOCKS = 4096  # evenly spread over the image: the score of a 24 MP photo costs what a 2 MP one does
CANDIDATES_PER_BLOCK = 4  # blocks looked at for clipped values per block kept (a 24 MP photo has 375,000)
# Fewer blocks free of clipped values than MIN_BLOCKS: no verdict (score 0); fewer than FEW_BLOCKS: the score
# counts half. The lattice measure of a handful of blocks is noisy either way: `python scripts/jpeg_grid_checks.py
# --data ../shared/data/CBSD68 --limit 68` found photo 16077 with salt-and-pepper 0.02, never saved, "saved" at
# 0.34 from 25 blocks (about 2% of blocks escape the impulses at that density), and auto sent it to jpeg-unet:
# 25.0 dB where the default gives 57.2 (stop 41). `python scripts/jpeg_grid_checks.py --data
# ../shared/data/CBSD68 --limit 68 --blocks` (948 uploads: light salt-and-pepper never saved, two seeds, and
# noise then JPEG 75 or 90): unsaved ones score up to 0.34 from 24-31 blocks (12 of 67 over SAVED_SCORE), 0.21
# from 32-47 and 0.11 from 48 or more; saved ones from -0.30 at 24-31 blocks (10 of 15 under it), at least
# 0.32 from 32-47 and 0.33 from 48.
MIN_BLOCKS = 32
FEW_BLOCKS = 48
MIN_COEFFICIENTS = 30  # per frequency and step, coefficients at least one step from zero
SAVED_SCORE = 0.15  # over the largest unsaved score of the checks (0.13), under every saved one judged (0.21)


def _dct_matrix() -> np.ndarray:
    """The orthonormal 8-point DCT-II: JPEG's transform, so its coefficients are JPEG's."""
    k = np.arange(BLOCK)
    d = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * BLOCK)) * np.sqrt(2 / BLOCK)
    d[0] /= np.sqrt(2)
    return d


DCT = _dct_matrix()


def _blocks(pixels: np.ndarray, top: int, left: int, max_blocks: int = MAX_BLOCKS) -> np.ndarray:
    """The luma DCT coefficients (N, 8, 8) of up to `max_blocks` blocks of the grid starting at (top, left)
    that hold no value at 0 or the maximum, looked for among about CANDIDATES_PER_BLOCK x `max_blocks` blocks
    spread evenly.
    Only the chosen blocks are converted to floats."""
    colour = pixels[..., None] if pixels.ndim == 2 else pixels[..., :3]
    rows, cols = (colour.shape[0] - top) // BLOCK, (colour.shape[1] - left) // BLOCK
    if rows < 1 or cols < 1:
        return np.zeros((0, BLOCK, BLOCK), np.float32)
    view = colour[top : top + rows * BLOCK, left : left + cols * BLOCK].reshape(rows, BLOCK, cols, BLOCK, -1)
    step = max(1, int(np.sqrt(rows * cols / (CANDIDATES_PER_BLOCK * max_blocks))))  # every step-th row, column
    view = view[::step, :, ::step]
    clipped = (view.min(axis=(1, 3, 4)) == 0) | (view.max(axis=(1, 3, 4)) == 255)
    chosen = np.flatnonzero(~clipped)
    if len(chosen) > max_blocks:
        chosen = chosen[np.linspace(0, len(chosen) - 1, max_blocks).astype(int)]
    r, c = np.divmod(chosen, view.shape[2])
    blocks = view[r, :, c].astype(np.float32)  # (N, 8, 8, channels)
    # JPEG's Y (ITU-R BT.601, as Pillow's encoder computes it), level-shifted as JPEG does
    luma = blocks[..., 0] if blocks.shape[-1] == 1 else blocks @ np.array([0.299, 0.587, 0.114], np.float32)
    return DCT @ (luma - 128.0) @ DCT.T


def _lattice_strength(coefficients: np.ndarray) -> float:
    """Mean over FREQUENCIES of the strongest clustering on a step's multiples: |mean exp(2 pi i c / q)|
    over the coefficients at least q from zero (1: all on the lattice, about 0: spread evenly); every step
    and frequency at once."""
    rows, cols = zip(*FREQUENCIES, strict=True)
    c = coefficients[:, rows, cols].astype(np.float32)  # (N, frequencies)
    steps = STEPS[:, None, None].astype(np.float32)
    far = (np.abs(c)[None] >= steps).astype(np.float32)  # (steps, N, frequencies)
    angle = np.float32(2 * np.pi) * (c[None] / steps)
    count = far.sum(axis=1)
    size = np.hypot((np.cos(angle) * far).sum(axis=1), (np.sin(angle) * far).sum(axis=1)) / np.maximum(count, 1)
    return float(np.where(count >= MIN_COEFFICIENTS, size, 0.0).max(axis=0).mean())


def raw_score(pixels: np.ndarray, top: int = 0, left: int = 0) -> tuple[float, int]:
    """(the lattice on the grid whose blocks start at (top, left), less the same on two grids off it; the fewest
    blocks any of the three was read from): the score before the rule for few blocks, which
    `scripts/jpeg_grid_checks.py --blocks` measures."""
    on = _blocks(pixels, top, left)
    off = [_blocks(pixels, (top + dy) % BLOCK, (left + dx) % BLOCK) for dy, dx in OFF_GRID]
    blocks = min(len(on), *(len(b) for b in off))
    score = _lattice_strength(on) - max(_lattice_strength(b) for b in off)
    return score, blocks


def _score_at(pixels: np.ndarray, top: int, left: int) -> float:
    """`raw_score`, half of it from fewer than FEW_BLOCKS blocks, 0 from fewer than MIN_BLOCKS."""
    score, blocks = raw_score(pixels, top, left)
    if blocks < MIN_BLOCKS:
        return 0.0
    return score if blocks >= FEW_BLOCKS else score / 2


def grid_score(pixels: np.ndarray) -> float:
    """How much more the coefficients sit on a quantisation lattice on JPEG's grid than off it: about 0
    for pixels never saved as JPEG, 0.2-0.9 for saved ones (module docstring). 0 for 16-bit images (JPEG
    is 8-bit) and where too few blocks are free of clipped values to tell."""
    return _score_at(pixels, 0, 0) if pixels.dtype == np.uint8 else 0.0


def saved_as_jpeg(pixels: np.ndarray) -> bool:
    """The pixels carry a JPEG save's lattice (`grid_score` at least SAVED_SCORE)."""
    return grid_score(pixels) >= SAVED_SCORE


# Where the grid is when it is not at (0, 0): a JPEG cropped by other than multiples of 8, or turned upright
# by its EXIF orientation with sides that are not. (0, 0) is tried first, as `grid_score` does; failing
# that, each of the 64 placements is tried on PHASE_BLOCKS blocks, and the strongest confirmed the same way
# (`python scripts/jpeg_grid_checks.py --time`: its cost).
PHASE_BLOCKS = 512


def grid_phase(pixels: np.ndarray) -> tuple[int, int] | None:
    """(row, column) in 0..7 where the JPEG save's blocks start, or None where no save is seen (pixels never
    saved, 16-bit, or too few blocks free of clipped values)."""
    if pixels.dtype != np.uint8:
        return None
    if len(_blocks(pixels, 0, 0, PHASE_BLOCKS)) < MIN_BLOCKS:  # clipped nearly everywhere: no verdict anywhere
        return None
    if _score_at(pixels, 0, 0) >= SAVED_SCORE:  # where a JPEG file's grid is: no search
        return 0, 0
    strengths = {}
    for top in range(BLOCK):
        for left in range(BLOCK):
            blocks = _blocks(pixels, top, left, PHASE_BLOCKS)
            strengths[top, left] = _lattice_strength(blocks) if len(blocks) >= MIN_BLOCKS else 0.0
    top, left = max(strengths, key=strengths.get)
    return (top, left) if _score_at(pixels, top, left) >= SAVED_SCORE else None
