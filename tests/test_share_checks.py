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
    timing, memory = capsys.readouterr().out.strip().splitlines()
    assert timing.startswith("96x64: the photo's p ") and "the solid rule's share alone" in timing
    assert "prefill-unet-int8's denoise" in timing and timing.endswith("(medians of 1)")
    assert memory.startswith("96x64: the photo's p allocates ") and " MiB at its peak" in memory


def _photos(folder, count: int, size: int = 64) -> None:
    """`count` crops of scikit-image's colour photos, `size` square, as PNG files in `folder`."""
    folder.mkdir(parents=True)
    for index in range(count):
        photo = (data.astronaut(), data.coffee(), data.chelsea())[index % 3]
        Image.fromarray(photo[40 * index : 40 * index + size, 30 : 30 + size]).save(folder / f"{index}.png")


def test_the_slack_table_has_a_row_per_case_and_a_column_per_slack(tmp_path, capsys):
    """Held-out photos of two stand-in training folders (one of five held out, as `fit` splits them)."""
    script = load_script("share_checks")
    _photos(tmp_path / "CBSD432", 5)
    _photos(tmp_path / "Train400", 5)
    for path in (tmp_path / "Train400").iterdir():  # grey, as Train400 is
        Image.open(path).convert("L").save(path)
    script.slack_checks([1.0, 5.0], tmp_path, photos=1)
    rows = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines()[2:]]
    assert len(rows) == sum(len(cases) for *_, cases in script.SLACK_CASES)
    for cells in rows:
        assert cells[0].strip().endswith("(1)") and float(cells[3]) > 0
        for cell in cells[4:]:
            mean, least = cell.split()
            assert float(least.strip("()")) <= float(mean)


def test_k_changes_counts_the_photos_whose_k_moves(tmp_path, capsys):
    """A committed table of two clipped photos, clean and with light salt-and-pepper: on the clean ones the solid
    rule's share counts thin highlights, the noise's share does not, so k moves; at density 0.9 it cannot."""
    import json

    _photos(tmp_path / "data" / "photos", 2, size=96)
    table = tmp_path / "eval" / "clipped"
    table.mkdir(parents=True)
    command = ("python -m training evaluate --data ../shared/data/photos --exposure 1.6 --densities 0 0.9 "
               "--noise per-channel --name clipped")
    (table / "summary.json").write_text(json.dumps({"command": command}))
    load_script("share_checks").k_changes(data_root=tmp_path / "data", eval_dir=tmp_path / "eval")
    rows = {cells[3].strip(): cells[4].strip() for cells in
            (line.split("|") for line in capsys.readouterr().out.splitlines()[2:])}
    assert rows == {"0": "2 of 2", "0.9": "0 of 2"}
