"""The command line: folders in, mirrored folder out, per-file errors, exit codes."""

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from app.quality import psnr


def test_corrupt_then_denoise_a_folder_tree(tmp_path, astronaut, camera, capsys):
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    Image.fromarray(astronaut).save(photos / "a.png")
    Image.fromarray(camera).save(photos / "sub" / "c.jpg", quality=95)
    noisy_dir, clean_dir = tmp_path / "noisy", tmp_path / "clean"

    assert main(["corrupt", str(photos), "-o", str(noisy_dir), "-d", "0.3", "--seed", "1", "-q"]) == 0
    assert sorted(p.relative_to(noisy_dir).as_posix() for p in noisy_dir.rglob("*.png")) == ["a.png", "sub/c.png"]
    assert main(["denoise", str(noisy_dir), "-o", str(clean_dir), "-q", "--threads", "2"]) == 0
    restored = np.asarray(Image.open(clean_dir / "a.png"))
    noisy = np.asarray(Image.open(noisy_dir / "a.png"))
    assert restored.shape == astronaut.shape and psnr(astronaut, restored) > psnr(astronaut, noisy) + 15
    assert Image.open(clean_dir / "sub" / "c.png").mode == "L"
    assert "2 written" in capsys.readouterr().err

    # --ensemble 8: the same files, a little better
    assert main(["denoise", str(noisy_dir / "a.png"), "-o", str(tmp_path / "x8"), "-q", "--ensemble", "8"]) == 0
    assert psnr(astronaut, np.asarray(Image.open(tmp_path / "x8" / "a.png"))) > psnr(astronaut, restored)
    with pytest.raises(SystemExit) as refused:
        main(["denoise", str(noisy_dir), "-o", str(tmp_path / "x2"), "--ensemble", "2"])
    assert refused.value.code == 2


def test_failures_are_reported_and_the_batch_goes_on(tmp_path, camera, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(camera).save(photos / "good.png")
    (photos / "broken.png").write_bytes(b"not a png at all")
    out = tmp_path / "out"
    status = main(["denoise", str(photos), str(tmp_path / "missing.png"), "-o", str(out), "-q", "--threads", "2"])
    err = capsys.readouterr().err
    assert status == 1
    assert (out / "good.png").exists() and not (out / "broken.png").exists()
    assert "broken.png" in err and "missing.png" in err and "1 written" in err and "2 failed" in err


@pytest.mark.parametrize("option", [["--tile-size", "10"], ["--threads", "-1"], ["--max-pixels", "0"]])
def test_bad_settings_are_a_usage_error_not_a_traceback(tmp_path, camera, capsys, option):
    Image.fromarray(camera).save(tmp_path / "c.png")
    assert main(["denoise", str(tmp_path / "c.png"), "-o", str(tmp_path / "o"), "-q", *option]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and len(err.splitlines()) == 1


def test_unknown_model_is_a_usage_error(tmp_path, camera):
    Image.fromarray(camera).save(tmp_path / "c.png")
    assert main(["denoise", str(tmp_path / "c.png"), "-o", str(tmp_path / "o"), "-m", "nope", "-q"]) == 2


def test_corrupt_options_reach_the_noise(tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    out = tmp_path / "out"
    assert main(["corrupt", str(tmp_path / "a.png"), "-o", str(out), "-q", "-d", "0.4", "--salt-ratio", "1",
                 "--per-pixel", "--seed", "3", "--format", "tiff"]) == 0
    noisy = np.asarray(Image.open(out / "a.tiff"))
    hit = (noisy != astronaut).any(axis=2)
    assert abs(hit.mean() - 0.4) < 0.03
    assert np.all(noisy[hit] == 255)  # salt only, whole pixels
    with pytest.raises(SystemExit):  # lossless formats only: JPEG would smear the impulses
        main(["corrupt", str(tmp_path / "a.png"), "-o", str(out), "--format", "jpeg"])


def test_serve_starts_the_service(tmp_path):
    import httpx
    from serverprocess import running_server

    with running_server(["image-noise-removal", "serve", "--host", "127.0.0.1", "--port", "8000"]) as server:
        body = httpx.get(f"{server.base}/models", timeout=10).json()
        assert body["default"] in {m["name"] for m in body["models"]} and len(body["models"]) >= 2


def test_corrupt_noise_kinds_on_the_command_line(tmp_path, astronaut):
    from app.noise import NoiseSpec, add_noise

    Image.fromarray(astronaut).save(tmp_path / "a.png")
    assert main(["corrupt", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "-q", "--noise", "impulse-range",
                 "--spread", "12", "-d", "0.3", "--webp-quality", "70", "--seed", "2"]) == 0
    expected = add_noise(astronaut, NoiseSpec("impulse-range", 0.3, spread=12, webp_quality=70), seed=2)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o" / "a.png")), expected)
    assert main(["corrupt", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--spread", "999"]) == 2


def test_denoise_says_which_model_ran_and_float_turns_the_int8_twin_off(tmp_path, astronaut, capsys):
    import onnxruntime as ort

    from app.noise import salt_and_pepper

    Image.fromarray(salt_and_pepper(astronaut[:64, :64], 0.3, seed=2)).save(tmp_path / "n.png")
    cpu = "CUDAExecutionProvider" not in ort.get_available_providers()  # CUDA runs float (app/registry.py)
    outputs = {}
    for flags, expected in (([], "prefill-unet-int8 (int8" if cpu else "prefill-unet (float32"),
                            (["--float"], "prefill-unet (float32")):
        out = tmp_path / ("float" if flags else "default")
        assert main(["denoise", str(tmp_path / "n.png"), "-o", str(out), "--threads", "2", *flags]) == 0
        assert f"model: {expected}" in capsys.readouterr().err
        outputs[out.name] = (out / "n.png").read_bytes()
    assert (outputs["default"] != outputs["float"]) == cpu


def test_denoise_notes_impulses_the_model_left_alone(tmp_path, astronaut, capsys):
    """The command line says what X-Try-Model says, per file: noise saved as JPEG passes through the switching
    default, and its pixels carry the JPEG save in a PNG too (app.jpeg_grid); exact salt-and-pepper gets no note."""
    from app.noise import NoiseSpec, add_noise, salt_and_pepper

    Image.fromarray(add_noise(astronaut, NoiseSpec(density=0.1, jpeg_quality=90), seed=4)).save(tmp_path / "jpeg.png")
    Image.fromarray(salt_and_pepper(astronaut, 0.1, seed=4)).save(tmp_path / "exact.png")
    assert main(["denoise", str(tmp_path / "jpeg.png"), str(tmp_path / "exact.png"), "-o", str(tmp_path / "o"),
                 "-q", "--threads", "2"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "jpeg.png" in notes[0] and notes[0].endswith("try --model jpeg-unet"), notes


def test_denoise_model_auto_writes_what_the_service_sends_and_says_which_models_ran(client, tmp_path, astronaut, capsys):
    """`--model auto` is the service's model=auto (app.pipeline.denoise_auto): the same bytes, and per file
    the models that ran; a noisy JPEG gets jpeg-unet's output, and no note (there is nothing left to try)."""
    from app.noise import salt_and_pepper

    Image.fromarray(salt_and_pepper(astronaut, 0.1, seed=5)).save(tmp_path / "saved.jpg", quality=90)
    reply = client.post("/denoise", files={"file": ("saved.jpg", (tmp_path / "saved.jpg").read_bytes())},
                        data={"model": "auto"})
    assert reply.status_code == 200 and reply.headers["x-model"] == "jpeg-unet"
    assert main(["denoise", str(tmp_path / "saved.jpg"), "-o", str(tmp_path / "o"), "--model", "auto",
                 "--threads", "2"]) == 0
    assert (tmp_path / "o" / "saved.png").read_bytes() == reply.content
    err = capsys.readouterr().err
    # the default would leave this JPEG's impulses alone whatever it did (too few values at 0 or 255:
    # app.pipeline.EXTREMES_ONLY), so jpeg-unet ran alone
    assert "model: auto, the default prefill-unet" in err and "saved.jpg: jpeg-unet\n" in err
    assert "then" not in err and "note:" not in err
