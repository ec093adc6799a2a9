"""A real server (uvicorn on loopback) under the cases only a socket can show: a client that leaves
mid-request or while queued, a body dribbled byte by byte, SIGTERM during work that cannot finish.
Each asserts the bound (work stopped, place freed, an answer sent), waiting on conditions, not sleeps."""

from __future__ import annotations

import re
import signal
import socket
import threading
import time
from urllib.parse import urlparse

import httpx
import numpy as np
import pytest
from serverprocess import running_server

from tests.conftest import png_bytes, wait_until

DRAIN_S = 3
ENV = {"DENOISE_DRAIN_S": str(DRAIN_S), "DENOISE_UPLOAD_TIMEOUT_S": "1", "DENOISE_TILE_SIZE": "128",
       "DENOISE_THREADS": "2", "DENOISE_MAX_CONCURRENT": "1", "DENOISE_LOG_JSON": "true"}
COMMAND = ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000",
           "--timeout-graceful-shutdown", str(DRAIN_S)]


def gauge(base: str, name: str, labels: str = "") -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    match = re.search(rf"^{name}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def multipart(data: bytes) -> tuple[bytes, str]:
    body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + data + b"\r\n--b--\r\n")
    return body, "multipart/form-data; boundary=b"


def open_post(base: str, body: bytes, content_type: str, send_body: bool = True) -> socket.socket:
    """A POST /denoise on a raw socket (sent, not read), so the test decides when the client leaves."""
    url = urlparse(base)
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    sock.sendall(f"POST /denoise HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + (body if send_body else b""))
    return sock


@pytest.fixture(scope="module")
def big_upload(astronaut) -> bytes:
    """About 12 seconds of work on 2 cores (1600x1920, in 128-pixel tiles): long enough to act during it."""
    return png_bytes(np.tile(astronaut, (10, 10, 1)))


@pytest.fixture(scope="module")
def server():
    with running_server(COMMAND, env=ENV) as s:
        yield s


def test_a_client_that_leaves_stops_its_work_and_frees_its_place(server, big_upload, camera):
    base = server.base
    running = open_post(base, *multipart(big_upload))
    wait_until(lambda: gauge(base, "denoise_inferences_running") == 1, 60, "the first upload to be working")
    queued = open_post(base, *multipart(png_bytes(camera)))
    wait_until(lambda: gauge(base, "denoise_queue_depth") == 1, 30, "the second upload to queue")
    queued.close()  # leaves while in line: its place goes at once
    wait_until(lambda: gauge(base, "denoise_queue_depth") == 0, 5, "the queued request to give up its place")
    assert gauge(base, "denoise_inferences_running") == 1
    started = time.monotonic()
    running.close()  # leaves mid-work: stopped at the next tile, not after the whole image
    wait_until(lambda: gauge(base, "denoise_inferences_running") == 0, 5, "the running work to stop")
    assert time.monotonic() - started < 5
    gone = gauge(base, "denoise_rejections_total", '{code="client_closed_request"}')
    assert gone == 2
    r = httpx.post(f"{base}/denoise", files={"file": ("c.png", png_bytes(camera))}, timeout=30)
    assert r.status_code == 200  # and the next client is served


def test_a_dribbled_body_is_cut_off_with_408(server):
    body, content_type = multipart(b"\x89PNG" + b"\0" * 500)
    sock = open_post(server.base, body, content_type, send_body=False)
    started = time.monotonic()
    reply = b""
    try:
        for byte in body:
            sock.sendall(bytes([byte]))
            time.sleep(0.2)
            sock.settimeout(0.01)
            try:
                reply += sock.recv(65536)
            except (TimeoutError, BlockingIOError):
                pass
            if reply or time.monotonic() - started > 10:
                break
        sock.settimeout(10)
        while b"\r\n\r\n" not in reply:
            reply += sock.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        sock.close()
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert b"request_timeout" in reply or b"content-length" in reply.lower()
    assert time.monotonic() - started < 5


def test_sigterm_answers_work_that_cannot_finish(server, big_upload):
    """Last in this module: the server goes. Work of about 12 s, SIGTERM with a 3-s drain: the client
    gets 503 shutting_down (not a dropped connection), the log says so, the process exits."""
    base, process = server.base, server.process
    result: dict = {}

    def call() -> None:
        response = httpx.post(f"{base}/denoise", files={"file": ("a.png", big_upload)}, timeout=60)
        result["status"], result["body"] = response.status_code, response.json()

    caller = threading.Thread(target=call)
    caller.start()
    wait_until(lambda: gauge(base, "denoise_inferences_running") == 1, 60, "the upload to be working")
    process.send_signal(signal.SIGTERM)
    caller.join(timeout=30)
    assert result.get("status") == 503 and result["body"]["error"] == "shutting_down", result
    assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    log = process.stdout.read()
    assert '"message": "draining"' in log and '"message": "work stopped"' in log


def test_the_drain_hands_sigterm_on_when_no_server_handles_it(tmp_path):
    """Under a server that installs no handler, the drain still lets SIGTERM end the process."""
    script = tmp_path / "plain.py"
    script.write_text("import os, signal, time\nfrom app.lifecycle import Drain\ndrain = Drain(5)\ndrain.install()\n"
                      "os.kill(os.getpid(), signal.SIGTERM)\ntime.sleep(30)\nprint('still alive')\n")
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGTERM and "still alive" not in done.stdout


def test_the_deadline_counts_from_the_slot_not_from_arrival(monkeypatch):
    """`request_timeout_s` is work time, the queue excluded: a request that waited longer than it for its
    slot still gets all of it. The ticket's clock is a stand-in moved by hand, so a busy machine cannot
    change the answer."""
    from app import lifecycle
    from app.errors import DeadlineExceeded
    from app.lifecycle import Drain, Ticket

    now = [1000.0]
    monkeypatch.setattr(lifecycle, "time", type("Clock", (), {"monotonic": staticmethod(lambda: now[0])}))
    ticket = Ticket.start(0.2, Drain(30.0))
    now[0] += 0.3  # queued
    ticket.begin_work()
    ticket.check()  # would have raised had the clock started on arrival
    assert ticket.started_work
    now[0] += 0.25
    with pytest.raises(DeadlineExceeded):
        ticket.check()
