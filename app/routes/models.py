"""GET /models: the loaded models, the default, the provider each runs on, their model cards."""

from __future__ import annotations

from fastapi import APIRouter

from app.error_handlers import error_docs
from app.services import ServicesDep

router = APIRouter(tags=["models"])


@router.get("/models", responses=error_docs(503), summary="List the models")
async def list_models(services: ServicesDep) -> dict:
    registry = services.registry
    registry.get(None)  # 503 until loaded
    return {"default": registry.default_name, "models": [m.describe() for m in registry.models.values()]}
