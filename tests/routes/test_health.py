import threading

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.conftest import MODELS, wait_until


def test_live_and_ready_once_loaded(client):
    assert client.get("/health/live").json() == {"status": "live"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_live_before_ready_and_requests_wait_for_models():
    """Live answers while models load; ready and /denoise say 503 until they are loaded."""
    app = create_app(Settings(models_dir=MODELS, threads=1))
    registry = app.state.services.registry
    original, disk = registry.load, threading.Event()
    registry.load = lambda: (disk.wait(60), original())  # a slow disk, until the test lets it go
    with TestClient(app) as c:
        assert c.get("/health/live").status_code == 200
        r = c.get("/health/ready")
        assert r.status_code == 503 and r.json()["error"] == "not_ready"
        assert c.post("/denoise", files={"file": ("a.png", b"x")}).json()["error"] == "not_ready"
        disk.set()
        wait_until(lambda: c.get("/health/ready").status_code == 200, timeout=60, what="readiness")


def test_a_models_folder_without_models_never_becomes_ready(tmp_path):
    app = create_app(Settings(models_dir=tmp_path, threads=1))
    registry = app.state.services.registry
    original, tried = registry.load, threading.Event()

    def load() -> None:
        try:
            original()
        finally:
            tried.set()

    registry.load = load
    with TestClient(app) as c:
        assert tried.wait(60)
        assert c.get("/health/live").status_code == 200
        assert c.get("/health/ready").status_code == 503


def test_an_incoming_request_id_is_reused_and_a_bad_one_replaced(client):
    assert client.get("/health/live", headers={"X-Request-ID": "trace-42"}).headers["x-request-id"] == "trace-42"
    fresh = client.get("/health/live").headers["x-request-id"]
    assert len(fresh) == 32 and int(fresh, 16) >= 0
    replaced = client.get("/health/live", headers={"X-Request-ID": "bad\tid"}).headers["x-request-id"]
    assert replaced != "bad\tid" and len(replaced) == 32
