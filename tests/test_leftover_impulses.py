"""The looks for leftover impulses after the blind model (app.leftover_impulses): what they take for one, what
they fill it with, the cascade of thresholds against a plain whole-photo version of it, when they run, and
that the service's blind model returns them."""

import cv2
import numpy as np
import pytest

from app import leftover_impulses
from app.imaging import DecodedImage
from app.inference import Denoiser
from app.leftover_impulses import LEFTOVER_LEVELS, LEFTOVER_RELATIVE, fill_leftovers, leftovers_due
from app.noise import road
from app.pass_changes import pass_changes
from app.quality import psnr
from tests.conftest import MODELS, stop_after


def _smooth(h: int = 48, w: int = 64, scale: int = 1, striped: bool = True) -> np.ndarray:
    """A colour photo whose colour is smooth and whose brightness is not: ramps of different slopes per channel,
    and stripes one row high, 20 levels apart, in all three alike (a value's own 3x3 median is then the other
    rows' level). uint8, or uint16 with `scale` 257. Without `striped`, the ramps alone."""
    y, x = np.mgrid[0:h, 0:w]
    stripes = 20 * (y % 2) * striped
    channels = (60 + x + stripes, 90 + y + stripes, 120 + (x + y) // 2 + stripes)
    return (np.stack(channels, axis=2) * scale).astype(np.uint8 if scale == 1 else np.uint16)


def filled(upload: np.ndarray, output: np.ndarray, top: int = 255, check=None, **look) -> tuple[np.ndarray, int]:
    """(a copy of `output` with its leftovers filled, how many): `fill_leftovers` works in place."""
    out = output.copy()
    count = fill_leftovers(upload, out, top, check, **look)
    return out, count


def _whole_photo_looks(upload: np.ndarray, served: np.ndarray, levels=LEFTOVER_LEVELS,
                       relative=LEFTOVER_RELATIVE, kept_only=False) -> np.ndarray:
    """The cascade as the module's docstring says it, on the whole photo at once with whole-array operations:
    what the module's bands, candidates and sparse looks must give (uint8)."""
    def measures(out):
        values = out.astype(np.int32)
        others = (values.sum(axis=2, keepdims=True) - values) // 2
        difference = values - others
        apart = road(difference)
        eligible = (out != 0) & (out != 255) & (upload != 0) & (upload != 255) & ((out == upload) | (not kept_only))
        return np.where(eligible, np.minimum(road(out), apart), 0), apart, others, difference

    def next_to(mask):
        padded = np.pad(mask, ((1, 1), (1, 1), (0, 0)))
        h, w = mask.shape[:2]
        return np.any([padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
                       for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx], axis=0)

    before, apart0, _, _ = measures(served)
    around = cv2.medianBlur(apart0.astype(np.float32), 5)
    out, taken = served.copy(), np.zeros(served.shape, bool)
    for threshold in sorted(levels, reverse=True):
        now, apart, others, difference = measures(out)
        stands = (before > min(levels)) & (now > threshold) & ~taken & (apart > relative * around)
        take = stands & ~next_to(stands | (before > threshold))
        median = cv2.medianBlur(difference.astype(np.float32), 3).astype(np.int32)
        out[take] = np.clip(others + median, 0, 255)[take]
        taken |= take
    return out


# (row, column, channel, offset): single values struck in one channel, well apart
STRUCK = ((5, 7, 0, 60), (12, 40, 1, -70), (30, 20, 2, 55), (40, 50, 0, -65))


def _struck(clean: np.ndarray, scale: int = 1) -> np.ndarray:
    noisy = clean.copy()
    for y, x, c, offset in STRUCK:
        noisy[y, x, c] = int(clean[y, x, c]) + offset * scale
    return noisy


def test_a_value_struck_in_one_channel_is_filled_from_its_pixels_other_two():
    """Each struck value stands out in its value and in its colour difference: it is found, and filled
    within a level of the truth from its pixel's other two values (the colour difference is smooth where the
    brightness is striped); nothing else moves."""
    clean = _smooth()
    noisy = _struck(clean)
    out, count = filled(noisy, noisy, 255)  # a model that left everything alone
    assert count == len(STRUCK)
    assert np.abs(out.astype(int) - clean).max() <= 1
    unstruck = np.ones(clean.shape, bool)
    for y, x, c, _ in STRUCK:
        unstruck[y, x, c] = False
    np.testing.assert_array_equal(out[unstruck], noisy[unstruck])


def test_what_the_model_moved_is_judged_too_extremes_lines_and_grey_are_left():
    """A value the model moved but left standing out is taken (since stop 48: the model moves many impulses
    part of the way; stop 47's looks, `kept_only`, left it), unless it was uploaded as 0 or the maximum (exact
    salt-and-pepper, the model's own). Not taken: 0 and the maximum in the output (clipped content the model
    kept), two standing out side by side (a fine coloured line), and a value struck in all three channels alike
    (its colour difference is unchanged: brightness texture, not an impulse in a channel)."""
    clean = _smooth()
    noisy = _struck(clean)
    model_moved = noisy.copy()
    model_moved[5, 7, 0] = int(clean[5, 7, 0]) + 70  # moved from 200 part of the way: still an impulse
    noisy[5, 7, 0] = 200
    out = filled(noisy, model_moved, 255)[0]
    assert abs(int(out[5, 7, 0]) - int(clean[5, 7, 0])) <= 1
    assert all(out[y, x, c] != noisy[y, x, c] for y, x, c, _ in STRUCK[1:])
    assert filled(noisy, model_moved, 255, kept_only=True)[0][5, 7, 0] == model_moved[5, 7, 0]
    noisy[5, 7, 0] = 255  # uploaded as salt: the model's
    assert filled(noisy, model_moved, 255)[0][5, 7, 0] == model_moved[5, 7, 0]
    extremes = clean.copy()
    extremes[20, 30, 0], extremes[10, 10, 1] = 255, 0
    out = filled(extremes, extremes, 255)[0]
    assert out[20, 30, 0] == 255 and out[10, 10, 1] == 0
    near = extremes.copy()
    near[20, 30, 0], near[10, 10, 1] = 250, 4  # uploaded near the extremes, clipped by the model: kept
    out = filled(near, extremes, 255)[0]
    assert out[20, 30, 0] == 255 and out[10, 10, 1] == 0
    # Their pixels' other values, whose colour differences an extreme shifts, are taken by the looks below 50
    # here (the stripes give every value a ROAD of about 42); stop 45's one look at 50 took none. Keeping them
    # cost the cascade 0.01-0.09 dB on held-out noisy photos, where noise makes extremes (stop 47).
    assert filled(extremes, extremes, 255, levels=(50,), relative=0)[1] == 0
    line = clean.copy()
    line[20, 30:32, 0] += 60  # two side by side
    assert filled(line, line, 255)[1] == 0
    line[20, 31, 0] -= 60  # one of them alone: now a point
    assert filled(line, line, 255)[1] == 1
    brightness = clean.copy()
    brightness[20, 30] += 60  # every channel alike
    assert filled(brightness, brightness, 255)[1] == 0


def test_16_bit_photos_are_judged_on_the_same_scale():
    """The threshold scales with the maximum: the same photo at 16 bits gives the same leftovers."""
    clean = _smooth(scale=257)
    noisy = _struck(clean, scale=257)
    out, count = filled(noisy, noisy, 65535)
    assert count == len(STRUCK)
    assert np.abs(out.astype(int) - clean).max() <= 257


def test_bands_give_the_whole_photos_values(astronaut, monkeypatch):
    """Bands of rows with their context find and fill what the whole photo at once does, and a check that
    raises stops the work between bands."""
    from app.noise import NoiseSpec, add_noise

    noisy = add_noise(np.ascontiguousarray(astronaut[:160, :160]), NoiseSpec("random-valued", 0.05), seed=2)
    whole = filled(noisy, noisy, 255)
    monkeypatch.setattr(leftover_impulses, "LEFTOVER_BAND_ROWS", 7)
    banded = filled(noisy, noisy, 255)
    assert whole[1] == banded[1] > 0
    np.testing.assert_array_equal(whole[0], banded[0])
    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) > 3:
            raise TimeoutError("stop")

    moved = np.where((noisy > 1) & (noisy < 254), noisy + 1, noisy)  # a model that moved values, a little
    kept = moved.copy()
    with pytest.raises(TimeoutError):
        fill_leftovers(noisy, kept, 255, check)
    assert len(calls) == 4
    np.testing.assert_array_equal(kept, moved)  # stopped: nothing written
    monkeypatch.setattr(leftover_impulses, "LEFTOVER_BAND_ROWS", 64)  # 3 bands, then a check before each look
    assert filled(noisy, moved, 255, stop_after(3 + 2, TimeoutError), levels=(80, 70))[1] > 0  # 2 looks: done
    with pytest.raises(TimeoutError):
        fill_leftovers(noisy, kept, 255, stop_after(3 + 2, TimeoutError))  # stopped before the third look
    np.testing.assert_array_equal(kept, moved)  # two looks had written: the output's own values put back


@pytest.mark.parametrize("kind, density", [("random-valued", 0.05), ("impulse-range", 0.3), ("random-valued", 0.3)])
def test_the_cascade_is_the_whole_photo_version_of_it(astronaut, monkeypatch, kind, density):
    """Candidates found in bands, then looks on them alone, in chunks, judged again only next to what a look
    filled: the same output as every look on the whole photo at once (`_whole_photo_looks`), for an output that
    left many impulses (a 3x3 median on 40% of the values), in small bands and chunks too."""
    from app.noise import NoiseSpec, add_noise

    noisy = add_noise(astronaut, NoiseSpec(kind, density), seed=3)
    served = np.where(np.random.default_rng(0).random(noisy.shape) < 0.6, noisy, cv2.medianBlur(noisy, 3))
    expected = _whole_photo_looks(noisy, served)
    out, count = filled(noisy, served)
    assert count > 0.01 * noisy.size
    np.testing.assert_array_equal(out, expected)
    monkeypatch.setattr(leftover_impulses, "LEFTOVER_BAND_ROWS", 7)
    monkeypatch.setattr(leftover_impulses, "CHUNK", 100)
    np.testing.assert_array_equal(filled(noisy, served)[0], expected)
    one = _whole_photo_looks(noisy, served, levels=(50,), relative=0, kept_only=True)  # stop 45's look
    np.testing.assert_array_equal(filled(noisy, served, levels=(50,), relative=0, kept_only=True)[0], one)
    assert (one != expected).any()
    kept = _whole_photo_looks(noisy, served, kept_only=True)  # stop 47's looks: on values the model kept
    np.testing.assert_array_equal(filled(noisy, served, kept_only=True)[0], kept)
    assert (kept != expected).any()


def test_a_strong_impulse_beside_a_weaker_standing_value_is_taken_first():
    """Why a cascade: an impulse (+90) beside a value that stands out less (+14: texture, an edge, or a weak
    impulse). One look at 50 takes neither (two standing side by side may be a line); the looks from 80 down
    take the impulse, at 80, where the other does not stand out yet, and then leave the other, which lies
    beside a value that stood out above its look in the model's output."""
    clean = _smooth(striped=False)
    noisy = clean.copy()
    noisy[20, 30, 0] += 90
    noisy[20, 31, 0] += 14
    assert filled(noisy, noisy, levels=(50,), relative=0)[1] == 0
    out, count = filled(noisy, noisy)
    assert count == 1 and abs(int(out[20, 30, 0]) - int(clean[20, 30, 0])) <= 1
    assert out[20, 31, 0] == noisy[20, 31, 0]


def test_a_coloured_texture_is_not_taken_where_an_impulse_is():
    """A block of random colour texture (channel 0, +-40) stands out in its colour difference nearly
    everywhere, and many of its values have no standing neighbour; beside it a smooth region with one struck
    value. Without the relative test the looks take 35 of the block's 400 values; with it, under half as many,
    and the struck value still."""
    clean = _smooth(48, 64)
    texture = clean.copy()
    texture[4:24, 4:24, 0] = np.clip(texture[4:24, 4:24, 0].astype(int)
                                     + np.random.default_rng(1).integers(-40, 41, (20, 20)), 0, 255)
    texture[36, 50, 1] += 70
    plain, _ = filled(texture, texture, relative=0)
    shipped, count = filled(texture, texture)
    block = (slice(4, 24), slice(4, 24))
    taken = (shipped[block] != texture[block]).sum()
    assert (plain[block] != texture[block]).sum() > 2 * taken
    assert count == taken + 1 and abs(int(shipped[36, 50, 1]) - int(clean[36, 50, 1])) <= 1


def test_the_look_runs_where_the_first_pass_changed_values_away_from_the_extremes():
    """The rule: a colour photo whose first pass changed at least 0.3% of its values away from 0 and the
    maximum; not a grey one, not one whose changes were all at the extremes (exact salt-and-pepper)."""
    rng = np.random.default_rng(0)
    before = np.full((100, 100, 3), 128, np.uint8)
    hit = rng.random(before.shape) < 0.004

    def changed(value: int, share: np.ndarray = hit, shape: tuple[int, ...] = before.shape) -> np.ndarray:
        after = np.full(shape, 128, np.uint8)
        struck = after.copy()
        struck[share] = value
        return pass_changes(struck, after, 255)

    assert leftovers_due(changed(100))
    assert not leftovers_due(changed(100, rng.random(before.shape) < 0.002))  # too few
    assert not leftovers_due(changed(255))  # exact salt
    assert not leftovers_due(changed(100, hit[..., 0], (100, 100)))  # grey


@pytest.mark.parametrize("spec, looks", [
    ({"kind": "random-valued", "density": 0.02}, True),  # 38.21 -> 43.21 dB on this crop (stop 47)
    ({"kind": "random-valued", "density": 0.02, "per_channel": False}, True),  # 36.69 -> 38.00
    ({"kind": "salt-pepper", "density": 0.1}, False),
    ({"kind": "salt-pepper", "density": 0.0}, False),
])
def test_the_blind_model_returns_its_output_with_the_leftovers_filled(astronaut, spec, looks):
    """`blind-unet` (the file, as every caller runs it) fills what its pass left on light random-valued noise,
    better than without; on exact salt-and-pepper and a clean photo it does not look. The default never
    looks; neither does the blind model on a grey photo."""
    from app.noise import NoiseSpec, add_noise

    clean = np.ascontiguousarray(astronaut[:256, :256])
    noisy = add_noise(clean, NoiseSpec(**spec), seed=1)
    blind = Denoiser(MODELS / "blind-unet.onnx", threads=2)
    served = blind.denoise(DecodedImage(noisy))
    without = blind.denoise(DecodedImage(noisy), leftovers=False).image.pixels
    if looks:
        assert served.leftovers > 0
        np.testing.assert_array_equal(served.image.pixels, filled(noisy, without, 255)[0])
        assert psnr(clean, served.image.pixels) > psnr(clean, without) + 0.5
    else:
        assert served.leftovers == 0
        np.testing.assert_array_equal(served.image.pixels, without)
    assert Denoiser(MODELS / "prefill-unet.onnx", threads=2).denoise(DecodedImage(noisy)).leftovers == 0
    grey = np.ascontiguousarray(noisy[..., 0])
    assert blind.denoise(DecodedImage(grey)).leftovers == 0


def test_a_look_stopped_by_the_deadline_returns_what_came_before(astronaut):
    """The deadline drops the look (the model's output comes back, 200); a client that left still stops the
    work."""
    from app.errors import ClientGone, DeadlineExceeded
    from app.noise import NoiseSpec, add_noise

    noisy = add_noise(np.ascontiguousarray(astronaut[:128, :128]), NoiseSpec("random-valued", 0.02), seed=1)
    blind = Denoiser(MODELS / "blind-unet.onnx", threads=2)
    without = blind.denoise(DecodedImage(noisy), leftovers=False)
    assert without.passes == 1  # too light for a second pass: the only check after the first pass is the look's

    late = blind.denoise(DecodedImage(noisy), check=stop_after(1, DeadlineExceeded))  # one tile, then the look
    assert late.leftovers == 0
    np.testing.assert_array_equal(late.image.pixels, without.image.pixels)
    with pytest.raises(ClientGone):
        blind.denoise(DecodedImage(noisy), check=stop_after(1, ClientGone))
    bands = -(-noisy.shape[0] // leftover_impulses.LEFTOVER_BAND_ROWS)
    looks = len(leftover_impulses.LEFTOVER_LEVELS)  # a check before each band, then before each look
    assert blind.denoise(DecodedImage(noisy), check=stop_after(1 + bands + looks, DeadlineExceeded)).leftovers > 0
    assert blind.denoise(DecodedImage(noisy), check=stop_after(bands + looks, DeadlineExceeded)).leftovers == 0
