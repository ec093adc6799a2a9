"""scripts/unseen_checks.py: noise off the tables' grid, sent as a user would send it, through model=auto."""

from __future__ import annotations

import math

import numpy as np

from app.imaging import LOSSY_WEBP, decode
from app.noise import NoiseSpec, add_noise
from tests.conftest import load_script


def test_an_upload_is_the_saved_file_itself_or_a_png_of_its_pixels(astronaut):
    """A "file" upload is the WebP (or JPEG) file that add_noise's re-encode writes, so it decodes to the same
    pixels and the service sees its format; a "png" one holds those pixels losslessly."""
    checks = load_script("unseen_checks")
    photo = astronaut[:64, :96]
    spec = NoiseSpec(density=0.2, webp_quality=80)
    saved = add_noise(photo, spec, seed=3)
    data, pixels = checks.upload(photo, spec, "file", seed=3)
    assert decode(data, 10**7).source_format == LOSSY_WEBP and np.array_equal(pixels, saved)
    data, pixels = checks.upload(photo, spec, "png", seed=3)
    assert decode(data, 10**7).source_format == "PNG" and np.array_equal(pixels, saved)
    data, pixels = checks.upload(photo, NoiseSpec(density=0.2, jpeg_quality=50), "file", seed=3)
    assert decode(data, 10**7).source_format == "JPEG"
    assert np.array_equal(pixels, add_noise(photo, NoiseSpec(density=0.2, jpeg_quality=50), seed=3))
    every_kind = {spec.kind for _, spec, _ in checks.CASES}
    assert every_kind == {"salt-pepper", "impulse-range", "random-valued"}
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
