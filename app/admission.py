"""What happens to a request before the routes see it: early refusal and guarded uploads (pure ASGI).

- `Admission`: the image routes take an admission ticket from the gate before a byte of the body is
  read. When every slot and queue place is taken, the answer is 503 + Retry-After + Connection: close
  (after `reject_delay_s`, asleep): under wrk without back-off, refusals that came only after the whole
  upload was read and parsed ate the CPU (2.28 good requests/s at 16 connections against 4.19 at 9;
  issue 13). During a drain (SIGTERM) the same routes are refused at once with 503 `shutting_down`.
- `UploadGuard`: the body is counted as it streams to the app (never buffered here) and refused with
  413 the moment it passes the limit (with Content-Length: before reading anything), or with 408
  when it has not all arrived within `upload_timeout_s` (a body dribbled at 1 byte/s).
Once a guard has answered, the app is told the client left and whatever it sends is dropped.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.error_handlers import error_response
from app.errors import ApiError, Overloaded, PayloadTooLarge, RequestTimeout, ShuttingDown
from app.gate import InferenceGate
from app.lifecycle import Drain
from app.observability import Metrics

IMAGE_ROUTES = frozenset({"/denoise", "/corrupt", "/compare"})


class Admission:
    def __init__(self, app: ASGIApp, gate: InferenceGate, drain: Drain, metrics: Metrics, reject_delay_s: float = 0.0):
        self.app, self.gate, self.drain, self.metrics = app, gate, drain, metrics
        self.reject_delay_s = reject_delay_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in IMAGE_ROUTES:
            await self.app(scope, receive, send)
            return
        if self.drain.started:
            await self._refuse(ShuttingDown("the service is shutting down; retry on another replica",
                                            headers={"Retry-After": "1"}), scope, receive, send)
            return
        try:
            admission = self.gate.admission()
            admission.__enter__()  # raises Overloaded when every slot and queue place is taken
        except Overloaded as refused:
            # Answered after `reject_delay_s`, asleep (no CPU): without it, 16 connections that retried
            # at once drew 490 refusals a second, whose parsing and answers took the cores from the
            # requests being served (docs/load-test.md).
            if self.reject_delay_s:
                await asyncio.sleep(self.reject_delay_s)
            await self._refuse(refused, scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            admission.__exit__(None, None, None)

    async def _refuse(self, refused: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
        """The error, with Connection: close: a client that does not back off must at least reconnect."""
        refused.headers = {**refused.headers, "Connection": "close"}
        await error_response(refused, self.metrics)(scope, receive, send)


class UploadGuard:
    def __init__(self, app: ASGIApp, limit: int, slack: int, timeout_s: float, metrics: Metrics):
        self.app, self.limit, self.max_bytes = app, limit, limit + slack
        self.timeout_s, self.metrics = timeout_s, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await error_response(self._too_large(), self.metrics)(scope, receive, send)
            return
        deadline = time.monotonic() + self.timeout_s
        seen = 0
        body_done = False  # after the last chunk, receive() only reports a disconnect: no deadline
        answered = False  # the guard has sent its own error response
        started = False  # the app has started its response

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the client has its answer; the app's late error is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def refuse(error: ApiError) -> Message:
            nonlocal answered
            if not started:
                scope.setdefault("state", {})["refused_by_guard"] = True  # not counted twice
                await error_response(error, self.metrics)(scope, receive, send)
                answered = True
            return {"type": "http.disconnect"}

        async def guarded_receive() -> Message:
            nonlocal seen, body_done
            if answered:
                return {"type": "http.disconnect"}
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return await refuse(RequestTimeout(f"the upload did not arrive within {self.timeout_s:g} s"))
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if seen > self.max_bytes:
                    return await refuse(self._too_large())
            return message

        await self.app(scope, guarded_receive, guarded_send)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"the upload exceeds the limit of {self.limit:,} bytes")
