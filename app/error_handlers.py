"""Every error response, built one way: the handler table, the JSON body and its OpenAPI description.

As in MLServer's `rest/errors.py`: each kind of exception maps to an `ApiError`, and one function
turns an `ApiError` into the response and counts it in `denoise_rejections_total`. The upload-size
middleware answers through the same function, so its 413s are counted like the routes' errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import ApiError, HttpError, InternalError, InvalidParameter

if TYPE_CHECKING:
    from app.observability import Metrics

log = logging.getLogger("app")


class ErrorBody(BaseModel):
    error: str
    detail: str


# Work stopped part-way (not refused at the door): each gets a log line, as the drain promises.
STOPPED = {"shutting_down", "deadline_exceeded", "client_closed_request"}


def error_response(error: ApiError, metrics: Metrics | None = None) -> JSONResponse:
    """The one JSON error body; a refusal (4xx, 503) is counted by its code when `metrics` is given."""
    if metrics is not None and error.status != 500:
        metrics.rejections.labels(error.code).inc()
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers or None)


def _api(exc: ApiError, request: Request) -> ApiError:
    if exc.code in STOPPED:
        log.warning("work stopped", extra={"code": exc.code, "path": request.url.path,
                                           "request_id": request.scope.get("state", {}).get("request_id")})
    return exc


def error_docs(*statuses: int) -> dict[int | str, dict]:
    """`responses=` entries so the OpenAPI schema lists each error status with the error body."""
    return {status: {"model": ErrorBody, "description": "error"} for status in statuses}


def _validation(exc: RequestValidationError) -> ApiError:
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors())
    return InvalidParameter(problems)


def _http(exc: StarletteHTTPException) -> ApiError:
    return HttpError(exc.status_code, str(exc.detail), getattr(exc, "headers", None))


def _unexpected(exc: Exception, request: Request) -> ApiError:
    log.exception("unhandled error", extra={"path": request.url.path}, exc_info=exc)
    return InternalError("internal error; the request id is in X-Request-ID")


# exception type -> ApiError; the most specific type wins (Starlette looks handlers up along the MRO).
HANDLERS: dict[type[Exception], Callable[..., ApiError]] = {
    ApiError: _api,
    RequestValidationError: lambda exc, request: _validation(exc),
    StarletteHTTPException: lambda exc, request: _http(exc),
    Exception: _unexpected,
}


def install_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    for exc_type, to_error in HANDLERS.items():
        async def handler(request: Request, exc: Exception, to_error=to_error) -> JSONResponse:
            # After the upload guard has answered (413, 408), the app's own error about the cut-off
            # body is dropped unsent: it must not be counted a second time.
            counted = None if request.scope.get("state", {}).get("refused_by_guard") else metrics
            return error_response(to_error(exc, request), counted)

        app.add_exception_handler(exc_type, handler)
