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
    (0.20, 0.03, "blind-unet-int8", None),  # nor the float model of the twin that ran in its place
])
def test_model_to_try_only_when_most_impulses_were_left_alone(impulses, changed, used, expected):
    image = DecodedImage(np.zeros((4, 4, 3), np.uint8), source_format="PNG")
    result = pipeline.Denoised(image=image, seconds=0.0, impulse_fraction=impulses, changed_fraction=changed)
    served = {"prefill-unet", "prefill-unet-int8", "blind-unet", "blind-unet-int8"}
    assert pipeline.model_to_try(result, used, served) == expected
    assert pipeline.model_to_try(result, used, {"prefill-unet", "prefill-unet-int8"}) is None  # not served: no hint
    # Not a JPEG file: the model for saved photos is never the suggestion.
    assert pipeline.model_to_try(result, used, {"prefill-unet", "blind-unet", "jpeg-unet"}) == expected


@pytest.mark.parametrize(("elsewhere", "used", "expected"), [
    (0.05, "prefill-unet", "blind-unet"),  # most extremes changed, yet 5% impulses of other values it cannot take
    (0.05, "prefill-unet-int8", "blind-unet"),
    (0.0499, "prefill-unet", None),  # below 5%: a clean photo's texture, or exact salt-and-pepper's
    (0.05, "blind-unet", None),  # a model that takes impulses of any value is judged by what it changed
])
def test_impulses_away_from_the_extremes_are_left_alone_by_the_default(elsewhere, used, expected):
    image = DecodedImage(np.zeros((4, 4, 3), np.uint8), source_format="PNG")
    result = pipeline.Denoised(image=image, seconds=0.0, impulse_fraction=0.30, changed_fraction=0.20,
                               extremes_only=used.startswith("prefill-unet"), impulses_elsewhere=elsewhere)
    assert pipeline.model_to_try(result, used, {"prefill-unet", "prefill-unet-int8", "blind-unet"}) == expected


def test_a_clipped_photo_with_impulses_of_other_values_goes_to_the_model_for_them(client):
    """A photo with large clipped regions and random-valued impulses: the default cannot take the impulses
    (they are not at 0 or 255), and its output is over 5 dB below blind-unet's. The hint names blind-unet,
    and auto runs it alone. (Until stop 37 the default also took the broken-up clipped regions for salt and
    changed over half of the estimate, which the share rule alone read as "took the impulses"; the impulses
    away from the extremes, `ImpulseEstimate.elsewhere`, said otherwise. Its rule for clipped regions now
    keeps them: it changes under half.)"""
    from skimage import data as skdata

    from app.quality import psnr

    clean = np.clip(np.rint(skdata.astronaut()[::2, ::2] * 1.6), 0, 255).astype(np.uint8)
    upload = png_bytes(add_noise(clean, NoiseSpec("random-valued", 0.2), seed=1))
    registry = client.app.state.services.registry
    default = registry.get(None)
    result = pipeline.denoise(upload, default.denoiser, 10**7)
    assert result.impulses_elsewhere >= pipeline.LEFT_ALONE_ELSEWHERE
    assert pipeline.model_to_try(result, default.name, registry.models) == pipeline.REAL_WORLD_MODEL
    chosen = pipeline.denoise_auto(upload, registry, 10**7)
    assert [name for name, _ in chosen.runs] == [registry.get(pipeline.REAL_WORLD_MODEL).name]  # its twin on the CPU
    assert psnr(clean, chosen.result.image.pixels) > psnr(clean, result.image.pixels) + 5


def test_auto_takes_light_noise_that_the_hint_s_estimate_floor_would_leave(client):
    """Random-valued impulses at 2%: the estimate (2.7%) is under the hint's LEFT_ALONE_MIN_IMPULSES, as a clean
    photo's often is, so the hint names no model. Auto asks at any estimate (AUTO_MIN_IMPULSES) and returns
    blind-unet's output, over 8 dB better than the default's, which left the impulses in. The clean photo
    still comes back as the default returns it: blind-unet barely changes it (KEEP_FIRST_DB). (Until stop 40
    auto returned the default's output for both.)"""
    from skimage import data as skdata

    from app.quality import psnr

    clean = np.ascontiguousarray(skdata.chelsea()[::2, ::2])
    noisy = add_noise(clean, NoiseSpec("random-valued", 0.02), seed=1)
    registry = client.app.state.services.registry
    default = registry.get(None)
    second = registry.get(pipeline.REAL_WORLD_MODEL).name
    left = pipeline.denoise(png_bytes(noisy), default.denoiser, 10**7)
    assert left.impulse_fraction < pipeline.LEFT_ALONE_MIN_IMPULSES
    assert pipeline.model_to_try(left, default.name, registry.models) is None
    chosen = pipeline.denoise_auto(png_bytes(noisy), registry, 10**7)
    assert chosen.model == second and [name for name, _ in chosen.runs] == [second]
    assert psnr(clean, chosen.result.image.pixels) > psnr(clean, left.image.pixels) + 8
    kept = pipeline.denoise_auto(png_bytes(clean), registry, 10**7)
    assert kept.model == default.name and [name for name, _ in kept.runs] == [second, default.name]
    alone = pipeline.denoise(png_bytes(clean), default.denoiser, 10**7)
    assert np.array_equal(kept.result.image.pixels, alone.image.pixels)


def test_auto_sends_a_lossy_webp_file_where_it_sends_a_jpeg_file(client, astronaut):
    """Salt-and-pepper saved as lossy WebP, as a website would serve it: the default is skipped (its impulses
    were smeared by the save) and jpeg-unet runs alone, 5 dB better than blind-unet, which auto ran for such a
    file until stop 40 (`scripts/unseen_checks.py` has the tables)."""
    import io

    from PIL import Image

    from app.quality import psnr

    clean = astronaut[:192, :256]
    buffer = io.BytesIO()
    Image.fromarray(add_noise(clean, NoiseSpec(density=0.2), seed=3)).save(buffer, "WEBP", quality=80)
    registry = client.app.state.services.registry
    chosen = pipeline.denoise_auto(buffer.getvalue(), registry, 10**7)
    assert [name for name, _ in chosen.runs] == [pipeline.SAVED_MODEL] and chosen.model == pipeline.SAVED_MODEL
    blind = pipeline.denoise(buffer.getvalue(), registry.get(pipeline.REAL_WORLD_MODEL).denoiser, 10**7)
    assert psnr(clean, chosen.result.image.pixels) > psnr(clean, blind.image.pixels) + 3


def test_auto_sends_a_grey_photo_saved_as_lossy_webp_to_the_model_for_grey_ones(client):
    """WebP has no grey mode, so a grey photo saved as lossy WebP decodes as colour: it is grey all the same
    (`looks_grey`), and auto runs blind-unet, which does better than jpeg-unet on grey photos (3.7 dB on
    CBSD68's photos made grey: scripts/unseen_checks.py), not the model for colour saves."""
    import io

    from PIL import Image
    from skimage import data as skdata

    from app.quality import psnr

    clean = np.ascontiguousarray(skdata.camera()[::2, ::2])
    buffer = io.BytesIO()
    Image.fromarray(add_noise(clean, NoiseSpec(density=0.2), seed=3)).save(buffer, "WEBP", quality=80)
    registry = client.app.state.services.registry
    chosen = pipeline.denoise_auto(buffer.getvalue(), registry, 10**7)
    second = registry.get(pipeline.REAL_WORLD_MODEL).name
    assert [name for name, _ in chosen.runs] == [second] and chosen.result.image.pixels.ndim == 3
    saved = pipeline.denoise(buffer.getvalue(), registry.get(pipeline.SAVED_MODEL).denoiser, 10**7)
    grey = lambda pixels: np.asarray(Image.fromarray(pixels).convert("L"))  # noqa: E731
    assert psnr(clean, grey(chosen.result.image.pixels)) > psnr(clean, grey(saved.image.pixels)) + 2


@pytest.mark.parametrize(("source_format", "used", "served", "expected"), [
    ("JPEG", "prefill-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "jpeg-unet"),
    ("JPEG grey", "prefill-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "blind-unet"),  # better on grey
    ("MPO", "prefill-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "jpeg-unet"),  # a camera JPEG
    ("JPEG", "blind-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "jpeg-unet"),
    ("JPEG", "jpeg-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "blind-unet"),  # never the one that ran
    ("JPEG", "prefill-unet", {"prefill-unet", "blind-unet"}, "blind-unet"),  # not served: the next one
    ("WEBP", "prefill-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "blind-unet"),  # lossless
    ("WEBP lossy", "prefill-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "jpeg-unet"),  # saved as a JPEG is
    ("PNG jpeg-pixels", "prefill-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "jpeg-unet"),  # saved, then PNG
    ("PNG jpeg-pixels grey", "prefill-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "blind-unet"),
    ("JPEG grey-in-colour", "prefill-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "blind-unet"),  # RGB file
    ("WEBP lossy grey-in-colour", "prefill-unet", {"prefill-unet", "blind-unet", "jpeg-unet"}, "blind-unet"),
])
def test_a_jpeg_upload_is_pointed_to_the_model_for_saved_photos(source_format, used, served, expected):
    """By the file (and `jpeg_pixels`) and by what the photo shows: a grey photo in a colour file (channels
    within one step: an RGB JPEG of a grey photo, or a lossy WebP, which has no grey mode) is grey."""
    stored = source_format.removesuffix(" grey").removesuffix(" grey-in-colour").removesuffix(" jpeg-pixels")
    pixels = np.zeros((4, 4, 3), np.uint8) + np.array([90, 120, 60], np.uint8)  # colour
    if source_format.endswith(" grey"):
        pixels = pixels[..., 0]
    elif source_format.endswith(" grey-in-colour"):
        pixels = pixels[..., :1].repeat(3, axis=2) + np.array([0, 1, 0], np.uint8)  # WebP's chroma rounding
    image = DecodedImage(np.ascontiguousarray(pixels), source_format=stored)
    result = pipeline.Denoised(image=image, seconds=0.0, impulse_fraction=0.2, changed_fraction=0.01,
                               jpeg_pixels="jpeg-pixels" in source_format)
    assert pipeline.model_to_try(result, used, served) == expected


@pytest.mark.parametrize(("source_format", "extremes_only", "impulses", "expected"), [
    ("JPEG", True, 0.30, "blind-unet"),  # a JPEG file: what an exact-only model changed does not count
    ("MPO", True, 0.30, "blind-unet"),
    ("WEBP lossy", True, 0.30, "blind-unet"),
    ("WEBP", True, 0.30, None),  # lossless: as a PNG
    ("JPEG", True, 0.0499, None),  # still not below 5% estimated
    ("PNG", True, 0.30, None),  # not a file saved after its noise: the changed share decides
    ("JPEG", False, 0.30, None),  # a model that restores more than exact values: the changed share decides
])
def test_a_grey_jpeg_file_is_left_alone_by_a_model_that_changes_only_extremes(source_format, extremes_only,
                                                                              impulses, expected):
    """Over half of the estimate changed (16% of 30%), as the default does on a grey JPEG file of dense
    salt-and-pepper whose impulses partly stayed exact."""
    image = DecodedImage(np.zeros((4, 4), np.uint8), source_format=source_format)
    result = pipeline.Denoised(image=image, seconds=0.0, impulse_fraction=impulses, changed_fraction=0.16 * impulses / 0.3,
                               extremes_only=extremes_only)
    used = "prefill-unet" if extremes_only else "jpeg-unet"
    assert pipeline.model_to_try(result, used, {"prefill-unet", "blind-unet", "jpeg-unet"}) == expected


@pytest.mark.parametrize(("quality", "impulses", "expected"), [
    (30, 0.44, "jpeg-unet"),  # below the qualities measured: quality 50's boundary, 0.45
    (50, 0.44, "jpeg-unet"),
    (50, 0.46, "blind-unet"),
    (62, 0.38, "jpeg-unet"),  # between 60 (0.40) and 65 (0.37): 0.388
    (62, 0.39, "blind-unet"),
    (75, 0.23, "jpeg-unet"),
    (75, 0.25, "blind-unet"),
    (84, 0.02, "jpeg-unet"),  # 0.024
    (85, 0.001, "blind-unet"),  # from 85 up, never
    (95, 0.0, "blind-unet"),
    (None, 0.0, "blind-unet"),  # no quality known (a lossy WebP, a PNG)
])
def test_a_grey_jpeg_file_goes_by_its_quality_and_its_estimate(quality, impulses, expected):
    """Stop 42: `jpeg-unet` under the boundary of the file's quality, `blind-unet` above it, for a grey JPEG
    file and a grey photo in an RGB one; a colour JPEG file gets `jpeg-unet` at any quality."""
    served = {"prefill-unet", "blind-unet", "jpeg-unet"}
    for pixels in (np.full((4, 4), 90, np.uint8), np.full((4, 4, 3), 90, np.uint8)):
        image = DecodedImage(pixels, source_format="JPEG" if quality else "WEBP lossy", jpeg_quality=quality)
        assert pipeline.model_for_impulses(image, False, impulses, "prefill-unet", served) == expected
    colour = DecodedImage(np.zeros((4, 4, 3), np.uint8) + np.array([90, 120, 60], np.uint8), source_format="JPEG",
                          jpeg_quality=quality)
    assert pipeline.model_for_impulses(colour, False, impulses, "prefill-unet", served) == "jpeg-unet"


@pytest.mark.parametrize(("quality", "expected"), [(50, pipeline.SAVED_MODEL), (95, pipeline.REAL_WORLD_MODEL)])
def test_auto_on_a_grey_jpeg_file_returns_the_better_model_for_its_quality(client, camera, quality, expected):
    """The cameraman crop with salt-and-pepper 0.1, saved at quality 50 and 95 (estimates 0.18 and 0.11):
    auto runs one model, the one that restores this file better (by 5.1 and 5.6 dB when written)."""
    from app.imaging import encode
    from app.quality import psnr

    data = encode(DecodedImage(add_noise(camera, NoiseSpec(density=0.1), seed=4)), "jpeg", quality)[0]
    registry = client.app.state.services.registry
    chosen = pipeline.denoise_auto(data, registry, 10**7)
    assert [name for name, _ in chosen.runs] == [registry.get(expected).name] and chosen.model == chosen.runs[0][0]
    other = pipeline.SAVED_MODEL if expected == pipeline.REAL_WORLD_MODEL else pipeline.REAL_WORLD_MODEL
    rival = pipeline.denoise(data, registry.get(other).denoiser, 10**7).image.pixels
    assert psnr(camera, chosen.result.image.pixels) > psnr(camera, rival) + 1


def test_auto_and_the_hint_on_a_grey_jpeg_file_of_dense_salt_and_pepper(client, camera):
    """The default changes about half of what the estimate calls impulses in a grey JPEG file of
    salt-and-pepper 0.3 (many impulses stay exact in grey), but restores none of the JPEG's damage around
    them: the hint names blind-unet, and auto runs blind-unet alone and returns its output."""
    from app.imaging import encode

    data = encode(DecodedImage(add_noise(camera, NoiseSpec(density=0.3), seed=2)), "jpeg", 90)[0]
    registry = client.app.state.services.registry
    default = registry.get(None)
    plain = pipeline.denoise(data, default.denoiser, 10**7)
    assert plain.changed_fraction >= pipeline.LEFT_ALONE_SHARE * plain.impulse_fraction  # the old rule: silent
    assert pipeline.model_to_try(plain, default.name, registry.models) == "blind-unet"
    chosen = pipeline.denoise_auto(data, registry, 10**7)
    blind = registry.get("blind-unet")  # on the CPU its int8 twin
    assert [name for name, _ in chosen.runs] == [blind.name] and chosen.model == blind.name
    blind = pipeline.denoise(data, blind.denoiser, 10**7)
    assert np.array_equal(chosen.result.image.pixels, blind.image.pixels)


def test_auto_checks_sends_what_a_user_would(astronaut):
    """scripts/auto_checks.py (and unseen_checks.py, which shares it): the saved file itself, a JPEG or a lossy
    WebP whose pixels are the noise module's own save (add_noise with jpeg_quality or webp_quality), or a PNG of
    those pixels; never-saved noise as a PNG."""
    from app.imaging import LOSSY_WEBP, decode
    from tests.conftest import load_script

    checks = load_script("auto_checks")
    saves = ((NoiseSpec(density=0.1, jpeg_quality=90), "JPEG"), (NoiseSpec(density=0.1, webp_quality=80), LOSSY_WEBP))
    for spec, fmt in saves:
        saved = add_noise(astronaut, spec, seed=3)
        data, sent = checks.upload(astronaut, spec, "file", seed=3)
        assert decode(data, 10**7).source_format == fmt and np.array_equal(sent, saved)
        data, sent = checks.upload(astronaut, spec, "png", seed=3)
        assert data[:4] == b"\x89PNG" and np.array_equal(sent, saved)
    unsaved = NoiseSpec("random-valued", 0.2)
    data, sent = checks.upload(astronaut, unsaved, "file", seed=3)  # no save: a PNG
    assert data[:4] == b"\x89PNG" and np.array_equal(sent, add_noise(astronaut, unsaved, seed=3))


def _every_kind_of_upload(photo: np.ndarray) -> dict[str, np.ndarray]:
    """The photo clean and with each kind of noise, colour and grey, 8 and 16 bit."""
    grey = photo.mean(axis=2).astype(np.uint8)
    out = {}
    for label, spec in (("clean", NoiseSpec(density=0.0)), ("salt-pepper", NoiseSpec(density=0.3)),
                        ("near-extreme", NoiseSpec("impulse-range", 0.3)), ("random", NoiseSpec("random-valued", 0.3)),
                        ("saved", NoiseSpec(density=0.2, jpeg_quality=75))):
        out[label] = add_noise(photo, spec, seed=1)
        out[label + " grey"] = add_noise(grey, spec, seed=2)
        if spec.jpeg_quality is None:
            out[label + " 16-bit"] = add_noise(photo.astype(np.uint16) * 257, spec, seed=3)
    return out


@pytest.mark.parametrize("name", ["prefill-unet", "prefill-unet-int8"])
@pytest.mark.parametrize("ensemble", [1, 8])
def test_the_extremes_only_models_change_nothing_but_exact_extremes(client, astronaut, name, ensemble):
    """What lets model=auto skip the default's run (app.pipeline.EXTREMES_ONLY): every value the shipped
    default or its int8 twin changes was exactly 0 or the maximum, on every kind of noise. And they do
    change values: the check is not met by a model that returns everything unchanged."""
    loaded = client.app.state.services.registry.models[name]
    assert loaded.denoiser.architecture in pipeline.EXTREMES_ONLY
    for label, pixels in _every_kind_of_upload(astronaut[:64, :96]).items():
        out = pipeline.denoise_image(DecodedImage(pixels), loaded.denoiser, pipeline.DenoiseOptions(ensemble=ensemble))
        changed = out.image.pixels != pixels
        top = np.iinfo(pixels.dtype).max
        assert np.all((pixels[changed] == 0) | (pixels[changed] == top)), label
        if label.startswith("salt-pepper"):
            assert changed.mean() > 0.2, label
        assert out.changed_fraction <= pipeline.extremes_fraction(pixels), label


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_psnr_away_from_extremes_bounds_the_psnr_against_any_extremes_only_output(dtype):
    """What lets auto skip the default's run and still choose as the default-first order does (KEEP_FIRST_DB):
    whatever an EXTREMES_ONLY model puts at the upload's exact 0 and maximum values, the second model's output
    is no closer to it than `psnr_away_from_extremes` says. Changes at the extremes alone count for nothing;
    changes elsewhere count as PSNR counts them, over every value. Bands of rows give the whole image's sum."""
    from app.quality import psnr

    rng = np.random.default_rng(0)
    top = np.iinfo(dtype).max
    rows = pipeline.CHANGED_BAND_ROWS + 7  # more than one band
    upload = rng.integers(0, top, (rows, 9, 3), dtype=np.int64).astype(dtype)
    upload[rng.random(upload.shape) < 0.2] = 0
    upload[rng.random(upload.shape) < 0.2] = top
    extreme = (upload == 0) | (upload == top)
    output = rng.integers(0, top, upload.shape, dtype=np.int64).astype(dtype)
    bound = pipeline.psnr_away_from_extremes(upload, output)
    assert bound == pytest.approx(psnr(upload, np.where(extreme, upload, output), top), abs=1e-9)
    for seed in range(5):  # any values at the extremes, the rest kept bit for bit
        kept = np.where(extreme, np.random.default_rng(seed).integers(0, top, upload.shape), upload).astype(dtype)
        assert psnr(kept, output, top) <= bound + 1e-9
    assert pipeline.psnr_away_from_extremes(upload, np.where(extreme, output, upload)) == float("inf")


def test_auto_keeps_the_default_s_output_on_light_salt_and_pepper(client):
    """Exact salt-and-pepper at 1%: texture lifts the impulse estimate so far over the 1% that the default seems
    to have left most impulses alone, and auto runs blind-unet. Both restore the same impulses, the default
    better (on CBSD68's 68 photos 0.3-1.9 dB at densities 0.005-0.05: `python scripts/unseen_checks.py
    --light`), so their outputs nearly agree (KEEP_FIRST_DB) and auto returns the default's, byte for byte. Until
    stop 41 auto compared blind-unet's output with the upload, which the impulses keep far apart, and returned
    blind-unet's. Random-valued impulses at 1%, which the default cannot take, still get blind-unet's."""
    from skimage import data as skdata

    from app.quality import psnr

    clean = np.ascontiguousarray(skdata.chelsea()[::2, ::2])
    registry = client.app.state.services.registry
    default = registry.get(None)
    second = registry.get(pipeline.REAL_WORLD_MODEL).name
    noisy = add_noise(clean, NoiseSpec(density=0.01), seed=1)
    light = png_bytes(noisy)
    alone = pipeline.denoise(light, default.denoiser, 10**7)
    assert alone.leaves_impulses(pipeline.AUTO_MIN_IMPULSES)  # the rule fires: the second model runs
    chosen = pipeline.denoise_auto(light, registry, 10**7)
    assert sorted(name for name, _ in chosen.runs) == sorted([default.name, second]) and chosen.model == default.name
    assert np.array_equal(chosen.result.image.pixels, alone.image.pixels)
    blind = pipeline.denoise(light, registry.get(second).denoiser, 10**7)
    assert psnr(clean, alone.image.pixels) > psnr(clean, blind.image.pixels)
    assert psnr(noisy, blind.image.pixels) < pipeline.KEEP_FIRST_DB  # the old rule kept blind-unet's output
    assert psnr(noisy, alone.image.pixels) < pipeline.KEEP_FIRST_DB  # the default did take the impulses
    random = pipeline.denoise_auto(png_bytes(add_noise(clean, NoiseSpec("random-valued", 0.01), seed=1)), registry,
                                   10**7)
    assert random.model == second


def test_other_models_are_not_taken_for_extremes_only(client):
    models = client.app.state.services.registry.models
    assert {name for name, loaded in models.items() if loaded.denoiser.architecture in pipeline.EXTREMES_ONLY} == {
        "prefill-unet", "prefill-unet-int8"}


def test_auto_returns_what_the_default_first_order_returns(client, astronaut, monkeypatch):
    """Skipping the default's run changes which models run, never the result: each upload gives the same
    bytes and the same model with the skip as with the default always run first (the skip turned off, the
    rule for choosing as it is), and the default runs where (and only where) auto needs it."""
    from skimage import data as skdata

    from app.imaging import encode

    registry = client.app.state.services.registry
    default = registry.get(None).name
    photo = astronaut[:96, :128]
    uploads = {label: encode(DecodedImage(pixels), "png")[0] for label, pixels in _every_kind_of_upload(photo).items()}
    uploads["saved, a JPEG file"] = encode(DecodedImage(add_noise(photo, NoiseSpec(density=0.1), seed=4)), "jpeg", 90)[0]
    uploads["clean whole astronaut, a JPEG file"] = encode(DecodedImage(skdata.astronaut()[::2, ::2].copy()), "jpeg", 90)[0]
    grey = np.ascontiguousarray(photo[..., 1])
    uploads["grey dense, a JPEG file"] = encode(DecodedImage(add_noise(grey, NoiseSpec(density=0.3), seed=4)), "jpeg", 90)[0]
    uploads["light salt-pepper"] = encode(DecodedImage(add_noise(photo, NoiseSpec(density=0.01), seed=4)), "png")[0]
    skipped, ran_in = set(), {}
    for label, data in uploads.items():
        fast = pipeline.denoise_auto(data, registry, 10**7)
        ran_in[label] = [name for name, _ in fast.runs]
        with monkeypatch.context() as m:
            m.setattr(pipeline, "_named_before_the_default", lambda *args: None)
            slow = pipeline.denoise_auto(data, registry, 10**7)
        assert fast.model == slow.model, label
        assert np.array_equal(fast.result.image.pixels, slow.result.image.pixels), label
        assert fast.result.impulse_fraction == slow.result.impulse_fraction, label
        assert fast.result.seconds == sum(seconds for _, seconds in fast.runs)  # X-Inference-Ms: every run's time
        ran, ran_before = [n for n, _ in fast.runs], [n for n, _ in slow.runs]
        if default in ran:  # the same runs, perhaps in the other order
            assert sorted(ran) == sorted(ran_before), label
        else:  # skipped: the suggested model alone, and its output returned
            assert ran == [fast.model] and ran_before == [default, fast.model], label
            skipped.add(label)
    # where the default would leave the impulses alone (too few exact extremes, or a JPEG file), it did not run;
    # it ran first on exact salt-and-pepper and clean crops (nothing to suggest), and second on the whole clean
    # astronaut (jpeg-unet barely changed it, so auto needed the default's output: KEEP_FIRST_DB)
    assert {"near-extreme", "random 16-bit", "random grey", "saved, a JPEG file", "grey dense, a JPEG file"} <= skipped
    assert not skipped & {"salt-pepper", "clean", "clean whole astronaut, a JPEG file"}
    assert ran_in["clean whole astronaut, a JPEG file"] == [pipeline.SAVED_MODEL, default]  # a JPEG file: named first
    # too few extremes for the estimate (texture), so blind-unet ran first; it changed little but the
    # extremes (`psnr_away_from_extremes`), so the default ran for its output, which auto returned
    second = registry.get(pipeline.REAL_WORLD_MODEL).name
    assert ran_in["light salt-pepper"] == [second, default]


def test_auto_runs_a_default_that_is_not_extremes_only_first(tmp_path, astronaut):
    """Only a default known to change nothing but exact extremes may be skipped: with `blind-unet` as the
    default (DENOISE_DEFAULT_MODEL), a JPEG file of salt-and-pepper, which auto would send straight to
    jpeg-unet past the shipped default, goes to the default first; it takes the impulses, so auto returns
    its output and runs nothing else."""
    import shutil

    from app.imaging import encode
    from app.registry import ModelRegistry
    from app.settings import Settings
    from tests.conftest import MODELS

    for name in ("blind-unet", "jpeg-unet"):
        for suffix in (".onnx", ".json"):
            shutil.copy(MODELS / f"{name}{suffix}", tmp_path / f"{name}{suffix}")
    registry = ModelRegistry(Settings(models_dir=tmp_path, default_model="blind-unet", threads=2))
    registry.load()
    registry.warm_up()
    noisy = add_noise(astronaut[:96, :128], NoiseSpec(density=0.1), seed=4)
    data = encode(DecodedImage(noisy), "jpeg", 90)[0]
    chosen = pipeline.denoise_auto(data, registry, 10**7)
    assert [name for name, _ in chosen.runs] == ["blind-unet"] and chosen.model == "blind-unet"


def test_auto_asks_once_whether_the_pixels_were_saved_as_jpeg(client, monkeypatch):
    """A clean colour PNG that reads as impulse-noisy (texture) with no values at 0 or 255: auto skips the
    default (too few extremes), asks whether the pixels carry a JPEG save to name the model, runs it, finds
    it barely changed the upload (`psnr_away_from_extremes`: no value is at an extreme here) and runs the
    default, whose output is close to it (KEEP_FIRST_DB) and is returned. The default's run
    needs the same answer for its hint: it is given, not asked again (13 ms at 512x512). The photo: the whole
    astronaut at a third of its size, its values squeezed into 1..254, which blind-unet changes by less than
    KEEP_FIRST_DB allows (the first assertion says so). Until stop 39 the photo was at a quarter of its size:
    there blind-unet's int8 twin, which answers for it on the CPU, changed it by more than that, and auto kept
    the twin's output."""
    from skimage import data as skdata

    from app.imaging import encode

    registry = client.app.state.services.registry
    photo = np.ascontiguousarray(1 + np.rint(skdata.astronaut()[::3, ::3] * (253 / 255))).astype(np.uint8)
    asked = []
    saved_as_jpeg = pipeline.saved_as_jpeg
    monkeypatch.setattr(pipeline, "saved_as_jpeg", lambda pixels: asked.append(1) or saved_as_jpeg(pixels))
    chosen = pipeline.denoise_auto(encode(DecodedImage(photo), "png")[0], registry, 10**7)
    default = registry.get(None).name
    second = registry.get(pipeline.REAL_WORLD_MODEL).name
    assert [name for name, _ in chosen.runs] == [second, default] and chosen.model == default
    assert len(asked) == 1
