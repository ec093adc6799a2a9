"""scripts/unseen_checks.py: noise off the tables' grid, sent as a user would send it, through model=auto."""

from __future__ import annotations

import math

import numpy as np

from tests.conftest import load_script


def test_the_cases_hold_every_kind_and_both_lossy_saves():
    """Every noise kind, saved as JPEG and as WebP (the uploads are auto_checks.upload's, tested with it)."""
    checks = load_script("unseen_checks")
    assert {spec.kind for _, spec, _ in checks.CASES} == {"salt-pepper", "impulse-range", "random-valued"}
    assert {spec.lossy[0] for _, spec, _ in checks.CASES if spec.lossy} == {"jpeg", "webp"}


def test_an_identical_photo_counts_as_the_tables_cap():
    checks = load_script("unseen_checks")
    assert checks.mean([math.inf, 40.0]) == 70.0


def test_both_tables_run_on_a_photo(client, astronaut, capsys):
    """One small photo through every case of both tables, with the service's registry: a row per case."""
    checks = load_script("unseen_checks")
    registry = client.app.state.services.registry
    photo = np.ascontiguousarray(astronaut[:64, :96])
    checks.light_table([photo], registry)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert len(lines) == 1 + len(checks.LIGHT)
    checks.unseen_table([photo], registry)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert len(lines) == 1 + len(checks.CASES)
    webp_file = next(line for line in lines if line.startswith("| salt-and-pepper 0.2 then WebP 80, a WebP file"))
    assert "jpeg-unet (1)" in webp_file  # a lossy WebP file goes where a JPEG file goes


def test_a_table_s_uploads_are_remade_from_its_recorded_command(tmp_path):
    """`--tables`: the uploads of a table, from the options of its command (density, noise mode, kind, save,
    exposure), counted under the hint's floor: a clean smooth photo is, the same with dense noise is not."""
    import json

    from PIL import Image

    checks = load_script("unseen_checks")
    photos = tmp_path / "data" / "Photos"
    photos.mkdir(parents=True)
    ramp = np.linspace(40, 200, 96)[None, :, None] + np.linspace(0, 30, 64)[:, None, None] + np.zeros((1, 1, 3))
    Image.fromarray(np.rint(ramp).astype(np.uint8)).save(photos / "ramp.png")
    table = tmp_path / "table"
    table.mkdir()
    command = ("python -m training evaluate --data ../shared/data/Photos --densities 0 0.3 --noise per-channel "
               "--kind random-valued")
    (table / "summary.json").write_text(json.dumps({"command": command, "summary": {}}))
    counts = checks.table_uploads_under_the_floor(table, str(tmp_path / "data"))
    assert counts == {("per-channel", 0.0): 1, ("per-channel", 0.3): 0}


def test_the_clipped_table_bins_each_photo_by_its_clipped_share(tmp_path, capsys):
    """`--clipped`: a photo with a solid clipped block and one with none land in different bins of each table
    (the x1.6 one brightened first), each with its blind-unet-int8 minus prefill-unet-int8 from per_image.csv."""
    import csv

    from PIL import Image

    checks = load_script("unseen_checks")
    photos = tmp_path / "photos"
    photos.mkdir()
    dark = np.full((32, 32, 3), 60, np.uint8)
    clipped = dark.copy()
    clipped[:16, :16] = 255  # a quarter of the values in one solid block
    Image.fromarray(dark).save(photos / "dark.png")
    Image.fromarray(clipped).save(photos / "clipped.png")
    for table in ("CBSD68", "CBSD68-exposure1.6"):
        (tmp_path / table).mkdir()
        with open(tmp_path / table / "per_image.csv", "w", newline="") as f:
            rows = csv.writer(f)
            rows.writerow(["dataset", "image", "noise", "density", "method", "psnr", "ssim", "seconds"])
            for image, gap in (("dark.png", -1.0), ("clipped.png", 0.5)):
                rows.writerow(["x", image, "per-channel", "0.1", "prefill-unet-int8", 30.0, 0.9, 0.1])
                rows.writerow(["x", image, "per-channel", "0.1", "blind-unet-int8", 30.0 + gap, 0.9, 0.1])
    checks.clipped_table(photos, tmp_path)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| CBSD68")]
    assert "| CBSD68 | 0.1 | 0-0.001 | 1 | -1.00, -1.00, -1.00 |" in lines
    assert "| CBSD68 | 0.1 | 0.05-1 | 1 | +0.50, +0.50, +0.50 |" in lines
    assert len(lines) == 4  # both tables, two bins each
