"""scripts/leftover_checks.py: the looks measured apart from the model, one look at several thresholds or
several looks, with the rule's choice beside them; and which committed tables' cells the looks move."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import load_script


def test_fill_at_fills_a_copy_with_the_looks_asked_for(astronaut):
    """One look: a lower threshold fills more; the value's ROAD alone fills other values; the six looks fill
    more than one at 50; the output passed in is not touched. Looks are named from their text."""
    from app.noise import NoiseSpec, add_noise

    checks = load_script("leftover_checks")
    noisy = add_noise(np.ascontiguousarray(astronaut[:96, :96]), NoiseSpec("random-valued", 0.05), seed=3)
    kept = noisy.copy()
    one = lambda t: ((t,), 0.0, True)
    low, high = checks.fill_at(one(30), noisy, noisy)[1], checks.fill_at(one(200), noisy, noisy)[1]
    assert low > checks.fill_at(one(50), noisy, noisy)[1] > high
    by_value = checks.fill_at(one(50), noisy, noisy, by_colour=False)[0]  # the value's ROAD alone: other values
    assert (by_value != checks.fill_at(one(50), noisy, noisy)[0]).any()
    assert checks.fill_at(checks.SHIPPED, noisy, noisy)[1] > checks.fill_at(one(50), noisy, noisy)[1]
    np.testing.assert_array_equal(noisy, kept)
    # a model that moved every value by one: stop 47's looks (kept values only) take none, the shipped ones some
    moved = np.where((noisy > 0) & (noisy < 255), noisy + 1, noisy)  # every value but 0 and 255 moved
    assert checks.fill_at(checks.STOP_47, noisy, moved)[1] == 0 < checks.fill_at(checks.SHIPPED, noisy, moved)[1]
    assert checks.parse_look("80,70,60/3") == ((80, 70, 60), 3.0, False)
    assert checks.parse_look("50") == ((50,), 0.0, False) and checks.parse_look("50/0/kept") == ((50,), 0.0, True)
    with pytest.raises(ValueError):
        checks.parse_look("50/0/all")
    assert checks.look_name(((50,), 0.0, False)) == "ROAD > 50"
    assert checks.look_name(checks.SHIPPED) == "looks 80,70,60,50,40,30, x3 around (shipped)"
    assert checks.look_name(checks.STOP_47) == "looks 80,70,60,50,40,30, x3 around, kept values only"


def test_the_table_runs_on_held_out_photos(tmp_path, astronaut, monkeypatch, capsys):
    """A folder named as the training set, two photos (one held out at --val-fraction 0.2): a row per case asked
    for, a column per threshold, the rule's choice counted (never a clean photo, always random-valued noise)."""
    checks = load_script("leftover_checks")
    (tmp_path / "CBSD432").mkdir()
    for i in range(2):
        crop = np.ascontiguousarray(astronaut[64 * i : 64 * i + 96, :96])
        Image.fromarray(crop).save(tmp_path / "CBSD432" / f"{i}.png")
    monkeypatch.setattr(sys, "argv", ["leftover_checks.py", "--data-root", str(tmp_path), "--photos", "1",
                                      "--looks", "80,70,60,50,40,30/3", "--thresholds", "40", "50",
                                      "--groups", "colour, per channel", "--only", "clean", "random-valued 0.05"])
    checks.main()
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("| clean |", "| random"))]
    assert len(rows) == 2
    assert "| 0 of 1 |" in rows[0] and "| 1 of 1 |" in rows[1]
    assert ("| looks 80,70,60,50,40,30, x3 around (shipped) | ROAD > 40, kept values only | ROAD > 50, kept values "
            "only |") in out
    assert rows[1].rstrip(" |").count(" / ") == 2  # each look's time


def test_table_changes_finds_the_cells_the_looks_move(tmp_path, astronaut, capsys):
    """A committed table remade from its command: its colour uploads with random-valued noise are all looked at
    and the cell's change is printed; its clean cell has no photo looked at and cannot move."""
    import json
    from types import SimpleNamespace

    from app.inference import Denoiser
    from tests.conftest import MODELS

    checks = load_script("leftover_checks")
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(np.ascontiguousarray(astronaut[64 * i : 64 * i + 96, :96])).save(photos / f"{i}.png")
    table = tmp_path / "eval" / "tiny"
    table.mkdir(parents=True)
    command = (f"python -m training evaluate --data {photos} --noise per-channel --densities 0 0.05 "
               "--kind random-valued --name tiny")
    (table / "summary.json").write_text(json.dumps({"command": command}))
    model = SimpleNamespace(name="blind-unet", denoiser=Denoiser(MODELS / "blind-unet.onnx", threads=2))
    checks.table_changes(model, [], str(tmp_path), 1, eval_dir=tmp_path / "eval")
    rows = {line.split(" | ")[2]: line for line in capsys.readouterr().out.splitlines() if line.startswith("| tiny |")}
    assert "| 0 of 2 | +0.000 |" in rows["0"]
    assert "| 2 of 2 |" in rows["0.05"]
