"""Limits and the bad-input corpus: exact status and error code, and the service keeps serving."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.main import create_app
from app.settings import Settings
from tests.conftest import MODELS, HeldInference, png_bytes, png_claiming, wait_ready


def encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def limited(limited_client):
    return limited_client


def test_upload_over_the_byte_limit_is_413_before_decoding(limited):
    r = limited.post("/denoise", files={"file": ("big.bin", b"\0" * 400_000)})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    assert limited.get("/health/live").status_code == 200


def test_chunked_upload_over_the_byte_limit_is_413(limited, camera):
    def chunks():
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        for _ in range(50):
            yield b"\0" * 10_000
        yield b"\r\n--b--\r\n"

    r = limited.post("/denoise", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    small = png_bytes(camera)
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + small + b"\r\n--b--\r\n"
    r = limited.post("/denoise", content=iter([body[:1000], body[1000:]]), headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert r.status_code == 200  # a chunked upload under the limit is replayed to the app intact


def test_image_over_the_pixel_limit_is_413(limited):
    r = limited.post("/denoise", files={"file": ("wide.png", png_bytes(np.zeros((100, 12000), np.uint8)))})
    assert r.status_code == 413 and r.json()["error"] == "image_too_large"


def test_ensemble_shares_the_pixel_limit(limited):
    """ensemble=8 runs the model 8 times: images up to max_pixels / 8 (here 125,000)."""
    image = png_claiming(400, 400)  # 160,000 pixels: fine alone, too many for 8 passes
    r = limited.post("/denoise", files={"file": ("a.png", image)}, data={"ensemble": "8"})
    assert r.status_code == 413 and r.json()["error"] == "image_too_large"
    assert "ensemble=8" in r.json()["detail"] and "125,000" in r.json()["detail"]


def test_decompression_bomb_header_is_413_without_decoding(client):
    r = client.post("/denoise", files={"file": ("bomb.png", png_claiming(40000, 40000))})
    assert r.status_code == 413 and r.json()["error"] == "image_too_large"
    assert client.get("/health/live").status_code == 200


@pytest.mark.parametrize("name,data,status,code", [
    ("zero.png", b"", 400, "empty_file"),
    ("random.bin", bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)), 415, "invalid_image"),
    ("text.txt", b"Lorem ipsum dolor sit amet " * 50, 415, "invalid_image"),
    ("truncated.jpg", "jpeg-truncated", 415, "invalid_image"),
    ("truncated.png", "png-truncated", 415, "invalid_image"),
])
def test_bad_input_corpus(client, astronaut, name, data, status, code):
    if data == "jpeg-truncated":
        data = encoded(Image.fromarray(astronaut), "JPEG")[:1500]
    elif data == "png-truncated":
        data = png_bytes(astronaut)[:1500]
    r = client.post("/denoise", files={"file": (name, data)})
    assert r.status_code == status and r.json()["error"] == code
    assert client.get("/health/live").status_code == 200


@pytest.mark.parametrize("kind", ["animated-gif", "cmyk-jpeg", "png16", "palette-alpha", "exif-rotated"])
def test_real_world_images_are_denoised_in_the_right_form(client, astronaut, camera, kind):
    if kind == "animated-gif":
        frames = [Image.fromarray(camera), Image.fromarray(255 - camera)]
        data, size, mode = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:]), camera.shape[::-1], "L"
    elif kind == "cmyk-jpeg":
        data, size, mode = encoded(Image.fromarray(astronaut).convert("CMYK"), "JPEG"), astronaut.shape[1::-1], "RGB"
    elif kind == "png16":
        data, size, mode = encoded(Image.fromarray(camera.astype(np.uint16) * 257), "PNG"), camera.shape[::-1], "I;16"
    elif kind == "palette-alpha":
        image = Image.fromarray(astronaut).convert("P")
        data = encoded(image, "PNG", transparency=0)
        size, mode = astronaut.shape[1::-1], "RGBA"
    else:
        exif = Image.Exif()
        exif[0x0112] = 6
        data = encoded(Image.fromarray(astronaut), "JPEG", exif=exif)
        size, mode = (astronaut.shape[0], astronaut.shape[1]), "RGB"  # rotated: width and height swap
    r = client.post("/denoise", files={"file": ("x", data)})
    assert r.status_code == 200, r.text
    out = Image.open(io.BytesIO(r.content))
    assert out.size == tuple(size) and out.mode == mode


def test_full_queue_gets_503_with_retry_after(astronaut):
    app = create_app(Settings(models_dir=MODELS, max_concurrent=1, max_queue=0, threads=1, retry_after_s=7))
    with TestClient(app) as c:
        wait_ready(c)
        held = HeldInference(c)
        body = png_bytes(astronaut[:64, :64])
        results: list[int] = []
        first = threading.Thread(target=lambda: results.append(c.post("/denoise", files={"file": ("a.png", body)}).status_code))
        first.start()
        assert held.inside.wait(60)  # the first request holds the only slot
        r = c.post("/denoise", files={"file": ("a.png", body)})
        held.release.set()
        first.join()
        assert r.status_code == 503 and r.json()["error"] == "overloaded" and r.headers["retry-after"] == "7"
        assert results == [200]
        assert 'denoise_rejections_total{code="overloaded"} 1.0' in c.get("/metrics").text
