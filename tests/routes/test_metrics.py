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
