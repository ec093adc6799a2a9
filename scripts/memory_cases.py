#!/usr/bin/env python
"""Peak and idle memory of the service for the large and hostile cases of issue 13, each on a fresh server.

For each case: start the service (`uvicorn app.main:app`, default settings unless --env), read its RSS
once ready, send the case, then read the peak (VmHWM: the largest RSS the process ever had) and the RSS
a second after the last answer. Prints a table and the answers' statuses.

  python scripts/memory_cases.py                       # every case (about 6 minutes on 2 cores)
  python scripts/memory_cases.py --only compare strip  # cases whose names contain these words
  python scripts/memory_cases.py --only "6000x4000" "60 MP photo" --model blind-unet  # /denoise by another model
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from serverprocess import running_server

from app.noise import salt_and_pepper


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def flat(megapixels: float) -> bytes:
    side = int((megapixels * 1e6) ** 0.5)
    return png(np.full((side, side, 3), 128, np.uint8))


def photo(width: int, height: int) -> bytes:
    """A noisy photo as a camera would save it (JPEG 90): a PNG of 24 MP of noise is over the upload limit."""
    from skimage import data

    tile = data.astronaut()
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]), 1)
    buffer = io.BytesIO()
    Image.fromarray(salt_and_pepper(np.tile(tile, reps)[:height, :width], 0.1, seed=1)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def post(base: str, route: str, files: dict, data: dict | None = None) -> str:
    try:
        return str(httpx.post(f"{base}{route}", files=files, data=data, timeout=600).status_code)
    except httpx.HTTPError as e:
        return type(e).__name__


def concurrently(calls: list[Callable[[], str]]) -> list[str]:
    results: list[str] = [""] * len(calls)
    threads = [threading.Thread(target=lambda i=i, c=c: results.__setitem__(i, c())) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def chunked_upload(base: str, size: int) -> str:
    def body():
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        chunk = np.random.default_rng(0).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
        for _ in range(size >> 20):
            yield chunk
        yield b"\r\n--b--\r\n"
    try:
        return str(httpx.post(f"{base}/denoise", content=body(), timeout=600,
                              headers={"Content-Type": "multipart/form-data; boundary=b"}).status_code)
    except httpx.HTTPError as e:
        return type(e).__name__


def cases(args) -> dict[str, Callable[[str], list[str]]]:
    model = {"model": args.model} if args.model else None  # the /denoise cases' model (default: the service's)
    return {
        f"/compare, two flat {args.compare_mp:g} MP PNGs": lambda base, f=flat(args.compare_mp): [
            post(base, "/compare", {"reference": ("a.png", f), "image": ("b.png", f)})],
        "/corrupt, a flat 60 MP PNG": lambda base, f=flat(59.9): [post(base, "/corrupt", {"file": ("a.png", f)})],
        "/denoise, a 6000x4000 photo": lambda base, p=photo(6000, 4000): [post(base, "/denoise", {"file": ("a.png", p)}, model)],
        "/denoise, a 60 MP photo (7740x7740, the pixel limit)": lambda base, p=photo(7740, 7740): [
            post(base, "/denoise", {"file": ("a.jpg", p)}, model)],
        "/denoise, a 1x500000 strip": lambda base, s=png(np.zeros((1, 500_000), np.uint8)): [
            post(base, "/denoise", {"file": ("s.png", s)})],
        "12 chunked 47 MiB uploads at once (not images)": lambda base: concurrently(
            [lambda: chunked_upload(base, 47 << 20)] * 12),
        "four 6000x4000 photos at once": lambda base, p=photo(6000, 4000): concurrently(
            [lambda: post(base, "/denoise", {"file": ("a.png", p)}, model)] * 4),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", default=[])
    parser.add_argument("--compare-mp", type=float, default=59.9, help="size of each /compare image")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (repeatable)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--model", help="the model the /denoise cases name (default: none, the service's default)")
    args = parser.parse_args(argv)
    env = {"DENOISE_LOG_JSON": "true", **dict(kv.split("=", 1) for kv in args.env)}
    rows = []
    for name, run in cases(args).items():
        if args.only and not any(w.lower() in name.lower() for w in args.only):
            continue
        command = ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
        with running_server(command, env) as server:
            pid = server.process.pid
            start_kb = status_kb(pid, "VmRSS")
            started = time.monotonic()
            statuses = run(server.base)
            seconds = time.monotonic() - started
            time.sleep(1.0)  # the background trim runs after the response
            row = {"case": name, "statuses": statuses, "seconds": round(seconds, 1),
                   "start_rss_mb": round(start_kb / 1024), "peak_rss_mb": round(status_kb(pid, "VmHWM") / 1024),
                   "idle_rss_mb_after": round(status_kb(pid, "VmRSS") / 1024)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| case | answers | peak RSS (MB) | RSS at start / a second after (MB) | seconds |\n|---|---|---:|---:|---:|")
    for r in rows:
        answers = ", ".join(f"{s} x{r['statuses'].count(s)}" for s in sorted(set(r["statuses"])))
        print(f"| {r['case']} | {answers} | {r['peak_rss_mb']} | {r['start_rss_mb']} / {r['idle_rss_mb_after']} | {r['seconds']} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"command": "python scripts/memory_cases.py " + " ".join(sys.argv[1:] if argv is None else argv),
                                         "rows": rows}, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()
