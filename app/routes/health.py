"""Liveness (the process answers) and readiness (models loaded and warmed up), as separate questions."""

from __future__ import annotations

from fastapi import APIRouter

from app.error_handlers import error_docs
from app.errors import NotReady, ShuttingDown
from app.services import ServicesDep

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", summary="The process is up")
async def live() -> dict:
    return {"status": "live"}


@router.get("/ready", responses=error_docs(503), summary="Models are loaded and warm")
async def ready(services: ServicesDep) -> dict:
    if services.drain.started:
        raise ShuttingDown("the service is shutting down", headers={"Retry-After": "1"})
    if not services.registry.ready:
        raise NotReady("the models are still loading", headers={"Retry-After": "5"})
    return {"status": "ready", "models": list(services.registry.models), "default": services.registry.default_name}
