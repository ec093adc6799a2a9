"""scripts/share_checks.py: the photo's p against the padded photo's, on a folder of photos."""

from __future__ import annotations

import sys

from PIL import Image
from skimage import data

from tests.conftest import load_script


def test_it_prints_a_row_per_model_noise_exposure_and_density(tmp_path, monkeypatch, capsys):
    """Two photos whose sizes are not multiples of 32 (so the padded photo's p is not the photo's)."""
    for name in ("astronaut", "coffee"):
        Image.fromarray(getattr(data, name)()[:97, :131]).save(tmp_path / f"{name}.png")
    monkeypatch.setattr(sys, "argv", ["share_checks.py", "--data", str(tmp_path), "--models", "prefill-unet"])
    load_script("share_checks").main()
    rows = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines()[2:]]
    assert len(rows) == 10  # prefill-unet: 6 densities, then 4 on the x1.6 clipped photos
    for cells in rows:
        changed, values, served, padded, difference = (c.strip() for c in cells[5:])
        assert 0 <= int(changed) <= 2 and float(values) >= 0
        assert abs(float(served) - float(padded) - float(difference)) < 0.002
    assert sum(int(cells[5]) for cells in rows[6:]) > 0  # 97x131 padded to 128x160: the clipped photos' p moves


def test_the_timing_prints_both_medians_and_their_ratio(capsys):
    load_script("share_checks").time_share("96x64", repeats=1)
    line = capsys.readouterr().out.strip()
    assert line.startswith("96x64: the photo's p ") and "prefill-unet-int8's denoise" in line and line.endswith("(medians of 1)")
