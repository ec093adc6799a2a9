"""Prometheus metrics, request ids and structured logs.

Each app gets its own CollectorRegistry, so tests can build many apps in one process.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("denoise_http_requests_total", "HTTP requests by route and status", ["route", "status"], registry=r)
        self.latency = Histogram("denoise_http_request_seconds", "HTTP request latency", ["route"], buckets=LATENCY_BUCKETS, registry=r)
        self.inference = Histogram("denoise_inference_seconds", "Model time per image", ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.pixels = Counter("denoise_pixels_total", "Pixels processed", ["route", "model"], registry=r)
        self.queue_depth = Gauge("denoise_queue_depth", "Requests waiting for an inference slot", registry=r)
        self.running = Gauge("denoise_inferences_running", "Inferences running now", registry=r)
        self.rejections = Counter("denoise_rejections_total", "Requests refused, by error code", ["code"], registry=r)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any `extra=` fields the caller passed."""

    _skip = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        body = {"time": round(record.created, 3), "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        body.update({k: v for k, v in vars(record).items() if k not in self._skip})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def configure_logging(as_json: bool) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("app")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


access_log = logging.getLogger("app.access")


class RequestContextMiddleware:
    """Request id (incoming X-Request-ID or a new one) on the response, one access-log line, metrics.

    Pure ASGI (not BaseHTTPMiddleware) so streaming and exceptions pass through unchanged.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")[:128]
        request_id = incoming if incoming and incoming.isprintable() else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            self.metrics.requests.labels(path, str(status)).inc()
            self.metrics.latency.labels(path).observe(elapsed)
            access_log.info("request", extra={"request_id": request_id, "method": scope["method"], "path": scope["path"],
                                              "status": status, "ms": round(elapsed * 1000, 1)})
