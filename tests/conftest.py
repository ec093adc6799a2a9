"""Shared fixtures: real photos that scikit-image ships, and a running app on the shipped models."""

from __future__ import annotations

import io
import struct
import time
import zlib
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


def load_script(name: str):
    """scripts/<name>.py as a module (the scripts folder is not a package)."""
    import importlib.util

    import sys

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def stop_after(calls: int, reason: type[Exception]):
    """A `check` for `Denoiser.denoise` that lets `calls` calls through (a tile, a band of the look for
    leftovers) and raises `reason` from then on: a deadline or a client leaving at a chosen point."""
    made = []

    def check() -> None:
        made.append(1)
        if len(made) > calls:
            raise reason("stop")
    return check


def png_bytes(array: np.ndarray, **kwargs) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", **kwargs)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid-looking 60-byte PNG whose header claims width x height pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def decode_png(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)))


# Skips fail the run: a broken extra (say, the train extra not installed) must not turn its tests into
# quiet skips. A test that may legitimately skip says why: @pytest.mark.may_skip("only on a GPU").
_unexpected_skips: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "may_skip(reason): this test may skip, for the stated reason, without failing the run")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped:  # a whole module skipped at import
        _unexpected_skips.append(report.nodeid)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail") and "may_skip" not in report.keywords:
        _unexpected_skips.append(report.nodeid)


def pytest_terminal_summary(terminalreporter) -> None:
    if _unexpected_skips:
        terminalreporter.write_line(f"FAILED: {len(_unexpected_skips)} unexpected skip(s) (mark may_skip with a reason "
                                    "if a skip is intended): " + ", ".join(_unexpected_skips), red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _unexpected_skips and session.exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A 160x192 colour crop of skimage's astronaut (small: the suite runs on 2 CPU cores)."""
    return np.ascontiguousarray(skdata.astronaut()[40:200, 150:342])


@pytest.fixture(scope="session")
def camera() -> np.ndarray:
    """A 128x160 grey crop of skimage's cameraman."""
    return np.ascontiguousarray(skdata.camera()[60:188, 200:360])


def wait_until(condition, timeout: float, what: str, interval: float = 0.02) -> None:
    """Poll `condition()` until it is true; fail with `what` after `timeout` seconds (never a bare sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class HeldInference:
    """The default model's `denoise` made to wait: `inside` is set when a request reaches the model,
    which then waits for `release` (a request that holds its slot for as long as a test needs)."""

    def __init__(self, client: TestClient):
        import threading

        self.inside, self.release = threading.Event(), threading.Event()
        denoiser = client.app.state.services.registry.get(None).denoiser
        original = denoiser.denoise

        def held(*args, **kwargs):
            self.inside.set()
            self.release.wait(60)
            return original(*args, **kwargs)

        denoiser.denoise = held


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


@pytest.fixture(scope="session")
def limited_client() -> Iterator[TestClient]:
    """The app with small limits: 200,000-byte uploads, 1,000,000-pixel images."""
    app = create_app(Settings(models_dir=MODELS, max_upload_bytes=200_000, max_pixels=1_000_000, threads=2))
    with TestClient(app) as c:
        wait_ready(c)
        yield c
