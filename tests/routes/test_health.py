import time

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.conftest import MODELS


def test_live_and_ready_once_loaded(client):
    assert client.get("/health/live").json() == {"status": "live"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_live_before_ready_and_requests_wait_for_models():
    """Live answers while models load; ready and /denoise say 503 until they are loaded."""
    app = create_app(Settings(models_dir=MODELS, threads=1))
    registry = app.state.services.registry
    original = registry.load
    registry.load = lambda: (time.sleep(1.0), original())  # a slow disk
    with TestClient(app) as c:
        assert c.get("/health/live").status_code == 200
        r = c.get("/health/ready")
        assert r.status_code == 503 and r.json()["error"] == "not_ready"
        assert c.post("/denoise", files={"file": ("a.png", b"x")}).json()["error"] == "not_ready"
        deadline = time.monotonic() + 60
        while c.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_a_models_folder_without_models_never_becomes_ready(tmp_path):
    app = create_app(Settings(models_dir=tmp_path, threads=1))
    with TestClient(app) as c:
        time.sleep(0.2)
        assert c.get("/health/live").status_code == 200
        assert c.get("/health/ready").status_code == 503
