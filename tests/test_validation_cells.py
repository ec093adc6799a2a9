"""scripts/validation_cells.py: the detector's hits and false alarms per cell, which stop 29's diagnosis rests on."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import load_script


def test_found_and_false_count_the_moved_and_the_other_values_apart():
    """Two cells. In cell a, 4 values are moved; the model fills 3 of them, blends the 4th, and touches 1
    of the 12 others. In cell b nothing is moved: no hit rate, and 2 of 16 values touched. A value inside
    the dead zone counts as touched (false) but not as found."""
    cells_of = load_script("validation_cells").detection_cells
    clean = np.full((2, 4, 4, 1), 100, np.uint8)
    noisy = clean.astype(np.float32) / 255.0
    noisy[0, 0, :, 0] = 0.9  # cell a: the first row moved far
    decision = np.zeros_like(noisy)
    decision[0, 0, :3, 0] = 1.0  # 3 of the 4 moved values filled
    decision[0, 0, 3, 0] = 0.3  # the 4th inside the zone: blended, not filled, so not found
    decision[0, 2, 2, 0] = 0.3  # one other value inside the zone: touched
    decision[1, 1, 1:3, 0] = 0.5  # cell b: two touched
    cells = cells_of(lambda batch: decision[: len(batch)], noisy, clean, ["a", "b"], threshold=0.04,
                     zone=(0.25, 0.35))
    assert cells["a"] == pytest.approx((0.75, 1 / 12))
    assert np.isnan(cells["b"][0]) and cells["b"][1] == pytest.approx(2 / 16)
