"""The service's OpenAPI schema, adjusted where FastAPI's default misdescribes multipart forms."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi


def form_openapi(app: FastAPI) -> dict:
    """OpenAPI with optional form fields described as optional, not nullable.

    A multipart form cannot send null (only the text "null"); an optional field is simply left out.
    FastAPI writes `anyOf: [T, null]` for `T | None = Form(None)`, which tells clients and
    schemathesis that "null" is a valid value. Drop the null branch from form bodies.
    """
    if app.openapi_schema:
        return app.openapi_schema
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
