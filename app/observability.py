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


class BodySizeLimitMiddleware:
    """413 before the app reads a body larger than the upload limit (plus room for multipart framing).

    With Content-Length, the header decides before anything is read. Without it (chunked upload), the
    body is counted as it arrives and refused the moment it passes the limit; what arrived in time is
    replayed to the app. (Raising from inside `receive` instead would reach FastAPI's form parser,
    which turns any error into a 400.)
    """

    def __init__(self, app: ASGIApp, limit: int, slack: int, metrics: Metrics):
        self.app, self.limit, self.max_bytes, self.metrics = app, limit, limit + slack, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from app.error_handlers import error_response
        from app.errors import PayloadTooLarge

        def too_large() -> ASGIApp:
            return error_response(PayloadTooLarge(f"the upload exceeds the limit of {self.limit:,} bytes"), self.metrics)

        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if length.isdigit() and int(length) > self.max_bytes:
                await too_large()(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_bytes:
                await too_large()(scope, receive, send)
                return
            if not message.get("more_body"):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
