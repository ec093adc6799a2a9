"""schemathesis against the app's own OpenAPI schema: no server errors, responses match the schema.

A bounded number of generated requests per operation (hypothesis, derandomized so CI is stable).
Every check runs except "schema-valid data must be accepted": an upload API cannot express "a real
image" in a schema (an empty `file` is schema-valid and correctly refused with 400).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.main import create_app
from app.settings import Settings
from tests.conftest import MODELS

app = create_app(Settings(models_dir=MODELS, threads=2, log_json=True))
app.state.services.registry.load()  # schemathesis calls the ASGI app without its lifespan
app.state.services.registry.warm_up()
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_api_never_fails_and_matches_its_schema(case):
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
