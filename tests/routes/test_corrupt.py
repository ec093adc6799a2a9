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
