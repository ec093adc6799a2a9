"""What the routes share, built once per app by the lifespan: settings, models, gate, metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.gate import InferenceGate
from app.lifecycle import Drain
from app.observability import Metrics
from app.registry import ModelRegistry
from app.settings import Settings


@dataclass
class Services:
    settings: Settings
    registry: ModelRegistry
    gate: InferenceGate
    metrics: Metrics
    drain: Drain


def get_services(request: Request) -> Services:
    return request.app.state.services


# The routes' parameter type: `services: ServicesDep` (as the full-stack FastAPI template's SessionDep).
ServicesDep = Annotated[Services, Depends(get_services)]
