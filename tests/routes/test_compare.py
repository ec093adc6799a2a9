import numpy as np
import pytest

from app.noise import salt_and_pepper
from app.quality import psnr, ssim
from tests.conftest import png_bytes


def test_compare_reports_the_project_metrics(client, astronaut):
    noisy = salt_and_pepper(astronaut, 0.2, seed=3)
    r = client.post("/compare", files={"reference": ("a.png", png_bytes(astronaut)), "image": ("b.png", png_bytes(noisy))})
    assert r.status_code == 200
    body = r.json()
    assert body["psnr"] == pytest.approx(psnr(astronaut, noisy), abs=1e-4)
    assert body["ssim"] == pytest.approx(ssim(astronaut, noisy), abs=1e-6) and body["identical"] is False


def test_identical_images_have_no_finite_psnr(client, camera):
    r = client.post("/compare", files={"reference": ("a.png", png_bytes(camera)), "image": ("b.png", png_bytes(camera))})
    assert r.json() == {"psnr": None, "identical": True, "ssim": 1.0}


def test_different_sizes_are_422(client, camera):
    r = client.post("/compare", files={"reference": ("a.png", png_bytes(camera)), "image": ("b.png", png_bytes(camera[:50]))})
    assert r.status_code == 422 and r.json()["error"] == "invalid_parameter"


def test_compare_refuses_big_and_broken_uploads(limited_client, camera):
    good = png_bytes(camera)
    big = png_bytes(np.zeros((1100, 1000), np.uint8))
    r = limited_client.post("/compare", files={"reference": ("a.png", big), "image": ("b.png", big)})
    assert r.status_code == 413 and r.json()["error"] == "image_too_large"
    r = limited_client.post("/compare", files={"reference": ("a.png", good), "image": ("b.png", b"\0" * 300_000)})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    r = limited_client.post("/compare", files={"reference": ("a.png", good), "image": ("b.png", b"garbage" * 9)})
    assert r.status_code == 415 and r.json()["error"] == "invalid_image"
