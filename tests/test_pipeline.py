"""app.pipeline: the one path from uploaded bytes to a result, shared by POST /denoise and the CLI."""

import numpy as np
import pytest

from app import pipeline
from app.cli import main
from app.errors import ImageTooLarge, InvalidParameter
from app.imaging import DecodedImage
from app.noise import NoiseSpec, add_noise, impulse_fraction, salt_and_pepper
from tests.conftest import png_bytes


@pytest.mark.parametrize("ensemble", [1, 8])
def test_route_and_command_line_give_identical_bytes(client, tmp_path, astronaut, ensemble):
    upload = png_bytes(salt_and_pepper(astronaut[:64, :96], 0.4, seed=3))
    (tmp_path / "in.png").write_bytes(upload)
    reply = client.post("/denoise", files={"file": ("in.png", upload)}, data={"ensemble": str(ensemble)})
    assert reply.status_code == 200 and reply.headers["x-ensemble"] == str(ensemble)
    assert main(["denoise", str(tmp_path / "in.png"), "-o", str(tmp_path / "out"), "-q", "--threads", "2",
                 "--ensemble", str(ensemble)]) == 0
    assert (tmp_path / "out" / "in.png").read_bytes() == reply.content


def test_corrupt_route_and_command_line_give_identical_bytes(client, tmp_path, camera):
    upload = png_bytes(camera)
    (tmp_path / "in.png").write_bytes(upload)
    reply = client.post("/corrupt", files={"file": ("in.png", upload)},
                        data={"density": "0.3", "salt_ratio": "0.8", "seed": "7"})
    assert main(["corrupt", str(tmp_path / "in.png"), "-o", str(tmp_path / "out"), "-q", "-d", "0.3",
                 "--salt-ratio", "0.8", "--seed", "7"]) == 0
    assert (tmp_path / "out" / "in.png").read_bytes() == reply.content


def test_an_ensemble_shares_the_pixel_budget_in_the_service_and_the_command_line(client, tmp_path, camera, capsys):
    """128x160 = 20,480 pixels: within a budget of 20,480, over 20,480 / 8 for the ensemble."""
    upload = png_bytes(camera)
    denoiser = client.app.state.services.registry.get(None).denoiser
    assert pipeline.denoise(upload, denoiser, camera.size).image.pixels.shape == camera.shape
    with pytest.raises(ImageTooLarge, match="max_pixels / 8"):
        pipeline.denoise(upload, denoiser, camera.size, pipeline.DenoiseOptions(ensemble=8))
    (tmp_path / "c.png").write_bytes(upload)
    args = ["denoise", str(tmp_path / "c.png"), "-o", str(tmp_path / "o"), "-q", "--max-pixels", str(camera.size)]
    assert main(args) == 0
    assert main(args + ["--ensemble", "8"]) == 1
    assert "max_pixels / 8" in capsys.readouterr().err


def test_options_are_checked_before_any_work():
    with pytest.raises(InvalidParameter, match="ensemble must be one of 1, 8"):
        pipeline.DenoiseOptions(ensemble=4)
    assert pipeline.DenoiseOptions(ensemble=8).pixel_budget(80) == 10


def test_result_carries_model_time_impulse_fraction_and_metadata(client, astronaut):
    noisy = salt_and_pepper(astronaut[:64, :64], 0.25, seed=1)
    alpha = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64).astype(np.uint8)
    upload = png_bytes(np.dstack([noisy, alpha]))
    denoiser = client.app.state.services.registry.get(None).denoiser
    result = pipeline.denoise(upload, denoiser, 10**6)
    assert result.seconds > 0 and result.pixels == 64 * 64
    assert result.impulse_fraction == pytest.approx(impulse_fraction(noisy))
    assert 0.2 < result.impulse_fraction < 0.35  # density 0.25
    np.testing.assert_array_equal(result.image.alpha, alpha)


def test_corrupt_keeps_alpha_and_is_seeded(camera):
    alpha = np.full(camera.shape, 77, np.uint8)
    upload = png_bytes(np.dstack([camera, alpha]))
    spec = NoiseSpec(density=0.5, salt_ratio=1.0, per_channel=True)
    first, second = pipeline.corrupt(upload, 10**6, spec, 4), pipeline.corrupt(upload, 10**6, spec, 4)
    np.testing.assert_array_equal(first.pixels, second.pixels)
    np.testing.assert_array_equal(first.alpha, alpha)
    changed = first.pixels != camera
    assert changed.any() and set(np.unique(first.pixels[changed])) <= {255}  # salt only


def test_noise_map_from_the_route_and_the_command_line_are_the_same_bytes(client, tmp_path, camera, capsys):
    upload = png_bytes(salt_and_pepper(camera, 0.3, seed=9))
    (tmp_path / "in.png").write_bytes(upload)
    reply = client.post("/denoise", files={"file": ("in.png", upload)}, data={"output": "noise-map"})
    assert reply.status_code == 200
    args = ["denoise", str(tmp_path / "in.png"), "-o", str(tmp_path / "out"), "-q", "--threads", "2", "--noise-map"]
    assert main(args) == 0
    assert (tmp_path / "out" / "in.png").read_bytes() == reply.content
    assert main(args + ["--format", "jpeg"]) == 2 and "lossless" in capsys.readouterr().err


def test_changed_values_counts_in_bands_as_in_one_piece(monkeypatch):
    rng = np.random.default_rng(0)
    before = rng.integers(0, 256, (37, 11, 3), dtype=np.uint8)
    after = before.copy()
    after[rng.random(before.shape) < 0.1] ^= 1
    whole_count, whole_map = pipeline.changed_values(before, after, with_map=True)
    monkeypatch.setattr(pipeline, "CHANGED_BAND_ROWS", 4)
    count, found = pipeline.changed_values(before, after, with_map=True)
    assert count == whole_count == int((before != after).sum())
    np.testing.assert_array_equal(found, whole_map)
    np.testing.assert_array_equal(found, 255 * (before != after).any(axis=2))
    grey_count, grey_map = pipeline.changed_values(before[..., 0], after[..., 0], with_map=True)
    assert grey_count == int((before[..., 0] != after[..., 0]).sum()) and grey_map.shape == (37, 11)
    assert pipeline.changed_values(before, after)[1] is None


@pytest.mark.parametrize(("impulses", "changed", "used", "expected"), [
    (0.20, 0.03, "prefill-unet", "blind-unet"),  # noise the switching default cannot see
    (0.20, 0.03, "prefill-unet-int8", "blind-unet"),
    (0.05, 0.0249, "prefill-unet", "blind-unet"),  # at the bounds: 5% estimated, under half of it changed
    (0.05, 0.025, "prefill-unet", None),  # half changed: the model did take most of them
    (0.0499, 0.0, "prefill-unet", None),  # below 5%: a clean photo's texture
    (0.30, 0.29, "prefill-unet", None),  # exact salt-and-pepper: restored
    (0.20, 0.03, "blind-unet", None),  # never suggest the model that ran
])
def test_model_to_try_only_when_most_impulses_were_left_alone(impulses, changed, used, expected):
    image = DecodedImage(np.zeros((4, 4, 3), np.uint8), source_format="PNG")
    result = pipeline.Denoised(image=image, seconds=0.0, impulse_fraction=impulses, changed_fraction=changed)
    assert pipeline.model_to_try(result, used, {"prefill-unet", "prefill-unet-int8", "blind-unet"}) == expected
    assert pipeline.model_to_try(result, used, {"prefill-unet", "prefill-unet-int8"}) is None  # not served: no hint
    # Not a JPEG file: the model for saved photos is never the suggestion.
    assert pipeline.model_to_try(result, used, {"prefill-unet", "blind-unet", "jpeg-unet"}) == expected


@pytest.mark.parametrize(("source_format", "used", "served", "expected"), [
    ("JPEG", "prefill-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "jpeg-unet"),
    ("JPEG grey", "prefill-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "blind-unet"),  # better on grey
    ("MPO", "prefill-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "jpeg-unet"),  # a camera JPEG
    ("JPEG", "blind-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "jpeg-unet"),
    ("JPEG", "jpeg-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "blind-unet"),  # never the one that ran
    ("JPEG", "prefill-unet", {"prefill-unet", "blind-unet"}, "blind-unet"),  # not served: the next one
    ("WEBP", "prefill-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "blind-unet"),
    ("PNG jpeg-pixels", "prefill-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "jpeg-unet"),  # saved, then PNG
    ("PNG jpeg-pixels grey", "prefill-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "blind-unet"),
])
def test_a_jpeg_upload_is_pointed_to_the_model_for_saved_photos(source_format, used, served, expected):
    grey = source_format.endswith(" grey")
    image = DecodedImage(np.zeros((4, 4) if grey else (4, 4, 3), np.uint8), source_format=source_format.split()[0])
    result = pipeline.Denoised(image=image, seconds=0.0, impulse_fraction=0.2, changed_fraction=0.01,
                               jpeg_pixels="jpeg-pixels" in source_format)
    assert pipeline.model_to_try(result, used, served) == expected


def test_auto_checks_sends_what_a_user_would(astronaut):
    """scripts/auto_checks.py: a JPEG file whose pixels are the noise module's own save (add_noise with
    jpeg_quality), or a PNG of those pixels; never-saved noise as a PNG."""
    from tests.conftest import load_script

    checks = load_script("auto_checks")
    saved = add_noise(astronaut, NoiseSpec(density=0.1, jpeg_quality=90), seed=3)
    data, sent = checks.upload(astronaut, NoiseSpec(density=0.1), 90, "jpeg", seed=3)
    assert data[:3] == b"\xff\xd8\xff" and np.array_equal(sent, saved)
    data, sent = checks.upload(astronaut, NoiseSpec(density=0.1), 90, "png", seed=3)
    assert data[:4] == b"\x89PNG" and np.array_equal(sent, saved)
    data, sent = checks.upload(astronaut, NoiseSpec("random-valued", 0.2), None, "png", seed=3)
    assert np.array_equal(sent, add_noise(astronaut, NoiseSpec("random-valued", 0.2), seed=3))
