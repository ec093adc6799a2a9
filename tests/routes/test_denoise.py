import io

import numpy as np
import pytest
from PIL import Image

from app.noise import salt_and_pepper
from app.quality import psnr
from tests.conftest import decode_png, png_bytes


def test_denoise_raises_psnr_of_a_real_photo_and_keeps_size(client, astronaut):
    noisy = salt_and_pepper(astronaut, 0.3, seed=11)
    r = client.post("/denoise", files={"file": ("noisy.png", png_bytes(noisy), "image/png")})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    out = decode_png(r.content)
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    assert psnr(astronaut, out) > psnr(astronaut, noisy) + 15
    assert r.headers["x-model"] and r.headers["x-provider"].endswith("ExecutionProvider")
    assert float(r.headers["x-inference-ms"]) > 0
    assert float(r.headers["x-impulse-fraction"]) == pytest.approx(0.3, abs=0.03)  # an estimate (0.319 here)
    assert r.headers["x-request-id"]


def test_grey_in_grey_out(client, camera):
    noisy = salt_and_pepper(camera, 0.5, seed=12)
    r = client.post("/denoise", files={"file": ("g.png", png_bytes(noisy))})
    assert r.status_code == 200
    out = Image.open(io.BytesIO(r.content))
    assert out.mode == "L" and out.size == (camera.shape[1], camera.shape[0])
    assert psnr(camera, np.asarray(out)) > psnr(camera, noisy) + 15


def test_every_shipped_model_can_be_chosen_by_name(client, astronaut):
    """Each name runs that model, or the int8 twin /models says answers for it (`runs_as`)."""
    models = client.get("/models").json()["models"]
    assert len(models) >= 2
    for model in models:
        data = {"model": model["name"]}
        r = client.post("/denoise", files={"file": ("a.png", png_bytes(astronaut[:64, :64]))}, data=data)
        assert r.status_code == 200 and r.headers["x-model"] == model.get("runs_as", model["name"])


def test_jpeg_upload_and_output_formats(client, astronaut):
    buffer = io.BytesIO()
    Image.fromarray(astronaut).save(buffer, "JPEG", quality=95)
    for fmt, media in [("webp", "image/webp"), ("tiff", "image/tiff"), ("jpeg", "image/jpeg")]:
        r = client.post("/denoise", files={"file": ("a.jpg", buffer.getvalue())}, data={"format": fmt})
        assert r.status_code == 200 and r.headers["content-type"] == media
        assert Image.open(io.BytesIO(r.content)).size == (astronaut.shape[1], astronaut.shape[0])


def test_accept_header_chooses_the_format(client, camera):
    r = client.post("/denoise", files={"file": ("g.png", png_bytes(camera))}, headers={"Accept": "image/webp"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
    r = client.post("/denoise", files={"file": ("g.png", png_bytes(camera))}, headers={"Accept": "text/html"})
    assert r.status_code == 406 and r.json()["error"] == "not_acceptable"


@pytest.mark.parametrize(
    "files,data,status,code",
    [
        ({"file": ("e.png", b"")}, {}, 400, "empty_file"),
        ({"file": ("t.txt", b"hello, not an image")}, {}, 415, "invalid_image"),
        ({"image": ("x.png", b"abc")}, {}, 422, "invalid_parameter"),
        (None, {"model": "x"}, 422, "invalid_parameter"),
        ({"file": ("a.png", "PNG")}, {"model": "no-such-model"}, 404, "unknown_model"),
        ({"file": ("a.png", "PNG")}, {"format": "gif"}, 422, "invalid_parameter"),
        ({"file": ("a.png", "PNG")}, {"quality": "0"}, 422, "invalid_parameter"),
        ({"file": ("a.png", "PNG")}, {"output": "mask"}, 422, "invalid_parameter"),
        ({"file": ("a.png", "PNG")}, {"output": "noise-map", "format": "jpeg"}, 422, "invalid_parameter"),
    ],
)
def test_bad_requests_get_a_json_4xx_and_the_service_keeps_serving(client, camera, files, data, status, code):
    if files and files.get("file", (None, None))[1] == "PNG":
        files = {"file": ("a.png", png_bytes(camera[:32, :32]))}
    r = client.post("/denoise", files=files, data=data)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code and body["detail"]
    assert client.get("/health/live").status_code == 200


def test_truncated_png_is_a_4xx(client, astronaut):
    r = client.post("/denoise", files={"file": ("t.png", png_bytes(astronaut)[:3000])})
    assert r.status_code == 415 and r.json()["error"] == "invalid_image"


def test_sixteen_bit_colour_png_is_denoised_at_sixteen_bits(client, astronaut):
    import cv2

    deep = astronaut.astype(np.uint16) * 257
    noisy = salt_and_pepper(deep, 0.3, seed=21)
    ok, data = cv2.imencode(".png", noisy[..., ::-1])
    r = client.post("/denoise", files={"file": ("deep.png", data.tobytes())})
    assert r.status_code == 200
    out = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert out.dtype == np.uint16 and out.shape == deep.shape
    assert psnr(deep, out, peak=65535) > psnr(deep, noisy, peak=65535) + 15


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 7), (5, 300, 3)])
def test_tiny_and_thin_images(client, shape):
    image = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    r = client.post("/denoise", files={"file": ("t.png", png_bytes(image))})
    assert r.status_code == 200 and decode_png(r.content).shape == shape


def test_ensemble_of_eight_is_opt_in_and_keeps_clean_values(client, camera):
    noisy = salt_and_pepper(camera, 0.5, seed=5)
    plain = client.post("/denoise", files={"file": ("g.png", png_bytes(noisy))})
    eight = client.post("/denoise", files={"file": ("g.png", png_bytes(noisy))}, data={"ensemble": "8"})
    assert plain.headers["x-ensemble"] == "1" and eight.headers["x-ensemble"] == "8"
    out = decode_png(eight.content)
    untouched = (noisy != 0) & (noisy != 255)
    assert np.array_equal(out[untouched], noisy[untouched])  # the mean of 8 exact copies is exact
    assert psnr(camera, out) > psnr(camera, decode_png(plain.content))


@pytest.mark.parametrize("value", ["2", "0", "-8", "x8"])
def test_other_ensemble_sizes_are_a_422(client, camera, value):
    r = client.post("/denoise", files={"file": ("g.png", png_bytes(camera))}, data={"ensemble": value})
    assert r.status_code == 422 and r.headers["content-type"] == "application/json"
    assert client.get("/health/live").status_code == 200


def test_metadata_icc_kept_exif_dropped_orientation_applied(client, astronaut):
    import io

    from PIL import Image, ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 8  # turn 90 degrees counter-clockwise to display
    exif[0x010F] = "Camera maker"
    buffer = io.BytesIO()
    Image.fromarray(astronaut).save(buffer, "JPEG", quality=95, exif=exif, icc_profile=icc)
    r = client.post("/denoise", files={"file": ("a.jpg", buffer.getvalue())})
    out = Image.open(io.BytesIO(r.content))
    assert out.size == (astronaut.shape[0], astronaut.shape[1])  # upright: width and height swapped
    assert out.info.get("icc_profile") == icc and "exif" not in out.info and not out.getexif()
    upright = np.rot90(astronaut, 1)  # counter-clockwise
    assert psnr(upright, np.asarray(out)) > 30  # the right way round: the other turn scores about 11 dB


def test_noise_map_marks_exactly_the_pixels_the_model_changed(client, astronaut):
    """The default switching model changes the exact 0/255 impulses only (clipped astronaut: no 0/255 of its
    own): the map is 255 on the pixels that got one (but the few it refills with 0 or 255), 0 elsewhere, and X-Changed-Fraction is the values' share."""
    clean = np.clip(astronaut[:96, :128], 1, 254)
    noisy = salt_and_pepper(clean, 0.2, seed=5)
    upload = {"file": ("n.png", png_bytes(noisy))}
    image = client.post("/denoise", files=upload)
    reply = client.post("/denoise", files=upload, data={"output": "noise-map"})
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/png"
    found = decode_png(reply.content)
    restored = decode_png(image.content)
    assert found.shape == clean.shape[:2] and found.dtype == np.uint8
    np.testing.assert_array_equal(found, 255 * (restored != noisy).any(axis=2))
    impulses = ((noisy == 0) | (noisy == 255)).any(axis=2)
    assert not (found[~impulses]).any() and (found[impulses] == 255).mean() > 0.99  # a few refilled to 0/255
    changed = (restored != noisy).mean()
    assert float(reply.headers["x-changed-fraction"]) == pytest.approx(changed, abs=1e-4)
    assert float(image.headers["x-changed-fraction"]) == pytest.approx(0.2, abs=0.01)


def test_noise_map_is_lossless_only(client, camera):
    """A JPEG would blur a map of single pixels: asked for by name, a 422 that says why (in the table
    above); by Accept alone, a 406; a lossless format other than PNG is fine."""
    upload = {"file": ("g.png", png_bytes(camera))}
    r = client.post("/denoise", files=upload, data={"output": "noise-map", "format": "jpeg"})
    assert "lossless" in r.json()["detail"]
    r = client.post("/denoise", files=upload, data={"output": "noise-map"}, headers={"Accept": "image/jpeg"})
    assert r.status_code == 406
    r = client.post("/denoise", files=upload, data={"output": "noise-map", "format": "webp"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"


def test_try_model_names_the_blind_model_when_the_default_left_the_impulses_alone(client, astronaut):
    """X-Try-Model: random-valued impulses pass through the switching default, which the response says, naming
    the served model for them; not on exact salt-and-pepper, a clean photo, or from that model itself."""
    from app.noise import NoiseSpec, add_noise

    def post(pixels: np.ndarray, model: str | None = None):
        r = client.post("/denoise", files={"file": ("a.png", png_bytes(pixels))}, data={"model": model} if model else {})
        assert r.status_code == 200
        return r

    random_valued = add_noise(astronaut, NoiseSpec("random-valued", 0.2), seed=3)
    r = post(random_valued)
    assert r.headers["x-try-model"] == "blind-unet"
    assert float(r.headers["x-changed-fraction"]) < float(r.headers["x-impulse-fraction"]) / 2
    r = post(random_valued, "blind-unet")
    assert "x-try-model" not in r.headers and float(r.headers["x-changed-fraction"]) > 0.1
    assert "x-try-model" not in post(salt_and_pepper(astronaut, 0.3, seed=3)).headers
    assert "x-try-model" not in post(astronaut).headers


def test_try_model_names_the_model_for_saved_photos_for_a_jpeg_file(client, astronaut):
    """Salt-and-pepper in a JPEG file was saved after it struck: the switching default leaves it, and the
    response names jpeg-unet, which changes most of the values the estimate calls impulses."""
    buffer = io.BytesIO()
    Image.fromarray(salt_and_pepper(astronaut, 0.1, seed=5)).save(buffer, "JPEG", quality=90)
    r = client.post("/denoise", files={"file": ("a.jpg", buffer.getvalue())})
    assert r.status_code == 200 and r.headers["x-try-model"] == "jpeg-unet"
    r = client.post("/denoise", files={"file": ("a.jpg", buffer.getvalue())}, data={"model": "jpeg-unet"})
    assert r.status_code == 200 and "x-try-model" not in r.headers
    assert float(r.headers["x-changed-fraction"]) > float(r.headers["x-impulse-fraction"]) / 2


def test_try_model_names_the_model_for_saved_photos_for_jpeg_pixels_in_a_png(client, astronaut):
    """The same noise saved as JPEG, then sent as a PNG (as the demo page's /corrupt returns it): the pixels
    carry the save (app.jpeg_grid), so jpeg-unet is named; never-saved impulses still get blind-unet."""
    from app.noise import NoiseSpec, add_noise

    saved = add_noise(astronaut, NoiseSpec(density=0.1, jpeg_quality=90), seed=5)
    r = client.post("/denoise", files={"file": ("a.png", png_bytes(saved))})
    assert r.status_code == 200 and r.headers["x-try-model"] == "jpeg-unet"
    unsaved = add_noise(astronaut, NoiseSpec("random-valued", 0.2), seed=5)
    r = client.post("/denoise", files={"file": ("a.png", png_bytes(unsaved))})
    assert r.status_code == 200 and r.headers["x-try-model"] == "blind-unet"


def _inference_count(client, model: str) -> float:
    """How many runs of `model` the metrics have timed."""
    line = f'denoise_inference_seconds_count{{model="{model}"}} '
    return next((float(row[len(line):]) for row in client.get("/metrics").text.splitlines()
                 if row.startswith(line)), 0.0)


def test_model_auto_runs_the_model_the_hint_would_name(client, astronaut):
    """model=auto answers in one request what X-Try-Model asks for in two: the default's own output where it
    took the impulses (exact salt-and-pepper), the suggested model's output where it left them alone (a JPEG
    file: jpeg-unet; random-valued impulses in a PNG: blind-unet), byte for byte. X-Models-Run says what ran:
    on these two the default's run is not needed to know that it would leave them alone (too few values at
    0 or 255 for it to change: app.pipeline.EXTREMES_ONLY), so the suggested model runs alone. Each run is
    timed in the metrics, and nothing is left to suggest."""
    from app.noise import NoiseSpec, add_noise

    registry = client.app.state.services.registry
    default = registry.get(None).name  # the names that run: on the CPU the int8 twins of the default and blind-unet
    buffer = io.BytesIO()
    Image.fromarray(salt_and_pepper(astronaut, 0.1, seed=5)).save(buffer, "JPEG", quality=90)
    uploads = {
        "exact.png": (png_bytes(salt_and_pepper(astronaut, 0.3, seed=3)), None),
        "random.png": (png_bytes(add_noise(astronaut, NoiseSpec("random-valued", 0.2), seed=3)), "blind-unet"),
        "saved.jpg": (buffer.getvalue(), "jpeg-unet"),
    }

    for name, (data, second) in uploads.items():
        ran = registry.get(second).name if second else default
        before = {model: _inference_count(client, model) for model in (default, ran)}
        auto = client.post("/denoise", files={"file": (name, data)}, data={"model": "auto"})
        named = client.post("/denoise", files={"file": (name, data)}, data={"model": second or default})
        assert auto.status_code == named.status_code == 200
        assert auto.content == named.content, name
        assert auto.headers["x-model"] == named.headers["x-model"] == ran
        assert auto.headers["x-models-run"] == ran
        assert "x-try-model" not in auto.headers
        # each model's count went up once per request that ran it: the default's not at all for auto here
        assert _inference_count(client, ran) == before[ran] + 2
        if second:
            assert _inference_count(client, default) == before[default]
            plain = client.post("/denoise", files={"file": (name, data)})  # the default does leave them alone
            assert plain.headers["x-try-model"] == second


def test_model_auto_is_named_among_the_choices_and_no_model_file_may_take_its_name(client, tmp_path):
    from app.registry import ModelRegistry
    from app.settings import Settings

    r = client.post("/denoise", files={"file": ("a.png", png_bytes(np.zeros((8, 8), np.uint8)))},
                    data={"model": "autoo"})
    assert r.status_code == 404 and r.json()["detail"].endswith(", or auto")
    (tmp_path / "auto.onnx").write_bytes(b"not read")
    with pytest.raises(RuntimeError, match="'auto' is not a model name"):
        ModelRegistry(Settings(models_dir=tmp_path)).load()


def test_model_auto_keeps_the_default_s_output_where_the_second_model_barely_changed_the_upload(client):
    """A clean photo whose texture the estimate reads as impulses (the whole astronaut: about 13%), sent as a
    JPEG file: the rule fires and jpeg-unet runs, but it only changed the upload a little everywhere (over
    KEEP_FIRST_DB), so auto returns the default's output, byte for byte, and says both ran."""
    from skimage import data

    from app.pipeline import KEEP_FIRST_DB

    registry = client.app.state.services.registry
    default = registry.get(None).name  # the names that run: on the CPU the int8 twins of the default and blind-unet
    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, "JPEG", quality=90)
    before = {model: _inference_count(client, model) for model in (default, "jpeg-unet")}
    auto = client.post("/denoise", files={"file": ("a.jpg", buffer.getvalue())}, data={"model": "auto"})
    # both runs timed and counted
    assert all(_inference_count(client, model) == before[model] + 1 for model in before)
    named = client.post("/denoise", files={"file": ("a.jpg", buffer.getvalue())})
    second = client.post("/denoise", files={"file": ("a.jpg", buffer.getvalue())}, data={"model": "jpeg-unet"})
    assert auto.status_code == named.status_code == second.status_code == 200
    assert named.headers["x-try-model"] == "jpeg-unet"  # the rule fired
    assert sorted(auto.headers["x-models-run"].split(", ")) == sorted([default, "jpeg-unet"])  # both ran, in either order
    assert auto.headers["x-model"] == default and auto.content == named.content
    uploaded = np.asarray(Image.open(buffer))
    assert psnr(uploaded, decode_png(second.content)) >= KEEP_FIRST_DB
