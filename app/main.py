"""create_app(): the FastAPI service. Run with `uvicorn app.main:app` (see the README and Dockerfile).

The lifespan builds the services, then loads and warms the models in a worker thread, so
/health/live answers at once and /health/ready turns 200 when the models are usable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.admission import Admission, UploadGuard
from app.cpus import available_cpus
from app.error_handlers import install_error_handlers
from app.gate import InferenceGate
from app.lifecycle import Drain
from app.observability import Metrics, RequestContextMiddleware, configure_logging
from app.openapi import form_openapi
from app.registry import ModelRegistry
from app.routes import compare, corrupt, demo, denoise, health, models
from app.routes import metrics as metrics_route
from app.services import Services
from app.settings import Settings, get_settings

log = logging.getLogger("app")
MULTIPART_SLACK = 64 * 1024  # multipart boundaries and the small form fields around the file


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_json)
    metrics = Metrics()
    concurrent = settings.max_concurrent or max(1, available_cpus() // 8)
    gate = InferenceGate(concurrent, settings.max_queue, settings.retry_after_s)
    services = Services(settings, ModelRegistry(settings), gate, metrics, Drain(settings.drain_s))
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

        services.drain.install()  # after uvicorn's own handlers: the drain starts, then uvicorn's shutdown
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
    app.openapi = lambda: form_openapi(app)  # type: ignore[method-assign]

    install_error_handlers(app, metrics)
    for router in (denoise.router, corrupt.router, compare.router, models.router, health.router, metrics_route.router,
                   demo.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=demo.STATIC), name="static")

    # Outermost last: request ids and metrics, then early admission, then the upload guard, then the routes.
    app.add_middleware(UploadGuard, limit=settings.max_upload_bytes, slack=MULTIPART_SLACK,
                       timeout_s=settings.upload_timeout_s, metrics=metrics)
    app.add_middleware(Admission, gate=gate, drain=services.drain, metrics=metrics, reject_delay_s=settings.reject_delay_s)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app


def __getattr__(name: str) -> FastAPI:
    """`app.main:app` for uvicorn, built on first access so importing this module has no side effects."""
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
