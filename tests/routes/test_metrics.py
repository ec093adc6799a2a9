from tests.conftest import png_bytes


def test_metrics_count_requests_pixels_and_rejections(client, camera):
    client.post("/denoise", files={"file": ("g.png", png_bytes(camera))})
    client.post("/denoise", files={"file": ("g.png", b"")})
    text = client.get("/metrics").text
    assert 'denoise_http_requests_total{route="/denoise",status="200"}' in text
    assert 'denoise_rejections_total{code="empty_file"}' in text
    assert "denoise_inference_seconds_bucket" in text and "denoise_queue_depth" in text
    pixels = [line for line in text.splitlines() if line.startswith('denoise_pixels_total{model=') or
              line.startswith('denoise_pixels_total{route="/denoise"')]
    assert pixels and float(pixels[0].split()[-1]) >= camera.size


def test_every_refusal_is_counted_by_its_code(client):
    """Route errors, the upload-size middleware's 413 and Starlette's own 404/405 all land in one counter."""
    limit = client.app.state.services.settings.max_upload_bytes
    assert client.post("/denoise", content=b"x", headers={"content-length": str(limit * 2),
                                                          "content-type": "multipart/form-data; boundary=b"}).status_code == 413
    assert client.get("/no-such-route").status_code == 404
    assert client.get("/denoise").status_code == 405
    assert client.post("/denoise", data={"ensemble": "3"}, files={"file": ("g.png", b"x")}).status_code == 422
    text = client.get("/metrics").text

    def count(code: str) -> float:
        lines = [line for line in text.splitlines() if line.startswith(f'denoise_rejections_total{{code="{code}"}}')]
        return float(lines[0].split()[-1]) if lines else 0.0

    for code in ("payload_too_large", "not_found", "method_not_allowed", "invalid_parameter"):
        assert count(code) >= 1, code
