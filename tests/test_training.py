"""A tiny real training run, then export to ONNX with the Keras/onnxruntime parity check."""

import json
import shlex
import shutil

import numpy as np
import pytest
from PIL import Image

from app.cards import file_sha256
from app.imaging import DecodedImage
from app.inference import Denoiser
from training.export import export
from training.fit import FitConfig, Run, fit
from training.reproduce import reproduce


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, astronaut, camera):
    """Five small photos, colour and grey, in nested folders and several formats."""
    root = tmp_path_factory.mktemp("photos")
    (root / "sub").mkdir()
    Image.fromarray(astronaut).save(root / "a.png")
    Image.fromarray(astronaut[:, ::-1]).save(root / "sub" / "b.jpg", quality=95)
    Image.fromarray(camera).save(root / "c.png")
    Image.fromarray(camera.T).save(root / "sub" / "d.bmp")
    Image.fromarray(astronaut[::-1]).save(root / "e.webp", lossless=True)
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.mark.parametrize("arch", ["seed-autoencoder", "prefill-unet", "blind-unet", "jpeg-unet"])
def test_tiny_fit_then_export_with_parity(arch, photo_folder, tmp_path):
    run = tmp_path / "run"
    # jpeg-unet's validation holds a clean JPEG that it starts by returning exactly (capped at 60 dB): three
    # steps at its recipe's rate moved that case by 9 dB and the guard rolled the epoch back.
    config = FitConfig(arch=arch, data=[str(photo_folder)], out=str(run), epochs=2, steps=3, patch=64, batch=4,
                       seed=0, threads=2, lr=1e-6 if arch == "jpeg-unet" else None)
    state = fit(config, log=lambda *_: None)
    assert state.epochs_done == 2 and state.train_files == 4 and state.val_files == 1
    assert len(state.history) == 2 and all(np.isfinite(h["loss"]) for h in state.history)
    assert (run / "best.weights.h5").exists() and (run / "train.log").read_text().count("epoch") == 2
    if arch == "jpeg-unet":  # validated on photos saved as JPEG only (its recipe's `validation_cases`)
        from training.data import SAVED_VALIDATION

        assert list(state.history[-1]["val_psnr_by_density"]) == [case[0] for case in SAVED_VALIDATION]

    card = export(run, "tiny", tmp_path / "models", command="test")
    onnx_path = tmp_path / "models" / "tiny.onnx"
    assert card["onnx_parity_max_abs_error"] <= 1e-4
    assert card["sha256"] == file_sha256(onnx_path)
    assert card["training"]["epochs"] == 2 and card["opset"] == 17
    card_path = tmp_path / "models" / "tiny.json"
    saved = json.loads(card_path.read_text())
    assert saved["parameters"] == card["parameters"]

    # Scores survive a re-export of the same weights, and are dropped when the weights differ.
    scores = {"photos": {"per-channel": {"0.1": {"psnr": 40.0}}}}
    card_path.write_text(json.dumps({**saved, "scores": scores, "speed": {"rows": []}}))
    assert export(run, "tiny", tmp_path / "models", command="test")["scores"] == scores
    card_path.write_text(json.dumps({**saved, "weights_sha256": "0" * 64, "scores": scores, "speed": {"rows": []}}))
    again = export(run, "tiny", tmp_path / "models", command="test")
    assert again["scores"] == {} and again["speed"] == {}
    # ... and when the same weights were built into another graph (a dead zone changed, say): the file it
    # replaces answers otherwise (a shipped model stands in for that file here).
    from tests.conftest import MODELS

    card_path.write_text(json.dumps({**saved, "scores": scores, "speed": {"rows": []}}))
    onnx_path.write_bytes((MODELS / "prefill-unet.onnx").read_bytes())
    assert export(run, "tiny", tmp_path / "models", command="test")["scores"] == {}

    denoiser = Denoiser(onnx_path, threads=2)
    assert denoiser.input_names[0] == "image" and denoiser.output_name == "restored"
    # jpeg-unet was trained on JPEG grids at its input's corner: the file says so, and the service lines
    # uploads up with it (app.inference.Denoiser.jpeg_grid)
    assert denoiser.jpeg_grid == card.get("jpeg_grid", 0) == (8 if arch == "jpeg-unet" else 0)
    out = denoiser.denoise(DecodedImage(np.random.default_rng(0).integers(0, 256, (37, 45, 3), dtype=np.uint8)))
    assert out.image.pixels.shape == (37, 45, 3)


def test_validation_reports_each_group_of_photos_apart(photo_folder, tmp_path):
    """`Run.validate` scores each group of photos (`validation_layouts`) on its own patches: a patch reported
    as grey with per-pixel noise is grey, and each group's figure is the mean of its patches' PSNR."""
    from app.quality import psnr, to_uint8
    from training.data import is_grey
    from training.fit import Run

    config = FitConfig(arch="blind-unet", data=[str(photo_folder)], out=str(tmp_path), patch=64, val_fraction=0.8,
                       seed=0, threads=2).resolved()
    run = Run(config, log=lambda *_: None)
    run.load_photos(threads=2)
    assert len(run.val_groups) == len(run.val_noisy) and {"grey/pixel", "colour/channel"} <= set(run.val_groups)
    noisy = [to_uint8(p) for p in run.val_noisy]
    for k, group in enumerate(run.val_groups):
        if "jpeg" not in run.val_cases[k % len(run.val_cases)]:  # a JPEG save may round channels apart
            assert is_grey(noisy[k]) == (group == "grey/pixel"), (k, group)

    run.model = lambda batch, training=False: batch  # returns its input: the noisy patches' own PSNR
    val = run.validate()
    for group, value in val.by_group.items():
        mine = [min(psnr(run.val_clean[k], noisy[k]), 60.0) for k, g in enumerate(run.val_groups) if g == group]
        assert value == pytest.approx(np.mean(mine))
    assert val.mean == pytest.approx(np.mean(list(val.by_case.values())))
    assert len({round(v, 3) for v in val.by_group.values()}) == len(val.by_group)  # the groups differ
    assert all(group in val.describe() for group in val.by_group)


def test_fit_resumes_where_it_stopped(photo_folder, tmp_path):
    config = FitConfig(arch="prefill-unet", data=[str(photo_folder)], out=str(tmp_path), epochs=1, steps=2, patch=64,
                       batch=2, seed=1, threads=2)
    fit(config, log=lambda *_: None)
    with pytest.raises(ValueError, match="other settings"):
        fit(FitConfig(**{**config.__dict__, "batch": 3}), log=lambda *_: None)
    lines: list[str] = []
    state = fit(config, log=lines.append)  # same command again: nothing left to do
    assert state.epochs_done == 1 and not any("epoch 1:" in line for line in lines)


def test_a_learning_rate_of_zero_is_kept():
    """`--lr 0` once fell back to the recipe's rate (0 is falsy), so a probe meant to leave the weights as
    they were trained them instead (stop 33's dry run)."""
    recipe_rate = FitConfig(arch="jpeg-unet", data=[], out="x").resolved().lr
    assert recipe_rate > 0 and FitConfig(arch="jpeg-unet", data=[], out="x", lr=0.0).resolved().lr == 0.0
    assert FitConfig(arch="jpeg-unet", data=[], out="x", lr=1e-4).resolved().lr == 1e-4


def test_a_run_stopped_part_of_the_way_keeps_its_schedule_and_resumes_to_its_end(photo_folder, tmp_path):
    """`--stop-after`: what a card records for a run a GPU trip's time limit cut off. Its rates are those of
    the whole schedule, its command says where it stopped, and the same run later finishes the schedule."""
    from training.export import _fit_command

    config = FitConfig(arch="prefill-unet", data=[str(photo_folder)], out=str(tmp_path), epochs=3, steps=2, patch=64,
                       batch=2, seed=1, threads=2, stop_after=1)
    lines: list[str] = []
    state = fit(config, log=lines.append)
    assert state.epochs_done == 1 and any("stopped after epoch 1 of 3" in line for line in lines)
    assert state.config["stop_after"] == 1 and "--epochs 3" in _fit_command(state.config)
    assert _fit_command(state.config).endswith("--stop-after 1")
    def lr(cfg: FitConfig) -> float:  # step 5's rate: the whole schedule's, not a 1-epoch one's
        fresh = FitConfig(**{**cfg.__dict__, "out": str(tmp_path / f"lr-{cfg.epochs}-{cfg.stop_after}")})
        return Run(fresh.resolved(), log=lambda *_: None).learning_rate(5)

    assert lr(config) == lr(FitConfig(**{**config.__dict__, "stop_after": 0})) != lr(
        FitConfig(**{**config.__dict__, "epochs": 1, "stop_after": 0}))
    with pytest.raises(ValueError, match="other settings"):
        fit(FitConfig(**{**config.__dict__, "epochs": 4, "stop_after": 0}), log=lambda *_: None)
    state = fit(FitConfig(**{**config.__dict__, "stop_after": 0}), log=lambda *_: None)
    assert state.epochs_done == 3 and state.config["stop_after"] == 0


def test_fine_tune_from_an_exported_model_records_the_chain(photo_folder, tmp_path):
    """--init an exported ONNX model: Keras gets its exact weights back, and the fine-tune's card says
    how to reproduce both stages from the photos (the earlier stage's run folder replaces the .onnx)."""
    from training.architectures import prefill_unet
    from training.export import weights_sha256
    from training.init_weights import load_initial_weights

    first = tmp_path / "first"
    fit(FitConfig(arch="prefill-unet", data=[str(photo_folder)], out=str(first), epochs=1, steps=2, patch=64,
                  batch=2, seed=0, threads=2), log=lambda *_: None)
    base = export(first, "base", tmp_path / "stage1", command="test")

    model = prefill_unet.build()
    load_initial_weights(model, tmp_path / "stage1" / "base.onnx")
    assert weights_sha256(model) == base["weights_sha256"]

    lines: list[str] = []
    second = tmp_path / "second"
    state = fit(FitConfig(arch="prefill-unet", data=[str(photo_folder)], out=str(second), epochs=1, steps=2,
                          patch=64, batch=2, seed=0, threads=2, init=str(tmp_path / "stage1" / "base.onnx"),
                          recipe={"grey_photos_per_pixel": "true", "grey_share": "0"}), log=lines.append)
    assert state.init_weights_sha256 == base["weights_sha256"]
    assert any(line.startswith("started from") for line in lines)

    export_command = shlex.join(["python", "-m", "training", "export", "--run", str(second), "--name", "tuned",
                                 "--out", str(tmp_path / "models")])
    card = export(second, "tuned", tmp_path / "models", command=export_command)
    training = card["training"]
    assert training["recipe"]["grey_photos_per_pixel"] is True and training["recipe"]["grey_share"] == 0.0
    assert training["starts_from"]["weights_sha256"] == base["weights_sha256"]
    assert training["total_seconds"] >= training["seconds"]
    assert training["reproduce"][0] == base["training"]["command"]
    assert f"--init {first}" in training["reproduce"][1] and "--recipe grey_share=0" in training["reproduce"][1]

    # One command remakes it from the photos, in fresh folders: same weights, bit for bit (seeded, CPU).
    again = tmp_path / "again"
    remade = reproduce(tmp_path / "models" / "tuned.json", again, again / "models", log=lambda *_: None)
    assert (again / "first" / "tuned.onnx").exists() and (again / "second" / "best.weights.h5").exists()
    assert remade["weights_sha256"] == card["weights_sha256"]
    assert remade["training"]["reproduce"][1].count(str(again / "first")) == 1

    # Shipped as models ship: exported over the very file it started from (--init models/X.onnx). Exported
    # again from the same run (a graph change, stop 34), the stage before is the replaced card's own.
    import shutil

    for suffix in (".onnx", ".json"):
        shutil.copy(tmp_path / "models" / f"tuned{suffix}", tmp_path / "stage1" / f"base{suffix}")
    shutil.copy(tmp_path / "models" / "tuned.json", tmp_path / "stage1" / "tuned.json")
    again_card = export(second, "tuned", tmp_path / "stage1", command=export_command)
    assert again_card["training"]["starts_from"] == training["starts_from"]
    assert again_card["scores"] == card["scores"] and again_card["weights_sha256"] == card["weights_sha256"]


def test_init_refuses_an_onnx_model_of_another_architecture(tmp_path):
    from tests.conftest import MODELS
    from training.architectures import prefill_unet
    from training.init_weights import load_initial_weights

    with pytest.raises(ValueError, match="cannot load|another architecture"):
        load_initial_weights(prefill_unet.build(), MODELS / "seed-autoencoder.onnx")
    with pytest.raises(ValueError, match="run folder"):
        load_initial_weights(prefill_unet.build(), tmp_path / "weights.bin")


def test_init_takes_the_cards_weights_where_this_machines_outputs_differ(tmp_path, monkeypatch):
    """On a GPU, JAX's float32 convolutions may run in TF32, and the first GPU trip's `fit --init` refused
    both shipped models it started from (outputs 2.0e-3 and 0.54 from onnxruntime's). Weights bit for bit
    the card's fingerprint are still accepted; other weights with such outputs are not."""
    import training.export
    from tests.conftest import MODELS
    from training.architectures import prefill_unet
    from training.init_weights import load_initial_weights

    monkeypatch.setattr(training.export, "parity", lambda *args, **kwargs: 0.5)
    model = prefill_unet.build()
    load_initial_weights(model, MODELS / "prefill-unet.onnx")
    card = json.loads((MODELS / "prefill-unet.json").read_text())
    assert training.export.weights_sha256(model) == card["weights_sha256"]

    shutil.copy(MODELS / "prefill-unet.onnx", tmp_path / "other.onnx")
    (tmp_path / "other.json").write_text(json.dumps({**card, "weights_sha256": "0" * 64}))
    with pytest.raises(ValueError, match="do not reproduce it"):
        load_initial_weights(prefill_unet.build(), tmp_path / "other.onnx")
    (tmp_path / "other.json").unlink()  # no card: nothing to vouch for the weights
    with pytest.raises(ValueError, match="do not reproduce it"):
        load_initial_weights(prefill_unet.build(), tmp_path / "other.onnx")


def test_a_gpu_stages_command_keeps_its_backend_and_sampler():
    """A card's `reproduce` must run a GPU stage as it ran: JAX, batches drawn in the jitted step."""
    from training.export import _fit_command

    config = {"arch": "jpeg-unet", "data": ["../shared/data/CBSD432"], "out": "runs/x", "epochs": 6,
              "steps": 3000, "patch": 128, "batch": 64, "lr": 2e-4, "seed": 0, "val_fraction": 0.2}
    assert "--sampler" not in _fit_command(config) and "--backend" not in _fit_command(config)
    command = _fit_command({**config, "backend": "jax", "sampler": "device"})
    assert command.endswith("--backend jax --sampler device")


@pytest.mark.parametrize("scale", [1.0, 0.1])
def test_layers_outside_the_full_rate_prefix_step_at_the_scaled_rate(scale):
    """`Recipe.full_rate_prefix` / `other_lr_scale`: one Adam step with equal gradients moves a layer
    outside the prefix `scale` times as far as one inside it (Adam's first step is its rate)."""
    import keras

    from training.fit import make_optimizer

    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(4, name="slow_dense")(keras.layers.Dense(4, name="detector_dense")(inputs))
    model = keras.Model(inputs, outputs)
    optimizer = make_optimizer(model, 1e-2, 1e9, "detector", scale)
    before = [np.array(v.numpy()) for v in model.trainable_variables]
    optimizer.apply([keras.ops.ones_like(v) for v in model.trainable_variables], model.trainable_variables)
    moved = {v.path: float(np.abs(v.numpy() - b).mean()) for v, b in zip(model.trainable_variables, before)}
    assert moved["detector_dense/kernel"] == pytest.approx(1e-2, rel=1e-3)
    assert moved["slow_dense/kernel"] == pytest.approx(1e-2 * scale, rel=1e-3)
