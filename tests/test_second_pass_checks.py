"""scripts/second_pass_checks.py: the passes measured apart, and the service's own choice beside them."""

from __future__ import annotations

import sys

import numpy as np
from PIL import Image

from tests.conftest import load_script


def test_the_passes_are_each_run_on_the_one_before(client, astronaut):
    """`passes` gives one pass, then one pass on that output: with noise per channel the second is what the
    service returns (`Denoiser.denoise`, tested in test_inference.py)."""
    from app.imaging import DecodedImage
    from app.noise import NoiseSpec, add_noise

    checks = load_script("second_pass_checks")
    denoiser = client.app.state.services.registry.get("blind-unet").denoiser
    noisy = add_noise(np.ascontiguousarray(astronaut[:128, :128]), NoiseSpec("impulse-range", 0.3), seed=1)
    once, twice = checks.passes(denoiser, noisy, 2)
    assert (once != noisy).any() and (twice != once).any()
    np.testing.assert_array_equal(twice, denoiser.denoise(DecodedImage(noisy), leftovers=False).image.pixels)
    assert checks.spread([]) == "-" and checks.spread([1.0, 3.0]) == "2.000, 1.000, 3.000"


def test_the_table_runs_on_each_groups_held_out_photos(tmp_path, astronaut, camera, monkeypatch, capsys):
    """Two folders named as the training sets, two photos each (one held out at --val-fraction 0.2): a table
    per group, a row per case asked for, the rule's choice counted."""
    checks = load_script("second_pass_checks")
    for folder, photo in (("CBSD432", astronaut), ("Train400", camera)):
        (tmp_path / folder).mkdir()
        for i in range(2):
            Image.fromarray(np.ascontiguousarray(photo[64 * i : 64 * i + 96, :96])).save(tmp_path / folder / f"{i}.png")
    monkeypatch.setattr(sys, "argv", ["second_pass_checks.py", "--data-root", str(tmp_path), "--photos", "1",
                                      "--passes", "2", "--only", "clean", "random-valued 0.2"])
    checks.main()
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("| clean |", "| random"))]
    assert len(rows) == 3 * 2
    assert all("(0 of 1)" in row for row in rows if row.startswith("| clean |"))  # never on a clean photo
    assert "grey, per pixel" in out and "colour, per channel" in out
