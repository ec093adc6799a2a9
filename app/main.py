"""create_app(): the FastAPI service. Run with `uvicorn app.main:app` (see the README and Dockerfile).

The lifespan builds the services, then loads and warms the models in a worker thread, so
/health/live answers at once and /health/ready turns 200 when the models are usable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.cpus import available_cpus
from app.errors import ApiError
from app.gate import InferenceGate
from app.observability import BodySizeLimitMiddleware, Metrics, RequestContextMiddleware, configure_logging
from app.registry import ModelRegistry
from app.responses import error_response
from app.routes import compare, corrupt, demo, denoise, health, models
from app.routes import metrics as metrics_route
from app.services import Services
from app.settings import Settings, get_settings

log = logging.getLogger("app")
MULTIPART_SLACK = 64 * 1024  # multipart boundaries and the small form fields around the file


def _http_error_code(status: int) -> str:
    return {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 413: "payload_too_large"}.get(status, "http_error")


def _form_openapi(app: FastAPI) -> dict:
    """OpenAPI with optional form fields described as optional, not nullable.

    A multipart form cannot send null (only the text "null"); an optional field is simply left out.
    FastAPI writes `anyOf: [T, null]` for `T | None = Form(None)`, which tells clients and
    schemathesis that "null" is a valid value. Drop the null branch from form bodies.
    """
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    for name, body in schema.get("components", {}).get("schemas", {}).items():
        if not name.startswith("Body_"):
            continue
        for prop in body.get("properties", {}).values():
            options = prop.get("anyOf")
            if options and {"type": "null"} in options:
                rest = [o for o in options if o != {"type": "null"}]
                prop.pop("anyOf")
                if len(rest) == 1:
                    prop.update(rest[0])
                else:
                    prop["anyOf"] = rest
    app.openapi_schema = schema
    return schema


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_json)
    metrics = Metrics()
    concurrent = settings.max_concurrent or max(1, available_cpus() // 8)
    services = Services(settings, ModelRegistry(settings), InferenceGate(concurrent, settings.max_queue, settings.retry_after_s), metrics)
    metrics.queue_depth.set_function(lambda: services.gate.waiting)
    metrics.running.set_function(lambda: services.gate.running)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def load() -> None:
            try:
                await asyncio.to_thread(services.registry.load)
                await asyncio.to_thread(services.registry.warm_up)
                log.info("ready", extra={"models": list(services.registry.models), "default": services.registry.default_name})
            except Exception:
                log.exception("model loading failed; the service stays not-ready")

        task = asyncio.create_task(load())
        yield
        task.cancel()

    app = FastAPI(
        title="Image Noise Removal",
        version="1.0.0",
        summary="Removes salt-and-pepper (impulse) noise from photographs.",
        lifespan=lifespan,
    )
    app.state.services = services
    app.openapi = lambda: _form_openapi(app)  # type: ignore[method-assign]

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        metrics.rejections.labels(exc.code).inc()
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors())
        metrics.rejections.labels("invalid_parameter").inc()
        return JSONResponse({"error": "invalid_parameter", "detail": problems}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": _http_error_code(exc.status_code), "detail": str(exc.detail)},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse({"error": "internal_error", "detail": "internal error; the request id is in X-Request-ID"},
                            status_code=500)

    for router in (denoise.router, corrupt.router, compare.router, models.router, health.router, metrics_route.router,
                   demo.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=demo.STATIC), name="static")

    app.add_middleware(BodySizeLimitMiddleware, limit=settings.max_upload_bytes, slack=MULTIPART_SLACK)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app


def __getattr__(name: str) -> FastAPI:
    """`app.main:app` for uvicorn, built on first access so importing this module has no side effects."""
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
