"""scripts/grey_jpeg_checks.py: where the lead between the two models for a grey JPEG file changes hands."""

from __future__ import annotations

import numpy as np

from tests.conftest import load_script


def test_the_crossing_is_linear_between_the_cells_either_side():
    checks = load_script("grey_jpeg_checks")
    assert checks.crossing([0.1, 0.2, 0.3], [2.0, 1.0, -1.0]) == "0.250"  # +1 at 0.2, -1 at 0.3
    assert checks.crossing([0.3, 0.1, 0.2], [-1.0, 2.0, 1.0]) == "0.250"  # in order of estimate, not of input
    assert checks.crossing([0.1, 0.4], [0.5, 0.1]).startswith("above all (> 0.400")
    assert checks.crossing([0.1, 0.4], [-0.5, -2.0]).startswith("below all (< 0.100")


def test_the_table_runs_on_a_photo(client, camera, capsys):
    """One grey photo, two qualities, a clean and a noisy upload: a row per cell, a crossing per quality, the
    rule's boundary beside it; at quality 50 auto returns jpeg-unet's output for the noisy upload."""
    checks = load_script("grey_jpeg_checks")
    registry = client.app.state.services.registry
    checks.grey_jpeg_table([np.ascontiguousarray(camera[:64, :96])], registry, [50, 95], [0.0, 0.1])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    cells = [line for line in lines if line.count("|") == 9 and line[2].isdigit()]
    assert [line.split(" | ")[:2] for line in cells] == [["| 50", "0"], ["| 50", "0.1"], ["| 95", "0"], ["| 95", "0.1"]]
    assert "jpeg-unet (1)" in cells[1]
    assert lines[-2].startswith("| 50 |") and lines[-2].endswith("| 0.45 |")
    assert lines[-1].startswith("| 95 |") and lines[-1].endswith("| 0.00 |")


def test_webp_files_are_scored_by_luma_and_keep_blind_unet(client, camera, capsys):
    """A grey photo in a lossy WebP file decodes as colour: the table scores the outputs by their luma (else
    psnr refuses the shapes), auto answers the noisy file with `blind-unet` (no quality is read), and the
    rule's column says so."""
    checks = load_script("grey_jpeg_checks")
    registry = client.app.state.services.registry
    checks.grey_jpeg_table([np.ascontiguousarray(camera[:64, :96])], registry, [50], [0.0, 0.1], fmt="webp")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    cells = [line for line in lines if line.count("|") == 9 and line[2].isdigit()]
    assert [line.split(" | ")[:2] for line in cells] == [["| 50", "0"], ["| 50", "0.1"]]
    assert "jpeg-unet (1)" not in cells[1] and "blind-unet" in cells[1]
    assert lines[-1].startswith("| 50 |") and lines[-1].endswith("| none (not read) |")

