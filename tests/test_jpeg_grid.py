"""app.jpeg_grid: pixels saved as JPEG are told from pixels never saved, whatever file they arrive in."""

import numpy as np
import pytest

from app import jpeg_grid
from app.jpeg_grid import FEW_BLOCKS, MIN_BLOCKS, SAVED_SCORE, grid_phase, grid_score, saved_as_jpeg
from app.noise import NoiseSpec, add_noise, reencode


@pytest.mark.parametrize("spec", [
    NoiseSpec(density=0.0, jpeg_quality=90),
    NoiseSpec(density=0.1, jpeg_quality=90),
    NoiseSpec(density=0.1, jpeg_quality=75),
    NoiseSpec("random-valued", 0.2, jpeg_quality=90),
    NoiseSpec("impulse-range", 0.3, jpeg_quality=90),
], ids=str)
def test_noise_saved_as_jpeg_is_seen_on_the_grid_and_nowhere_else(spec):
    """Saved: the lattice is on JPEG's grid. The same pixels cropped by 4 rows and columns put the grid on
    the reference's place, so the score turns as strongly negative: it is the grid, not the content. The whole
    astronaut: near-extreme 0.3 then JPEG 90 leaves the suite's 160x192 crop under FEW_BLOCKS blocks free of
    clipped values once cropped (since stop 41, where the score counts half)."""
    from skimage import data

    saved = add_noise(data.astronaut(), spec, seed=5)
    assert saved_as_jpeg(saved), grid_score(saved)
    assert grid_score(np.ascontiguousarray(saved[4:, 4:])) < -SAVED_SCORE


@pytest.mark.parametrize("spec", [
    NoiseSpec(density=0.0),
    NoiseSpec(density=0.1),
    NoiseSpec("impulse-range", 0.3),
    NoiseSpec("random-valued", 0.1),
    NoiseSpec("random-valued", 0.4),
], ids=str)
def test_pixels_never_saved_are_not_taken_for_saved(astronaut, spec):
    """On this 160x192 crop (480 blocks) unsaved scores lie within 0.09 of 0 over seeds; saved ones over 0.3."""
    assert abs(grid_score(add_noise(astronaut, spec, seed=5))) < SAVED_SCORE


@pytest.mark.parametrize(("photo", "half", "density", "seed"), [
    ("coffee", True, 0.015, 9),  # under MIN_BLOCKS blocks escape the impulses: no verdict (0.21 without the rule)
    ("chelsea", False, 0.02, 9),  # under FEW_BLOCKS: the score counts half (0.15 without the rule)
])
def test_light_salt_and_pepper_never_saved_is_not_taken_for_saved_from_a_few_blocks(photo, half, density, seed):
    """Light exact salt-and-pepper leaves few blocks free of extremes, and the lattice of a few blocks is noise:
    on CBSD68 one such photo scored 0.34 from 25 blocks and auto sent it to jpeg-unet, 32 dB under the
    default (stop 41). These two uploads were taken for saved before the rule for few blocks."""
    from skimage import data

    pixels = getattr(data, photo)()
    pixels = np.ascontiguousarray(pixels[::2, ::2]) if half else pixels
    assert not saved_as_jpeg(add_noise(pixels, NoiseSpec(density=density), seed=seed))


@pytest.mark.parametrize(("blocks", "score"), [(31, 0.0), (32, 0.2), (47, 0.2), (48, 0.4)])  # the measured edges
@pytest.mark.parametrize("fewest", ["on the grid", "off it"])
def test_a_score_from_few_blocks_counts_half_and_from_fewer_nothing(monkeypatch, blocks, score, fewest):
    """The rule for few blocks on its own: the lattice measure gives 0.5 on the grid and 0.1 off it (0.4), and
    the fewest blocks of the three grids decide. On CBSD68 a never-saved upload scored 0.34 from 25 blocks:
    halved, it would still pass SAVED_SCORE, so under MIN_BLOCKS (32) there is no verdict at all; from 32-47
    (FEW_BLOCKS: 48) the score counts half (`python scripts/jpeg_grid_checks.py --blocks`)."""
    plenty = FEW_BLOCKS * 10

    def blocks_of(pixels, top, left, max_blocks=0):  # the grid's blocks hold 1s, the others' 0s
        on = (top, left) == (0, 0)
        count = blocks if on == (fewest == "on the grid") else plenty
        return np.full((count, 8, 8), 1.0 if on else 0.0, np.float32)

    monkeypatch.setattr(jpeg_grid, "_blocks", blocks_of)
    monkeypatch.setattr(jpeg_grid, "_lattice_strength", lambda coefficients: 0.5 if coefficients.any() else 0.1)
    assert grid_score(np.zeros((8, 8), np.uint8)) == pytest.approx(score)


def test_noise_added_after_a_save_is_not_taken_for_saved(astronaut):
    """A photo that was a JPEG once, with impulses added after (never saved): what blind-unet is for."""
    once_saved = reencode(astronaut, "jpeg", 90)
    assert saved_as_jpeg(once_saved)
    for kind in ("random-valued", "impulse-range"):
        assert not saved_as_jpeg(add_noise(once_saved, NoiseSpec(kind, 0.05), seed=5))


def test_no_verdict_without_enough_blocks_free_of_clipped_values(astronaut, camera):
    assert grid_score(reencode(astronaut[:32, :40], "jpeg", 75)) == 0.0  # 20 blocks, under MIN_BLOCKS
    assert 4 * 5 < MIN_BLOCKS
    assert grid_score(reencode(np.where(astronaut > 128, 255, 0).astype(np.uint8), "jpeg", 75)) == 0.0  # all clipped
    assert grid_score(camera.astype(np.uint16) * 257) == 0.0  # 16-bit: never a JPEG's
    assert saved_as_jpeg(reencode(camera, "jpeg", 75))  # grey: the values are the luma


@pytest.mark.parametrize(("rows", "columns"), [(0, 0), (3, 5), (4, 4), (1, 7)])
def test_grid_phase_finds_where_a_cut_save_s_blocks_start(astronaut, rows, columns):
    """Cut `rows` and `columns` off a JPEG save: its blocks then start at (-rows % 8, -columns % 8)."""
    saved = add_noise(astronaut, NoiseSpec(density=0.1, jpeg_quality=90), seed=5)
    assert grid_phase(np.ascontiguousarray(saved[rows:, columns:])) == (-rows % 8, -columns % 8)


def test_grid_phase_sees_no_grid_in_pixels_never_saved(astronaut, camera):
    assert grid_phase(add_noise(astronaut, NoiseSpec("random-valued", 0.2), seed=5)) is None
    assert grid_phase(astronaut[3:, 5:]) is None
    assert grid_phase(reencode(camera, "jpeg", 75).astype(np.uint16) * 257) is None
