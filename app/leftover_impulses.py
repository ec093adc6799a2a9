"""Weight-free last looks after the blind model: the impulses it left, or moved only part of the way, that still
stand out, both from their neighbours and in their colour difference, are filled from the pixel's other
channels.

Why: the blind model's detector is cautious where impulses are few. With random-valued noise 0.05 per channel
it came out 1.00 and 1.44 dB under the best classical filter on one photo each of `scripts/unseen_checks.py`'s
CBSD68 and scikit-image tables, and a second pass finds nothing new there.
ROAD alone (Garnett et al. 2005: the sum of a value's 4 smallest absolute differences to its 8 neighbours)
takes them badly: after the model it flags texture and edges too, and gains 40-80% as much for twice the
fills (`scripts/leftover_checks.py --value-road-only`). An impulse that struck one channel stands out in a
second way, which texture does not: in its colour difference (the value minus the mean of its pixel's other
two), since colour varies far more slowly than brightness (the premise of the model's own chroma input). So
a value is taken for a leftover impulse where

- it is not 0 or the maximum, as uploaded or in the model's output (an uploaded extreme is the model's own
  case, exact salt-and-pepper; an extreme in its output is kept: clipped highlights and shadows);
- its ROAD and the ROAD of its colour difference both exceed the look's threshold;
- no neighbour in its channel is taken too (an impulse is a point; a run of such values is a fine coloured
  line);

and it becomes the mean of its pixel's other two values plus the 3x3 median of the colour difference around
it (the other channels are mostly clean where noise strikes channels one at a time). Stop 45 made one such
look, at 50.

Since stop 47 there are six, at 80, 70, 60, 50, 40 and 30 (`LEFTOVER_LEVELS`), each on the output as the looks
before it left it. The strongest impulses go first, before the weaker values beside them stand out (one look
leaves both, as it would a line), and a weaker impulse is then judged beside their fills, not beside them. Two
rules keep the lower looks off texture: a neighbour that stood out above a look's threshold in the model's
output still keeps a value from being taken by that look, once it has been filled too (else a texture is
eaten one value a look); and a value is taken only where its colour difference's ROAD exceeds
LEFTOVER_RELATIVE (3) times the 5x5 median of that ROAD around it in the model's output (a coloured texture
stands out everywhere alike). The looks judge only the candidates (what stands out above the last threshold in
the model's output), and a candidate again only where a look filled a value next to it, so six looks cost
about 1.5-1.8 times stop 45's one: 0.09-0.17 of the model's time on the held-out photos below, against
0.06-0.11 (docs/model-design.md, stop 47).

Measured on held-out training photos, never a test photo (`python scripts/leftover_checks.py --photos 16
--looks 50/0 80,70,60,50,40,30/3 80,70,60,50,40,30/0 ...`, in full in that script's docstring: the first 16
held-out CBSD432 photos, and scikit-image's astronaut, coffee, chelsea and rocket, from
another source; the int8 twin, as the CPU service runs it), mean gain over the blind model as served (its
second pass included), stop 45's one look -> the six, least of a photo in brackets:

- noise per channel, random-valued 0.01 / 0.02 / 0.05 / 0.1 / 0.2 / 0.3 / 0.4: +5.24 / +4.40 / +3.01 / +1.89 /
  +0.97 / +0.67 / +0.46 dB -> +6.47 / +5.52 / +3.92 / +2.57 / +1.39 / +0.97 / +0.63 (least +0.16 -> +0.22);
  scikit-image's: +4.06 / +3.51 / +2.52 / +1.61 / +1.03 / +0.77 / +0.56 -> +4.72 / +4.29 / +3.25 / +2.19 /
  +1.46 / +1.09 / +0.76 (least +0.42 -> +0.54);
- near-extreme 0.02 / 0.1 / 0.3 / 0.5: +3.64 / +1.03 / +0.54 / +0.17 -> +4.34 / +1.32 / +0.70 / +0.19
  (scikit-image's +2.85 / +1.02 / +0.65 / +0.22 -> +3.19 / +1.34 / +0.86 / +0.27); salt-and-pepper 0.1 then
  JPEG 90: +0.09 -> +0.10 (+0.12 -> +0.13);
- noise per pixel: random-valued +0.26 to +1.16 -> +0.38 to +1.36, near-extreme +0.07 to +0.70 -> +0.08 to
  +0.80 (least of a photo -0.01 both);
- in every noisy row the least photo gains at least as much as with one look. Without the relative test the
  six looks gain as much on CBSD432's photos, but the least photo (scikit-image's rocket, with its fine
  coloured texture) gains less than with one look: random-valued 0.01 -0.31 (one look +1.11), near-extreme
  0.02 -0.54 (+0.64);
- where the rule does not look (below), the looks would cost: clean photos -2.7 / -6.0 dB (CBSD432's /
  scikit-image's, at over 60 dB), clean JPEGs -1.2 / -1.9, exact salt-and-pepper -0.00 to -1.56; one look at
  50 cost -1.8 / -4.2, -0.2 / -1.0 and -0.00 to -1.16.

Until stop 47 the looks judged only the values the model left as uploaded. Since stop 48 they judge every value
that is not 0 or the maximum, as uploaded or in the model's output: the model moves many impulses part of the
way, and they still stand out (after `ensemble=8` more so, whose mean of eight outputs keeps fewer values as
uploaded). What keeps the looks off texture, the two ROADs, the guard and the relative test, is unchanged, and
so is where they run (`leftovers_due`). On the same held-out photos (`python scripts/leftover_checks.py --photos
16 --looks 80,70,60,50,40,30/3/kept 80,70,60,50,40,30/3 ...`, in full in docs/model-design.md, stop 48), stop 47's
rule -> this one:

- noise per channel, random-valued 0.01 / 0.02 / 0.05 / 0.1 / 0.2 / 0.3 / 0.4: +6.47 / +5.52 / +3.92 / +2.57 /
  +1.39 / +0.97 / +0.63 dB -> +8.01 / +6.75 / +4.84 / +3.35 / +1.99 / +1.39 / +0.97 (least +0.22 -> +0.47);
  scikit-image's: +4.72 / +4.29 / +3.25 / +2.19 / +1.46 / +1.09 / +0.76 -> +5.80 / +5.26 / +3.99 / +2.88 /
  +1.93 / +1.43 / +1.02 (least +0.54 -> +0.69);
- near-extreme 0.02 / 0.1 / 0.3 / 0.5: +4.34 / +1.32 / +0.70 / +0.19 -> +5.57 / +2.48 / +1.09 / +0.44
  (scikit-image's +3.19 / +1.34 / +0.86 / +0.27 -> +4.09 / +2.33 / +1.13 / +0.48); salt-and-pepper 0.1 then
  JPEG 90: +0.10 -> +0.17 (+0.13 -> +0.18);
- noise per pixel: random-valued +0.38 to +1.36 -> +0.50 to +1.41, near-extreme +0.08 to +0.80 -> +0.17 to
  +0.85; there the least photo gains less on light noise, still a gain (random-valued 0.01 +0.46 -> +0.23,
  near-extreme 0.02 +0.25 -> +0.06);
- where the rule does not look, the cost is as before (clean photos -2.67 / -6.01 dB); the looks take
  0.063-0.180 of the model's time where they run (0.058-0.137 with stop 47's rule, the same run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.noise import road, sum_of_four_smallest
from app.pass_changes import PassChanges

# The looks' thresholds, high to low: a value is taken where its ROAD, in its value and in its colour
# difference, exceeds the look's threshold, on the 0..255 scale (scaled for 16-bit photos). One look at 50 was
# stop 45's; the cascade and its levels were chosen on held-out photos (the module's docstring).
LEFTOVER_LEVELS = (80, 70, 60, 50, 40, 30)
# ... and where its colour difference's ROAD exceeds this many times the 5x5 median of that ROAD around it in
# the model's output: an impulse stands out from its surroundings, a coloured texture's values do not (0: off).
LEFTOVER_RELATIVE = 3.0
# The looks run where the model's first pass changed at least this share of a colour photo's values that were
# not 0 or the maximum: 0.0049 at the least with random-valued noise 0.01 (per pixel; 0.0055 per channel),
# 0.00002 at the most on clean photos, clean JPEGs and exact salt-and-pepper, where the looks have nothing to
# find and would cost (-2.7 dB on clean photos at over 60 dB, -0.30 on salt-and-pepper 0.02; the module's
# docstring).
LEFTOVER_MIN_AWAY = 0.003
LEFTOVER_BAND_ROWS = 64  # rows judged at a time: ROAD's dozen arrays for a band, not for a 60 MP photo
CONTEXT_ROWS = 3  # a band's 5x5 median of ROADs (2 rows past its edge), whose ROADs need the next row
CHUNK = 1 << 16  # candidates a look judges at a time: their 3x3 neighbourhoods, a few MB
# How far a candidate stands out is kept up to this (above every look's threshold, 100 * 257 for 16 bits), so
# that 2 bytes hold it: a 60 MP photo has 180 M values, and a noisy one millions of candidates, 14 bytes each.
STANDS_CAP = 65535
NEIGHBOURS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx)


def leftovers_due(changes: PassChanges) -> bool:
    """Whether to look for leftover impulses after the model's first pass, which made `changes`: a colour
    photo whose values away from 0 and the maximum the pass changed by at least LEFTOVER_MIN_AWAY."""
    return changes.colour and changes.away >= LEFTOVER_MIN_AWAY * changes.size


@dataclass
class Candidates:
    """The values that may be taken by some look: those not 0 or the maximum, as uploaded or in the model's
    output, standing out above the last look's threshold in the model's output. Flat indices into the (H, W, 3)
    photo, with how far each stood out there (`before`: the lesser of its two ROADs), how far it stands out
    now, as the looks so far left the output (`now`), and whether its colour difference's ROAD now exceeds
    LEFTOVER_RELATIVE times the 5x5 median of that ROAD around it in the model's output (`apart`; `needs` is
    the least ROAD that does)."""

    at: np.ndarray  # flat indices, ascending: int32 below 2**31 values (the pixel limit's 180 M), else int64
    before: np.ndarray  # uint16, at most STANDS_CAP
    needs: np.ndarray  # uint32
    now: np.ndarray  # uint16, at most STANDS_CAP
    apart: np.ndarray  # bool
    left: np.ndarray  # bool: not taken yet


def fill_leftovers(upload: np.ndarray, output: np.ndarray, top: int, check: Callable[[], None] | None = None,
                   levels: tuple[int, ...] = LEFTOVER_LEVELS, relative: float = LEFTOVER_RELATIVE,
                   by_colour: bool = True, kept_only: bool = False) -> int:
    """Fill `output`'s leftover impulses in place and say how many values were filled: `upload` and `output`
    are the (H, W, 3) colour values before and after the model, uint8 or uint16, `top` their maximum.

    First the candidates, judged on the model's output in bands of LEFTOVER_BAND_ROWS rows with CONTEXT_ROWS of
    context each side (the same as the whole photo at once, tested); then one look per threshold of `levels`,
    high to low, on the candidates alone, each judged on the output as the looks before it left it, and
    written after it (a candidate is judged again only where a look filled a value of a pixel next to it).
    In place, since a copy of a 60 MP output is 172 MB where the request's bound is 1.7 GB. `check()` runs
    before each band and each look and raises to stop the work, as between the model's tiles; `output` is then
    as it was. `levels`, `relative`, `by_colour` (False: the value's ROAD alone, no relative test) and
    `kept_only` (True: only values the model left as uploaded, stop 47's looks) are for
    scripts/leftover_checks.py, which measures the alternatives; the service keeps the defaults."""
    scale = top // 255
    thresholds = sorted((level * scale for level in levels), reverse=True)
    found = _candidates(upload, output, top, thresholds[-1], relative if by_colour else 0.0, by_colour,
                        kept_only, check)
    done: list[tuple[np.ndarray, np.ndarray]] = []  # (where a look filled, what the output held there)
    try:
        for threshold in thresholds:
            if check is not None:
                check()
            taken = _look(found, threshold, output.shape[1])
            at = found.at[taken]
            done.append((at, output.reshape(-1)[at]))
            np.put(output, at, _fills(output, at, top))
            found.left[taken] = False
            _judge_again(output, found, at, by_colour)
    except BaseException:
        for at, was in reversed(done):  # a value is filled once (`Candidates.left`); reversed all the same
            np.put(output, at, was)
        raise
    return int(sum(at.size for at, _ in done))


def _candidates(upload: np.ndarray, output: np.ndarray, top: int, floor: int, relative: float, by_colour: bool,
                kept_only: bool, check: Callable[[], None] | None) -> Candidates:
    """Every value that stands out above `floor` in the model's output (see `Candidates`), band by band."""
    import cv2  # where it is used, as app.imaging and app.impulse_share import it

    h, w = upload.shape[:2]
    index = np.int32 if upload.size < 2**31 else np.int64
    parts: list[list] = []
    for y in range(0, h, LEFTOVER_BAND_ROWS):
        if check is not None:
            check()
        end = min(h, y + LEFTOVER_BAND_ROWS)
        lo, hi = max(0, y - CONTEXT_ROWS), min(h, end + CONTEXT_ROWS)
        band, values = output[lo:hi], output[lo:hi].astype(np.int32)
        difference_road = road(values - (values.sum(axis=2, keepdims=True) - values) // 2)
        stands = road(band)
        if by_colour:
            stands = np.minimum(stands, difference_road)
        uploaded = upload[lo:hi]
        eligible = (band != 0) & (band != top) & (uploaded != 0) & (uploaded != top)
        if kept_only:
            eligible &= band == uploaded
        own = slice(y - lo, end - lo)
        at = np.flatnonzero(eligible[own] & (stands[own] > floor))
        needs = np.zeros(at.size, np.int64)
        if relative:  # ROADs are integers: exceeding relative * m is reaching floor(relative * m) + 1
            around = cv2.medianBlur(difference_road.astype(np.float32), 5)[own].reshape(-1)[at]
            needs = np.floor(relative * around).astype(np.int64) + 1
        before = np.minimum(stands[own].reshape(-1)[at], STANDS_CAP).astype(np.uint16)
        parts.append([(at + y * w * 3).astype(index), before, needs.astype(np.uint32),
                      difference_road[own].reshape(-1)[at] >= needs])
    fields = []
    for i in range(4):  # a field at a time, each band's part freed once joined: the candidates held once
        fields.append(np.concatenate([p[i] for p in parts]))
        for p in parts:
            p[i] = None
    at, before, needs, apart = fields
    return Candidates(at, before, needs, before.copy(), apart, np.ones(at.size, bool))


def _look(found: Candidates, threshold: int, w: int) -> np.ndarray:
    """One look: the positions in `found` it takes. A candidate not taken yet is taken where it now stands out
    above `threshold` (`now`, `apart`), and no neighbour in its channel is taken by this look too or stood out
    above `threshold` in the model's output (taken since or not): an impulse is a point, and a fine coloured
    line or a coloured texture is not eaten one value a look."""
    stands = np.flatnonzero(found.left & (found.now > threshold) & found.apart)
    if not stands.size:
        return stands
    at = found.at[stands]
    guard = np.sort(np.concatenate([at, found.at[found.before > threshold]]))  # repeats do no harm to a search
    x = at // 3 % w
    crowded = np.zeros(at.size, bool)
    for dy, dx in NEIGHBOURS:  # a row above the first or below the last is no index in `guard`
        near = at + (dy * w + dx) * 3
        slot = np.minimum(np.searchsorted(guard, near), guard.size - 1)
        crowded |= (x + dx >= 0) & (x + dx < w) & (guard[slot] == near)
    return stands[~crowded]


def _judge_again(output: np.ndarray, found: Candidates, filled: np.ndarray, by_colour: bool) -> None:
    """`found.now` and `found.apart` again for the candidates left whose pixel is next to (or is) one with a
    value just `filled`: their ROADs read those values (the colour difference reads every channel)."""
    if not filled.size:
        return
    h, w = output.shape[:2]
    y, x = np.divmod(filled // 3, w)
    near = np.sort(np.concatenate([  # repeats do no harm to a search
        ((y + dy) * w + x + dx)[(y + dy >= 0) & (y + dy < h) & (x + dx >= 0) & (x + dx < w)]
        for dy in (-1, 0, 1) for dx in (-1, 0, 1)]))
    pixel = found.at // 3
    slot = np.minimum(np.searchsorted(near, pixel), near.size - 1)
    again = np.flatnonzero(found.left & (near[slot] == pixel))
    for start in range(0, again.size, CHUNK):
        part = again[start : start + CHUNK]
        found.now[part], found.apart[part] = _stands(output, found.at[part], found.needs[part], by_colour)


def _neighbourhood(output: np.ndarray, at: np.ndarray, reflect: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    """(each value's colour difference, the colour differences of its 9 neighbours in its channel, itself
    fifth): each (n,) int64, and the values themselves first. Edges reflected (as `road` pads) or replicated (as
    OpenCV's median)."""
    h, w = output.shape[:2]
    y, rest = np.divmod(at, w * 3)
    x, channel = np.divmod(rest, 3)
    pixels = output.reshape(-1, 3)

    def inside(i: np.ndarray, size: int) -> np.ndarray:
        if reflect:
            i = np.abs(np.where(i > size - 1, 2 * (size - 1) - i, i))
        return np.clip(i, 0, size - 1)

    values, differences = [], []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            three = pixels.take(inside(y + dy, h) * w + inside(x + dx, w), axis=0).astype(np.int64)
            value = np.take_along_axis(three, channel[:, None], axis=1)[:, 0]
            values.append(value)
            differences.append(value - (three.sum(axis=1) - value) // 2)
    return values, differences


def _stands(output: np.ndarray, at: np.ndarray, needs: np.ndarray, by_colour: bool) -> tuple[np.ndarray, np.ndarray]:
    """For values `at` (flat indices) of `output` as it is now: how far each stands out (the lesser of its two
    ROADs, or its value's alone), and whether its colour difference's ROAD reaches `needs`; as `_candidates`
    computes them on the whole photo."""
    values, differences = _neighbourhood(output, at, reflect=True)

    def road_of(planes: list[np.ndarray]) -> np.ndarray:
        centre = planes[4]
        return sum_of_four_smallest([np.abs(p - centre) for i, p in enumerate(planes) if i != 4],
                                    np.minimum, np.maximum)

    value_road = road_of(values)
    if not by_colour:
        return np.minimum(value_road, STANDS_CAP), np.ones(at.size, bool)
    difference_road = road_of(differences)
    return np.minimum(np.minimum(value_road, difference_road), STANDS_CAP), difference_road >= needs


def _fills(output: np.ndarray, at: np.ndarray, top: int) -> np.ndarray:
    """What values `at` are filled with: the mean of the pixel's other two values plus the 3x3 median of the
    colour difference around it (edges replicated, as OpenCV's median), from `output` as it is now."""
    values, differences = _neighbourhood(output, at, reflect=False)
    median = np.partition(np.stack(differences), 4, axis=0)[4]
    return np.clip(values[4] - differences[4] + median, 0, top).astype(output.dtype)
