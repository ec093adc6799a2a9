"""Liveness (the process answers) and readiness (models loaded and warmed up), as separate questions."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.errors import NotReady
from app.responses import error_docs
from app.services import Services, get_services

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", summary="The process is up")
async def live() -> dict:
    return {"status": "live"}


@router.get("/ready", responses=error_docs(503), summary="Models are loaded and warm")
async def ready(services: Services = Depends(get_services)) -> dict:
    if not services.registry.ready:
        raise NotReady("the models are still loading", headers={"Retry-After": "5"})
    return {"status": "ready", "models": list(services.registry.models), "default": services.registry.default_name}
