import json

import numpy as np
import pytest
from PIL import Image

from app.noise import salt_and_pepper
from tests.conftest import MODELS
from training.baselines import METHODS
from training.evaluate import evaluate, figure, noise_seed, summarise, update_cards, write_outputs


def test_every_method_sees_the_same_noise():
    assert noise_seed("a.png", 0.5, "per-pixel") == noise_seed("a.png", 0.5, "per-pixel")
    assert noise_seed("a.png", 0.5, "per-pixel") != noise_seed("b.png", 0.5, "per-pixel")
    assert noise_seed("a.png", 0.5, "per-pixel") != noise_seed("a.png", 0.5, "per-channel")
    image = np.full((20, 20), 80, np.uint8)
    seed = noise_seed("x.png", 0.3, "per-pixel")
    assert np.array_equal(salt_and_pepper(image, 0.3, seed=seed), salt_and_pepper(image, 0.3, seed=seed))


def test_over_exposure_clips_and_density_zero_scores_the_clean_photo(tmp_path, astronaut):
    from training.evaluate import over_expose

    bright = over_expose(astronaut, 1.6)
    assert (bright == 255).mean() > 0.05 and np.array_equal(over_expose(astronaut, 1.0), astronaut)
    data = tmp_path / "photos"
    data.mkdir()
    Image.fromarray(astronaut[:64, :64]).save(data / "a.png")
    rows = evaluate(data, (0.0,), [], methods=["noisy input", "switching mean"], exposure=1.6, progress=False)
    noisy = [r for r in rows if r.method == "noisy input"]
    assert noisy and all(r.psnr == float("inf") for r in noisy)  # density 0: nothing was corrupted
    assert summarise(rows)["per-channel"]["noisy input"]["0"]["psnr"] == 100.0  # capped in means
    with pytest.raises(ValueError):
        evaluate(data, (1.0,), [], progress=False)


def test_tiny_end_to_end_evaluation(tmp_path, astronaut, camera):
    data = tmp_path / "photos"
    data.mkdir()
    Image.fromarray(astronaut[:64, :80]).save(data / "a.png")
    Image.fromarray(astronaut[64:128, :96]).save(data / "b.png")
    model = sorted(MODELS.glob("*.onnx"))[0]
    rows = evaluate(data, (0.2, 0.6), [model], threads=2, progress=False)
    assert len(rows) == 2 * 2 * 2 * (len(METHODS) + 1)  # images x densities x noise modes x methods
    summary = summarise(rows)
    assert set(summary) == {"per-channel", "per-pixel"}
    noisy = summary["per-channel"]["noisy input"]["0.2"]["psnr"]
    assert summary["per-channel"]["switching mean"]["0.2"]["psnr"] > noisy + 10
    assert 0 < summary["per-pixel"][model.stem]["0.6"]["ssim"] <= 1
    again = evaluate(data, (0.2, 0.6), [model], threads=2, progress=False)
    assert [(r.psnr, r.ssim) for r in again] == [(r.psnr, r.ssim) for r in rows]  # seeded: identical scores

    out = tmp_path / "out"
    write_outputs(rows, summary, out, "photos", "cmd")
    assert (out / "per_image.csv").read_text().count("\n") == len(rows) + 1
    assert "| switching mean |" in (out / "README.md").read_text()
    figure(data, 0.5, {"noisy input": METHODS["noisy input"]}, out / "figure.png", images=2, crop=32)
    assert Image.open(out / "figure.png").size[1] > 64

    card = tmp_path / f"{model.stem}.json"
    card.write_text("{}")
    update_cards(summary, "photos", [tmp_path / model.name], "cmd")
    scores = json.loads(card.read_text())["scores"]["photos"]
    assert scores["per-channel"]["0.2"]["noisy_psnr"] == noisy


def test_x8_rows_score_the_self_ensemble_beside_the_single_pass(tmp_path, camera):
    data = tmp_path / "photos"
    data.mkdir()
    Image.fromarray(camera).save(data / "c.png")
    model = MODELS / "prefill-unet.onnx"
    rows = evaluate(data, (0.5,), [model], methods=["noisy input"], threads=2, progress=False, x8=("prefill-unet",))
    by_method = {r.method: r for r in rows}
    assert set(by_method) == {"noisy input", "prefill-unet", "prefill-unet x8"}
    assert by_method["prefill-unet x8"].psnr > by_method["prefill-unet"].psnr > by_method["noisy input"].psnr + 10


def test_merge_adds_a_twins_rows_after_its_float_model_and_refuses_another_table(tmp_path, camera):
    """`evaluate --merge`: a committed table gains only the new model's rows (the others are kept as they
    were, not re-run); a table of another noise or other photos is refused."""
    import subprocess
    import sys

    from training.evaluate import read_rows

    data = tmp_path / "photos"
    data.mkdir()
    Image.fromarray(camera[:64, :96]).save(data / "c.png")
    Image.fromarray(camera[64:128, :96]).save(data / "d.png")
    out = tmp_path / "table"

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "training", "evaluate", "--data", str(data), "--densities", "0.3",
                   "--out", str(out), *args]
        return subprocess.run(command, capture_output=True, text=True)

    assert run("--models", str(MODELS / "prefill-unet.onnx")).returncode == 0
    before = read_rows(out / "per_image.csv")
    finished = run("--models", str(MODELS / "prefill-unet-int8.onnx"), "--merge")
    assert finished.returncode == 0, finished.stderr
    after = read_rows(out / "per_image.csv")
    assert [r for r in after if r.method != "prefill-unet-int8"] == before
    methods = list(dict.fromkeys(r.method for r in after))
    assert methods.index("prefill-unet-int8") == methods.index("prefill-unet") + 1
    twin = {r.image: r.psnr for r in after if r.method == "prefill-unet-int8"}
    float_model = {r.image: r.psnr for r in after if r.method == "prefill-unet"}
    assert set(twin) == {"c.png", "d.png"} and all(abs(twin[i] - float_model[i]) < 0.5 for i in twin)
    record = json.loads((out / "summary.json").read_text())
    assert len(record["added_by"]) == 1 and "--merge" in record["added_by"][0]
    assert "prefill-unet-int8" in record["summary"]["per-pixel"]
    assert "Rows added by:" in (out / "README.md").read_text()

    # some of the table's densities run again alone: the method's other cells are kept, not dropped
    both = tmp_path / "both"
    made = run("--models", str(MODELS / "prefill-unet.onnx"), "--densities", "0", "0.3", "--out", str(both))
    assert made.returncode == 0, made.stderr
    kept = read_rows(both / "per_image.csv")
    spotted = camera[64:128, :96].copy()
    spotted[::7, ::9] = 255  # isolated white values the model takes for salt: its clean cell is no longer inf
    Image.fromarray(spotted).save(data / "d.png")  # the photo changes: its rows at density 0 must too
    finished = run("--models", str(MODELS / "prefill-unet.onnx"), "--densities", "0", "--merge", "--out", str(both))
    assert finished.returncode == 0, finished.stderr
    again = read_rows(both / "per_image.csv")
    assert [r for r in again if r.density == 0.3] == [r for r in kept if r.density == 0.3]
    cells = [{(r.image, r.method) for r in rows if r.density == 0} for rows in (again, kept)]
    assert cells[0] == cells[1] and len(again) == len(kept)
    assert {r.psnr for r in again if r.density == 0 and r.image == "d.png" and r.method == "prefill-unet"} != \
        {r.psnr for r in kept if r.density == 0 and r.image == "d.png" and r.method == "prefill-unet"}
    refused = run("--models", str(MODELS / "prefill-unet-int8.onnx"), "--densities", "0", "--merge", "--out", str(both))
    assert refused.returncode != 0 and "every one of its densities" in refused.stderr  # a new method: all of them
    refused = run("--models", str(MODELS / "prefill-unet.onnx"), "--densities", "0.5", "--merge", "--out", str(both))
    assert refused.returncode != 0 and "differ" in refused.stderr  # not one of the table's densities
    Image.fromarray(camera[64:128, :96]).save(data / "d.png")

    refused = run("--models", str(MODELS / "prefill-unet-int8.onnx"), "--merge", "--kind", "random-valued")
    assert refused.returncode != 0 and "noise" in refused.stderr
    Image.fromarray(camera[:64, :64]).save(data / "e.png")
    refused = run("--models", str(MODELS / "prefill-unet-int8.onnx"), "--merge")
    assert refused.returncode != 0 and "differ" in refused.stderr


def test_a_classical_anchor_merges_among_the_classical_rows_and_runs_on_colour_photos_only(tmp_path, astronaut, camera):
    """`evaluate --merge --methods`: a new classical filter joins a committed colour table before the models
    and takes part in the per-image best; the luma/chroma medians are not run on grey photos."""
    import csv
    import subprocess
    import sys

    from training.baselines import COLOUR_ONLY
    from training.evaluate import BEST_PER_IMAGE, read_rows

    anchor = COLOUR_ONLY[0]
    grey = tmp_path / "grey"
    grey.mkdir()
    Image.fromarray(camera[:64, :64]).save(grey / "c.png")
    assert not {r.method for r in evaluate(grey, (0.3,), [], progress=False)} & set(COLOUR_ONLY)

    data = tmp_path / "photos"
    data.mkdir()
    Image.fromarray(astronaut[:64, :96]).save(data / "a.png")
    out = tmp_path / "table"

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "training", "evaluate", "--data", str(data), "--densities", "0.2",
                   "--noise", "per-channel", "--jpeg-quality", "90", "--out", str(out), *args]
        return subprocess.run(command, capture_output=True, text=True)

    assert run("--models", str(MODELS / "prefill-unet.onnx")).returncode == 0
    full = read_rows(out / "per_image.csv")
    # the committed table as it was before the anchor: its rows taken out
    with open(out / "per_image.csv") as f:
        lines = [line for line in csv.reader(f) if line[4] not in COLOUR_ONLY]
    with open(out / "per_image.csv", "w", newline="") as f:
        csv.writer(f).writerows(lines)
    refused = run("--models", "--methods", anchor)
    assert refused.returncode != 0 and "--merge" in refused.stderr
    refused = run("--models", "--merge", "--methods", "median 7x7")
    assert refused.returncode != 0 and "unknown" in refused.stderr
    finished = run("--models", "--merge", "--methods", anchor)
    assert finished.returncode == 0, finished.stderr
    merged = read_rows(out / "per_image.csv")
    methods = list(dict.fromkeys(r.method for r in merged))
    assert methods.index(anchor) == methods.index("ROAD switching") + 1 < methods.index("prefill-unet")
    expected = {(r.method, r.psnr) for r in full if r.method != COLOUR_ONLY[1]}
    assert {(r.method, r.psnr) for r in merged} == expected  # the anchor's rows as a full run scores them
    best = json.loads((out / "summary.json").read_text())["summary"]["per-channel"][BEST_PER_IMAGE]["0.2"]["psnr"]
    assert best >= max(r.psnr for r in merged if r.method == anchor) - 1e-3


def test_auto_is_scored_on_the_upload_a_user_would_send(tmp_path, camera, monkeypatch):
    """`evaluate --auto` scores model=auto as the service runs it, on the file a user would send: a JPEG file
    where the table's noise was saved as JPEG (auto reads the format: for a JPEG file the default, which
    restores only the impulses that stayed exact, is judged to have left them alone), a PNG otherwise. A grey
    JPEG file of dense salt-and-pepper goes to blind-unet at quality 90 (on the CPU its int8 twin answers), and
    the "auto" row is then that model's row; "auto x8" (requests with ensemble=8) is that model's 8-fold row. At
    quality 50 it goes to jpeg-unet (`pipeline.grey_saved_boundary`): the file's quality reaches auto too."""
    from app import pipeline
    from training.evaluate import NoiseKind

    data = tmp_path / "photos"
    data.mkdir()
    Image.fromarray(camera).save(data / "a.png")
    sent = []
    choose = pipeline.denoise_auto_image
    monkeypatch.setattr(pipeline, "denoise_auto_image", lambda image, *args:
                        sent.append((image.source_format, image.jpeg_quality)) or choose(image, *args))
    models = [MODELS / f"{name}.onnx" for name in ("prefill-unet", "blind-unet-int8")]
    rows = evaluate(data, (0.3,), models, methods=[], threads=2, progress=False, kind=NoiseKind(jpeg_quality=90),
                    auto_models=MODELS, x8=("blind-unet-int8", "auto"))
    score = {r.method: r.psnr for r in rows}
    assert score["auto"] == score["blind-unet-int8"] > score["prefill-unet"] + 5
    assert score["auto x8"] == score["blind-unet-int8 x8"] != score["auto"]
    rows = evaluate(data, (0.3,), models[:1], methods=[], threads=2, progress=False, auto_models=MODELS)
    assert sent == [("JPEG", 90), ("JPEG", 90), ("PNG", None)]
    assert {r.method: r.psnr for r in rows}["auto"] > 30  # exact salt-and-pepper: the default's output
    rows = evaluate(data, (0.1,), [MODELS / "jpeg-unet.onnx"], methods=[], threads=2, progress=False,
                    kind=NoiseKind(jpeg_quality=50), auto_models=MODELS)
    assert sent[-1] == ("JPEG", 50)
    assert {r.method: r.psnr for r in rows}["auto"] == {r.method: r.psnr for r in rows}["jpeg-unet"]
