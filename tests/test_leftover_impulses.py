"""The look for leftover impulses after the blind model (app.leftover_impulses): what it takes for one, what
it fills it with, when it runs, and that the service's blind model returns it."""

import numpy as np
import pytest

from app import leftover_impulses
from app.imaging import DecodedImage
from app.inference import Denoiser
from app.leftover_impulses import fill_leftovers, leftovers_due
from app.pass_changes import pass_changes
from app.quality import psnr
from tests.conftest import MODELS, stop_after


def _smooth(h: int = 48, w: int = 64, scale: int = 1) -> np.ndarray:
    """A colour photo whose colour is smooth and whose brightness is not: ramps of different slopes per channel,
    and stripes one row high, 20 levels apart, in all three alike (a value's own 3x3 median is then the other
    rows' level). uint8, or uint16 with `scale` 257."""
    y, x = np.mgrid[0:h, 0:w]
    stripes = 20 * (y % 2)
    channels = (60 + x + stripes, 90 + y + stripes, 120 + (x + y) // 2 + stripes)
    return (np.stack(channels, axis=2) * scale).astype(np.uint8 if scale == 1 else np.uint16)


def filled(upload: np.ndarray, output: np.ndarray, top: int = 255, check=None) -> tuple[np.ndarray, int]:
    """(a copy of `output` with its leftovers filled, how many): `fill_leftovers` works in place."""
    out = output.copy()
    count = fill_leftovers(upload, out, top, check)
    return out, count


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


def test_what_the_model_changed_extremes_lines_and_grey_are_left():
    """Not taken for leftovers: values the model changed (its own), 0 and the maximum (clipped content the
    model kept), two standing out side by side (a fine coloured line), and a value struck in all three
    channels alike (its colour difference is unchanged: brightness texture, not an impulse in a channel)."""
    clean = _smooth()
    noisy = _struck(clean)
    model_changed = noisy.copy()
    model_changed[5, 7, 0] = int(clean[5, 7, 0]) + 70  # the model's own output here, odd as it looks: kept
    noisy[5, 7, 0] = 200
    assert filled(noisy, model_changed, 255)[1] == len(STRUCK) - 1
    extremes = clean.copy()
    extremes[20, 30, 0], extremes[10, 10, 1] = 255, 0
    assert filled(extremes, extremes, 255)[1] == 0
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

    kept = noisy.copy()
    with pytest.raises(TimeoutError):
        fill_leftovers(noisy, kept, 255, check)
    assert len(calls) == 4
    np.testing.assert_array_equal(kept, noisy)  # stopped: nothing written


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
    ({"kind": "random-valued", "density": 0.02}, True),  # 38.14 -> 42.53 dB on this crop
    ({"kind": "random-valued", "density": 0.02, "per_channel": False}, True),  # 36.53 -> 37.66
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
    assert blind.denoise(DecodedImage(noisy), check=stop_after(1 + bands, DeadlineExceeded)).leftovers > 0
