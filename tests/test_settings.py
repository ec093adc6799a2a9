"""Settings come from DENOISE_* variables and reach the parts they configure."""

import json
import logging

import pytest

from app.observability import JsonFormatter, configure_logging
from app.registry import ModelRegistry
from app.settings import Settings
from tests.conftest import MODELS


def test_environment_variables_reach_the_sessions(monkeypatch):
    for name, value in {"MODELS_DIR": str(MODELS), "PROVIDER": "cpu", "THREADS": "1", "TILE_SIZE": "128",
                        "TILE_MARGIN": "32", "MAX_PIXELS": "1234567", "MAX_QUEUE": "3", "LOG_JSON": "false",
                        "PREFER_INT8": "false"}.items():
        monkeypatch.setenv(f"DENOISE_{name}", value)
    settings = Settings()
    assert (settings.provider, settings.threads, settings.tile_size, settings.max_pixels, settings.max_queue,
            settings.log_json, settings.prefer_int8) == ("cpu", 1, 128, 1234567, 3, False, False)
    registry = ModelRegistry(settings)
    registry.load()
    assert registry.twins == {}  # no int8 twin answers for its float model
    for model in registry.models.values():
        denoiser = model.denoiser
        assert denoiser.provider == "CPUExecutionProvider"
        assert denoiser.session.get_session_options().intra_op_num_threads == 1
        assert denoiser.tile_size == 128 and denoiser.tile_margin == 32


def test_bad_values_are_refused(monkeypatch):
    from pydantic import ValidationError

    monkeypatch.setenv("DENOISE_PROVIDER", "tpu")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize("as_json", [True, False])
def test_log_format_follows_the_setting(as_json):
    configure_logging(as_json)
    handler = logging.getLogger("app").handlers[0]
    assert isinstance(handler.formatter, JsonFormatter) is as_json
    record = logging.makeLogRecord({"name": "app.test", "msg": "hello", "levelname": "INFO", "request_id": "r1"})
    line = handler.format(record)
    if as_json:
        body = json.loads(line)
        assert body["message"] == "hello" and body["request_id"] == "r1" and body["level"] == "INFO"
    else:
        assert line.endswith("INFO app.test hello")
    configure_logging(True)
