"""A weight-free last look after the blind model: the impulses it left alone that still stand out, both from
their neighbours and in their colour difference, are filled from the pixel's other channels.

Why: the blind model's detector is cautious where impulses are few. With random-valued noise 0.05 per channel
it came out 1.00 and 1.44 dB under the best classical filter on one photo each of `scripts/unseen_checks.py`'s
CBSD68 and scikit-image tables, and a second pass finds nothing new there.
ROAD alone (Garnett et al. 2005: the sum of a value's 4 smallest absolute differences to its 8 neighbours)
takes them badly: after the model it flags texture and edges too, and gains 40-80% as much for twice the
fills (`scripts/leftover_checks.py --value-road-only`). An impulse that struck one channel stands out in a
second way, which texture does not: in its colour difference (the value minus the mean of its pixel's other
two), since colour varies far more slowly than brightness (the premise of the model's own chroma input). So
a value is taken for a leftover impulse where

- the model left it as uploaded, and it is not 0 or the maximum (those are the model's, and are kept where
  the model kept them: clipped highlights and shadows);
- its ROAD and the ROAD of its colour difference both exceed LEFTOVER_ROAD;
- no neighbour in its channel is taken too (an impulse is a point; a run of such values is a fine coloured
  line);

and it becomes the mean of its pixel's other two values plus the 3x3 median of the colour difference around
it (the other channels are mostly clean where noise strikes channels one at a time).

Measured on held-out training photos, never a test photo (`python scripts/leftover_checks.py --photos 8
--thresholds 40 50 60`: the first 8 held-out CBSD432 photos, and scikit-image's astronaut, coffee, chelsea and
rocket, from another source; the int8 twin, as the CPU service runs it), mean gain over the blind model as
served (its second pass included), least of a photo in brackets:

- noise per channel, random-valued 0.01 / 0.02 / 0.05 / 0.1 / 0.2 / 0.3 / 0.4: +5.43 / +4.57 / +3.04 / +1.82
  / +0.89 / +0.66 / +0.46 dB (least +0.16); scikit-image's: +4.00 / +3.49 / +2.49 / +1.59 / +1.02 / +0.76 /
  +0.55 (least +0.42);
- near-extreme 0.02 / 0.1 / 0.3 / 0.5: +3.33 / +0.67 / +0.50 / +0.15 (scikit-image's +2.83 / +1.01 / +0.64 /
  +0.22); salt-and-pepper 0.1 then JPEG 90: +0.10 (+0.12);
- noise per pixel: random-valued +0.29 to +1.33, near-extreme +0.05 to +0.77 (least of a photo -0.01);
- where the rule does not look (below), it would cost: clean photos -2.7 / -3.7 dB (at over 60 dB), clean
  JPEGs -0.3 / -0.9, exact salt-and-pepper -0.00 to -1.16.
- After an 8-fold ensemble, which leaves such impulses too, on 4 held-out photos: random-valued 0.02 / 0.3
  +4.14 / +0.44, near-extreme 0.5 +0.14 (`--ensemble 8 --photos 4 --groups "colour, per channel" --only ...`);
  so it follows both.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from app.noise import road
from app.pass_changes import PassChanges

# A value stands out above this ROAD, in its value and in its colour difference, on the 0..255 scale (scaled
# for 16-bit photos). Chosen on the held-out photos above between 40, 50 and 60: 40 gained most on dense
# noise, 60 on light noise, 50 was within 0.1 dB of the better of the two everywhere.
LEFTOVER_ROAD = 50
# The look runs where the model's first pass changed at least this share of a colour photo's values that were
# not 0 or the maximum: 0.006 at the least with random-valued noise 0.01 per channel, 0.00002 at the most on
# clean photos, clean JPEGs and exact salt-and-pepper, where the look has nothing to find and would cost
# (-2.7 dB on clean photos at over 70 dB, -0.07 on salt-and-pepper 0.02).
LEFTOVER_MIN_AWAY = 0.003
LEFTOVER_BAND_ROWS = 64  # rows worked at a time: ROAD's dozen arrays for a band, not for a 60 MP photo
CONTEXT_ROWS = 2  # a band's ROAD one row past its edge, whose own ROAD needs the next row


def leftovers_due(changes: PassChanges) -> bool:
    """Whether to look for leftover impulses after the model's first pass, which made `changes`: a colour
    photo whose values away from 0 and the maximum the pass changed by at least LEFTOVER_MIN_AWAY."""
    return changes.colour and changes.away >= LEFTOVER_MIN_AWAY * changes.size


def fill_leftovers(upload: np.ndarray, output: np.ndarray, top: int, check: Callable[[], None] | None = None,
                   threshold: int = LEFTOVER_ROAD, by_colour: bool = True) -> int:
    """Fill `output`'s leftover impulses in place and say how many values were filled: `upload` and `output`
    are the (H, W, 3) colour values before and after the model, uint8 or uint16, `top` their maximum.

    Worked in bands of LEFTOVER_BAND_ROWS rows with CONTEXT_ROWS of context each side, each judged on the
    output as the model left it (the fills are written after the last band), so the same values as the whole
    photo at once; in place, since a copy of a 60 MP output is 172 MB where the request's bound is 1.7 GB.
    `check()` runs before each band and raises to stop the work, as between the model's tiles; `output` is
    then as it was. `threshold` and `by_colour` (False: the value's ROAD alone) are for
    scripts/leftover_checks.py, which measures the alternatives; the service keeps the defaults."""
    h, w = upload.shape[:2]
    places, values = [], []
    for y in range(0, h, LEFTOVER_BAND_ROWS):
        if check is not None:
            check()
        end = min(h, y + LEFTOVER_BAND_ROWS)
        lo, hi = max(0, y - CONTEXT_ROWS), min(h, end + CONTEXT_ROWS)
        found, fill = _leftovers(upload[lo:hi], output[lo:hi], top, threshold, by_colour)
        at = np.flatnonzero(found[y - lo : end - lo])  # within the band's own rows
        places.append(at + y * w * upload.shape[2])
        values.append(fill[y - lo : end - lo].reshape(-1)[at])
    where = np.concatenate(places)
    np.put(output, where, np.concatenate(values))
    return int(where.size)


def _leftovers(upload: np.ndarray, output: np.ndarray, top: int, threshold: int,
               by_colour: bool) -> tuple[np.ndarray, np.ndarray]:
    """(where the leftover impulses are, what each value would be filled with) on one band."""
    import cv2  # where it is used, as app.imaging and app.impulse_share import it

    scaled = threshold * (top // 255)
    values = output.astype(np.int32)
    others = (values.sum(axis=2, keepdims=True) - values) // 2
    difference = values - others
    stands_out = (output == upload) & (output != 0) & (output != top) & (road(output) > scaled)
    if by_colour:
        stands_out &= road(difference) > scaled
    padded = np.pad(stands_out, ((1, 1), (1, 1), (0, 0)))
    h, w = stands_out.shape[:2]
    neighbour = np.zeros_like(stands_out)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if dy != 1 or dx != 1:
                neighbour |= padded[dy : dy + h, dx : dx + w]
    median = cv2.medianBlur(difference.astype(np.float32), 3)  # per channel; edges replicated
    fill = np.clip(others + np.rint(median).astype(np.int32), 0, top).astype(output.dtype)
    return stands_out & ~neighbour, fill
