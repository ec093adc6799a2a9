import numpy as np
import pytest

from tests.conftest import decode_png, png_bytes


def test_corrupt_adds_the_requested_noise_reproducibly(client, astronaut):
    form = {"density": "0.25", "salt_ratio": "0.5", "per_channel": "true", "seed": "5"}
    r = client.post("/corrupt", files={"file": ("a.png", png_bytes(astronaut))}, data=form)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    noisy = decode_png(r.content)
    assert noisy.shape == astronaut.shape
    changed = noisy != astronaut
    assert abs(changed.mean() - 0.25) < 0.03
    assert np.all((noisy[changed] == 0) | (noisy[changed] == 255))
    again = client.post("/corrupt", files={"file": ("a.png", png_bytes(astronaut))}, data=form)
    assert again.content == r.content and r.headers["x-seed"] == "5"


def test_without_a_seed_the_seed_used_is_reported(client, camera):
    r = client.post("/corrupt", files={"file": ("g.png", png_bytes(camera))}, data={"density": "0.1"})
    assert r.status_code == 200
    seed = r.headers["x-seed"]
    again = client.post("/corrupt", files={"file": ("g.png", png_bytes(camera))}, data={"density": "0.1", "seed": seed})
    assert again.content == r.content


def test_per_pixel_noise_hits_whole_pixels(client, astronaut):
    r = client.post("/corrupt", files={"file": ("a.png", png_bytes(astronaut))},
                    data={"density": "0.5", "per_channel": "false", "seed": "1"})
    noisy = decode_png(r.content)
    hit = (noisy != astronaut).any(axis=2)
    assert np.all(noisy[hit].min(axis=1) == noisy[hit].max(axis=1))


@pytest.mark.parametrize(
    "data,code",
    [({"density": "1.5"}, "invalid_parameter"), ({"density": "-0.1"}, "invalid_parameter"),
     ({"salt_ratio": "2"}, "invalid_parameter"), ({"seed": "-1"}, "invalid_parameter"),
     ({"density": "lots"}, "invalid_parameter"), ({"format": "jpeg"}, "invalid_parameter")],
)
def test_out_of_range_parameters_are_422(client, camera, data, code):
    r = client.post("/corrupt", files={"file": ("g.png", png_bytes(camera[:32, :32]))}, data=data)
    assert r.status_code == 422 and r.json()["error"] == code


def test_jpeg_is_never_produced(client, camera):
    r = client.post("/corrupt", files={"file": ("g.png", png_bytes(camera))}, headers={"Accept": "image/jpeg"})
    assert r.status_code == 406


@pytest.mark.parametrize("ratio", [0.0, 0.2, 0.9])
def test_salt_ratio_sets_the_share_of_white_among_the_hits(client, astronaut, ratio):
    r = client.post("/corrupt", files={"file": ("a.png", png_bytes(astronaut))},
                    data={"density": "0.5", "salt_ratio": str(ratio), "seed": "2"})
    noisy = decode_png(r.content)
    hit = noisy != astronaut  # values that already were 0/255 and drew the same are invisible: ~0.3%
    salt = (noisy[hit] == 255).mean()
    assert abs(salt - ratio) < 0.02, salt


@pytest.mark.parametrize("fmt,media", [("webp", "image/webp"), ("tiff", "image/tiff")])
def test_lossless_formats_carry_the_noise_exactly(client, astronaut, fmt, media):
    form = {"density": "0.3", "seed": "9"}
    png = client.post("/corrupt", files={"file": ("a.png", png_bytes(astronaut))}, data=form)
    other = client.post("/corrupt", files={"file": ("a.png", png_bytes(astronaut))}, data={**form, "format": fmt})
    assert other.status_code == 200 and other.headers["content-type"] == media
    assert other.headers["x-noise-density"] == "0.3" and other.headers["x-seed"] == "9"
    assert np.array_equal(decode_png(other.content), decode_png(png.content))


def test_sixteen_bit_input_gets_sixteen_bit_impulses(client, camera):
    deep = camera.astype(np.uint16) * 257 + 1  # no value at 0 or 65535 before the noise
    r = client.post("/corrupt", files={"file": ("d.png", png_bytes(deep))}, data={"density": "0.4", "seed": "3"})
    noisy = decode_png(r.content)
    assert noisy.dtype == np.uint16
    changed = noisy != deep
    assert abs(changed.mean() - 0.4) < 0.03
    assert set(np.unique(noisy[changed])) == {0, 65535}


def test_corrupt_refuses_big_and_broken_uploads(limited_client, camera):
    big = limited_client.post("/corrupt", files={"file": ("g.png", png_bytes(np.zeros((1100, 1000), np.uint8)))})
    assert big.status_code == 413 and big.json()["error"] == "image_too_large"
    huge = limited_client.post("/corrupt", files={"file": ("g.bin", b"\0" * 300_000)})
    assert huge.status_code == 413 and huge.json()["error"] == "payload_too_large"
    broken = limited_client.post("/corrupt", files={"file": ("g.png", b"not an image" * 10)})
    assert broken.status_code == 415 and broken.json()["error"] == "invalid_image"


@pytest.mark.parametrize("kind", ["impulse-range", "random-valued"])
def test_every_noise_kind_with_a_jpeg_save_last(client, astronaut, kind):
    from app.noise import NoiseSpec, add_noise

    form = {"noise": kind, "density": "0.2", "spread": "20", "jpeg_quality": "80", "seed": "11"}
    r = client.post("/corrupt", files={"file": ("a.png", png_bytes(astronaut))}, data=form)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.headers["x-noise-kind"] == kind
    expected = add_noise(astronaut, NoiseSpec(kind, 0.2, spread=20, jpeg_quality=80), seed=11)
    assert np.array_equal(decode_png(r.content), expected)  # the JPEG's pixels, returned losslessly


@pytest.mark.parametrize("data", [{"noise": "gaussian"}, {"spread": "256"}, {"jpeg_quality": "0"},
                                  {"jpeg_quality": "90", "webp_quality": "90"}])
def test_bad_noise_fields_are_422(client, camera, data):
    r = client.post("/corrupt", files={"file": ("g.png", png_bytes(camera[:32, :32]))}, data=data)
    assert r.status_code == 422 and r.json()["error"] == "invalid_parameter"


def test_sixteen_bit_and_jpeg_is_a_clear_422(client, camera):
    r = client.post("/corrupt", files={"file": ("d.png", png_bytes(camera.astype(np.uint16) * 257))},
                    data={"jpeg_quality": "90"})
    assert r.status_code == 422 and "8-bit" in r.json()["detail"]
