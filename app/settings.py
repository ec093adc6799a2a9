"""Service settings, read from the environment (prefix `DENOISE_`) by pydantic-settings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_MODELS = Path(__file__).resolve().parent.parent / "models"
MAX_PIXELS = 60_000_000  # the default pixel limit: a 60 MP photo (the command line's --max-pixels too)


class Settings(BaseSettings):
    """Every limit of the service; each field is documented in the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="DENOISE_", env_file=None, extra="ignore")

    models_dir: Path = Field(REPO_MODELS, description="folder of <name>.onnx + <name>.json model cards")
    default_model: str | None = Field(None, description="model used when a request names none")
    provider: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: CUDA when onnxruntime offers it")
    prefer_int8: bool = Field(True, description="on the CPU provider, a model's int8 twin (<name>-int8, made by "
                              "`python -m training quantize` from the served file) answers for it; false: float only")
    threads: int = Field(0, ge=0, description="onnxruntime intra-op threads; 0: the CPUs this process may use")
    max_upload_bytes: int = Field(50_000_000, gt=0, description="largest accepted upload")
    max_pixels: int = Field(MAX_PIXELS, gt=0, description="largest accepted image, width x height")
    tile_size: int = Field(0, ge=0, description="core size of inference tiles (rounded to the model's multiple); "
                           "0: 1024 on the CPU, 2048 on CUDA")
    tile_margin: int = Field(64, ge=0, description="context added around each tile, discarded after inference")
    max_concurrent: int = Field(0, ge=0, description="inferences at once; 0: 1 per 8 CPUs (each uses all threads), at least 1")
    max_queue: int = Field(8, ge=0, description="requests waiting for an inference slot; beyond it: 503")
    retry_after_s: int = Field(2, ge=1, description="Retry-After sent with 503 when the queue is full")
    reject_delay_s: float = Field(1.0, ge=0, description="that 503 is sent after this delay (asleep, no CPU): a client "
                                  "that retries at once cannot flood the cores with refusals")
    request_timeout_s: float = Field(300.0, gt=0, description="longest an image request may work (queue excluded); "
                                     "beyond it: 503 deadline_exceeded, at the next tile")
    upload_timeout_s: float = Field(120.0, gt=0, description="the whole upload must arrive within this time; "
                                    "beyond it: 408 (idle or dribbling clients)")
    drain_s: float = Field(30.0, ge=0, description="on SIGTERM: how long in-flight work may finish; equal to uvicorn's "
                           "--timeout-graceful-shutdown, below Kubernetes' terminationGracePeriodSeconds")
    log_json: bool = Field(True, description="structured JSON logs (false: plain text)")

    @field_validator("tile_size")
    @classmethod
    def _tile_size_is_auto_or_at_least_64(cls, value: int) -> int:
        if 0 < value < 64:
            raise ValueError("tile_size is 0 (the provider's own) or at least 64")
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
