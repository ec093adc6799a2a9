"""Shared fixtures: real photos that scikit-image ships, and a running app on the shipped models."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data as skdata

from app.main import create_app
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"


def png_bytes(array: np.ndarray, **kwargs) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", **kwargs)
    return buffer.getvalue()


def decode_png(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)))


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A 160x192 colour crop of skimage's astronaut (small: the suite runs on 2 CPU cores)."""
    return np.ascontiguousarray(skdata.astronaut()[40:200, 150:342])


@pytest.fixture(scope="session")
def camera() -> np.ndarray:
    """A 128x160 grey crop of skimage's cameraman."""
    return np.ascontiguousarray(skdata.camera()[60:188, 200:360])


def wait_ready(client: TestClient, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/health/ready").status_code != 200:
        if time.monotonic() > deadline:
            raise TimeoutError("the service did not become ready")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    """The app on the models that ship in models/, ready (loaded and warmed up)."""
    app = create_app(Settings(models_dir=MODELS, log_json=True, threads=2))
    with TestClient(app) as c:
        wait_ready(c)
        yield c
