"""scripts/leftover_checks.py: the look measured apart from the model, at several thresholds, with the rule's
choice beside it."""

from __future__ import annotations

import sys

import numpy as np
from PIL import Image

from tests.conftest import load_script


def test_fill_at_fills_a_copy_at_the_threshold_asked_for(astronaut):
    """A lower threshold fills more; the value's ROAD alone fills other values; the output passed in is not
    touched."""
    from app.noise import NoiseSpec, add_noise

    checks = load_script("leftover_checks")
    noisy = add_noise(np.ascontiguousarray(astronaut[:96, :96]), NoiseSpec("random-valued", 0.05), seed=3)
    kept = noisy.copy()
    low, high = checks.fill_at(30, noisy, noisy)[1], checks.fill_at(200, noisy, noisy)[1]
    assert low > checks.fill_at(50, noisy, noisy)[1] > high
    by_value = checks.fill_at(50, noisy, noisy, by_colour=False)[0]  # the value's ROAD alone: other values
    assert (by_value != checks.fill_at(50, noisy, noisy)[0]).any()
    np.testing.assert_array_equal(noisy, kept)


def test_the_table_runs_on_held_out_photos(tmp_path, astronaut, monkeypatch, capsys):
    """A folder named as the training set, two photos (one held out at --val-fraction 0.2): a row per case asked
    for, a column per threshold, the rule's choice counted (never a clean photo, always random-valued noise)."""
    checks = load_script("leftover_checks")
    (tmp_path / "CBSD432").mkdir()
    for i in range(2):
        crop = np.ascontiguousarray(astronaut[64 * i : 64 * i + 96, :96])
        Image.fromarray(crop).save(tmp_path / "CBSD432" / f"{i}.png")
    monkeypatch.setattr(sys, "argv", ["leftover_checks.py", "--data-root", str(tmp_path), "--photos", "1",
                                      "--thresholds", "40", "50", "--groups", "colour, per channel",
                                      "--only", "clean", "random-valued 0.05"])
    checks.main()
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("| clean |", "| random"))]
    assert len(rows) == 2
    assert "| 0 of 1 |" in rows[0] and "| 1 of 1 |" in rows[1]
    assert "ROAD > 40 |" in out and "ROAD > 50 (shipped)" in out
