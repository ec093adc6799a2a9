"""GET /models: the loaded models, the default, the provider each runs on, the int8 twin that answers for a
float model on the CPU (`runs_as`), their model cards, and what `model=auto` may run after the default."""

from __future__ import annotations

from fastapi import APIRouter

from app import pipeline
from app.error_handlers import error_docs
from app.registry import AUTO
from app.services import ServicesDep

router = APIRouter(tags=["models"])


@router.get("/models", responses=error_docs(503), summary="List the models")
async def list_models(services: ServicesDep) -> dict:
    registry = services.registry
    registry.get(None)  # 503 until loaded
    then = [name for name in pipeline.SUGGESTED if name in registry.models]
    return {"default": registry.default_name, "models": registry.describe(),
            AUTO: {"then": then, "description": f"model={AUTO}: the default, then, where it left most of the "
                   f"upload's impulses alone, the model X-Try-Model would name ({pipeline.SAVED_MODEL} for colour "
                   f"pixels saved as JPEG, {pipeline.REAL_WORLD_MODEL} for the rest), if served"}}
