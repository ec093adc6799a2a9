"""scripts/jpeg_grid_checks.py --blocks: the score before the rule for few blocks, by the blocks it came from."""

from __future__ import annotations

import numpy as np

from app.jpeg_grid import raw_score
from tests.conftest import load_script


def test_the_block_table_counts_every_upload_once_in_its_bin(astronaut, capsys):
    """One photo: two seeds of each never-saved case and one of each saved case, every one binned (this crop
    leaves the light ones few blocks; the saved ones at density 0.5 may hold none) and counted once."""
    checks = load_script("jpeg_grid_checks")
    checks.block_table([("astronaut", astronaut)])
    out = capsys.readouterr().out
    rows = [line.split(" | ") for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row[0] for row in rows] == ["| 24-31", "| 32-47", "| 48-more"]
    binned = sum(int(row[1]) + int(row[4]) for row in rows)
    assert binned <= int(out.split(" uploads")[0]) <= 2 * len(checks.BLOCK_CASES)


def test_the_raw_score_is_the_lattice_before_any_rule_for_few_blocks(astronaut):
    """A JPEG save of the crop (480 blocks): the raw score is what `grid_score` gives from that many blocks."""
    from app.jpeg_grid import FEW_BLOCKS, grid_score
    from app.noise import reencode

    saved = reencode(astronaut, "jpeg", 90)
    score, blocks = raw_score(saved)
    assert blocks >= FEW_BLOCKS and score == grid_score(saved) > 0.15
    assert raw_score(np.zeros((4, 4, 3), np.uint8))[1] == 0
