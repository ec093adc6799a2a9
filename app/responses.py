"""The one JSON error body and the OpenAPI description of it."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.errors import ApiError


class ErrorBody(BaseModel):
    error: str
    detail: str


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers or None)


def error_docs(*statuses: int) -> dict[int | str, dict]:
    """`responses=` entries so the OpenAPI schema lists each error status with the error body."""
    return {status: {"model": ErrorBody, "description": "error"} for status in statuses}


IMAGE_CONTENT = {"image/png": {}, "image/webp": {}, "image/tiff": {}, "image/jpeg": {}}
