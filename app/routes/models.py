"""GET /models: the loaded models, the default, the provider each runs on, the int8 twin that answers for a
float model on the CPU (`runs_as`), their model cards."""

from __future__ import annotations

from fastapi import APIRouter

from app.error_handlers import error_docs
from app.services import ServicesDep

router = APIRouter(tags=["models"])


@router.get("/models", responses=error_docs(503), summary="List the models")
async def list_models(services: ServicesDep) -> dict:
    registry = services.registry
    registry.get(None)  # 503 until loaded
    return {"default": registry.default_name, "models": registry.describe()}
