#!/usr/bin/env python
"""Load test on loopback: starts the service, N clients upload real photos for a fixed time.

Prints throughput, latency percentiles, status counts, the server's memory before and after, and
the bare model's throughput on the same photos (one process, no HTTP), so the service's overhead is
visible. Bounded in requests and time; traffic goes to 127.0.0.1 only.

  python scripts/loadtest.py --photos ../shared/data/CBSD68 --clients 16 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
from serverprocess import running_server  # beside this script: the tests' server helper too

from app.imaging import DecodedImage, decode, encode, read_photo
from app.inference import Denoiser
from app.noise import salt_and_pepper
from app.settings import MAX_PIXELS
from training.data import list_images


def noisy_photos(folder: Path | None, count: int) -> list[bytes]:
    """PNG uploads: photos from `folder` (or scikit-image's) with salt-and-pepper noise at 0.3."""
    if folder:
        images = [read_photo(p) for p in list_images(folder)[:count]]
    else:
        from skimage import data

        images = [data.astronaut(), data.coffee(), data.chelsea(), data.camera()][:count]
    return [encode(DecodedImage(salt_and_pepper(im, 0.3, seed=i)), "png")[0] for i, im in enumerate(images)]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def multipart(png: bytes) -> tuple[bytes, str]:
    boundary = "loadtestboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + png + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def bare_model_mps(uploads: list[bytes], model: Path, seconds: float) -> float:
    denoiser = Denoiser(model)
    images = [decode(u, MAX_PIXELS) for u in uploads]
    denoiser.denoise(images[0])
    pixels, started, i = 0, time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        image = images[i % len(images)]
        denoiser.denoise(image)
        pixels += image.pixels.shape[0] * image.pixels.shape[1]
        i += 1
    return pixels / 1e6 / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, help="folder of clean photos (default: scikit-image's)")
    parser.add_argument("--count", type=int, default=8, help="how many photos to cycle through")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=100_000, help="hard bound on requests")
    parser.add_argument("--warmup-seconds", type=float, default=10.0,
                        help="load at full concurrency before the first memory reading (buffers that "
                             "concurrency needs are not growth)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (repeatable)")
    parser.add_argument("--no-backoff", action="store_true",
                        help="on 503, retry at once instead of waiting Retry-After (as wrk does): the overload case")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    uploads = noisy_photos(args.photos, args.count)
    env = {"DENOISE_LOG_JSON": "true", **dict(kv.split("=", 1) for kv in args.env)}
    command = ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
    with running_server(command, env, output=subprocess.DEVNULL) as server:
        base = server.base
        default_model = json.load(urllib.request.urlopen(f"{base}/models"))["default"]
        statuses: Counter[str] = Counter()
        latencies: list[float] = []
        pixels = [0]
        lock = threading.Lock()
        sizes = [decode(u, MAX_PIXELS).pixels.shape[:2] for u in uploads]
        sent = [0]
        stop_at = 0.0

        def client(index: int) -> None:
            i = index
            while time.monotonic() < stop_at:
                with lock:
                    if sent[0] >= args.max_requests:
                        return
                    sent[0] += 1
                body, ctype = multipart(uploads[i % len(uploads)])
                started = time.perf_counter()
                try:
                    with urllib.request.urlopen(urllib.request.Request(f"{base}/denoise", body, {"Content-Type": ctype}), timeout=120) as r:
                        r.read()
                        status = str(r.status)
                except urllib.error.HTTPError as e:
                    status = str(e.code)
                    if e.code == 503 and not args.no_backoff:
                        time.sleep(float(e.headers.get("Retry-After", "1")))
                except OSError as e:
                    status = type(e).__name__
                elapsed = time.perf_counter() - started
                with lock:
                    statuses[status] += 1
                    if status == "200":
                        latencies.append(elapsed)
                        h, w = sizes[i % len(uploads)]
                        pixels[0] += h * w
                i += 1

        def run_clients(seconds: float) -> float:
            nonlocal stop_at
            started = time.monotonic()
            stop_at = started + seconds
            threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return time.monotonic() - started

        run_clients(args.warmup_seconds)
        statuses.clear()
        latencies.clear()
        pixels[0] = sent[0] = 0
        memory_before = rss_mb(server.process.pid)
        wall = run_clients(args.seconds)
        memory_after = rss_mb(server.process.pid)
        server.process.terminate()
        server.process.wait(timeout=60)

    models_dir = Path(env.get("DENOISE_MODELS_DIR", ROOT / "models"))  # the model the server ran
    bare = bare_model_mps(uploads, models_dir / f"{default_model}.onnx", min(10.0, args.seconds))
    lat = np.array(latencies) if latencies else np.array([float("nan")])
    result = {
        "clients": args.clients, "backoff": not args.no_backoff, "seconds": round(wall, 1), "requests": sum(statuses.values()),
        "statuses": dict(statuses), "ok_per_second": round(len(latencies) / wall, 2),
        "megapixels_per_second": round(pixels[0] / 1e6 / wall, 3),
        "bare_model_megapixels_per_second": round(bare, 3),
        "throughput_vs_bare_model": round(pixels[0] / 1e6 / wall / bare, 3),
        "latency_ms": {p: round(float(np.percentile(lat, q)) * 1000, 1) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))},
        "server_rss_mb": {"before": round(memory_before, 1), "after": round(memory_after, 1),
                          "growth_percent": round(100 * (memory_after - memory_before) / memory_before, 1)},
        "model": default_model, "photos": str(args.photos or "scikit-image samples"),
        "command": "python scripts/loadtest.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
