"""Run the service as a child process on a free loopback port, and wait until it is ready.

For the tests that need a real server (browser, container command) and for scripts/loadtest.py: a tool,
not part of the product (it is not in the wheel or the image). The scripts find it beside them; the
tests through pytest's `pythonpath` (pyproject.toml).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    base: str


@contextmanager
def running_server(command: list[str] | None = None, env: dict[str, str] | None = None,
                   output: int | None = subprocess.PIPE) -> Iterator[Server]:
    """Start `command` (default: uvicorn app.main:app) with --host/--port set; wait until ready.

    `output`: where the server's stdout and stderr go (default a pipe the caller can read).
    """
    port = free_port()
    command = list(command or ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"])
    command[0] = str(BIN / command[0])
    command[command.index("--port") + 1] = str(port)
    command[command.index("--host") + 1] = "127.0.0.1"
    full_env = {**os.environ, "DENOISE_MODELS_DIR": str(ROOT / "models"), "PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=output, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if urllib.request.urlopen(f"{base}/health/ready", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {process.stdout.read() if process.stdout else ''}")
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not become ready")
            time.sleep(0.2)
        yield Server(process, base)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
