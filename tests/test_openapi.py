"""The OpenAPI schema describes the multipart forms as clients must send them."""

from app.main import create_app
from app.settings import Settings
from tests.conftest import MODELS


def test_optional_form_fields_are_optional_not_nullable():
    schema = create_app(Settings(models_dir=MODELS)).openapi()
    body = schema["components"]["schemas"]["Body_denoise_denoise_post"]
    assert body["required"] == ["file"]
    for name in ("model", "format"):
        field = body["properties"][name]
        assert "anyOf" not in field and field.get("type") != "null", (name, field)
    assert body["properties"]["format"]["enum"] == ["png", "webp", "tiff", "jpeg"]
    corrupt = schema["components"]["schemas"]["Body_corrupt_corrupt_post"]["properties"]
    assert corrupt["format"]["enum"] == ["png", "webp", "tiff"] and "anyOf" not in corrupt["seed"]
