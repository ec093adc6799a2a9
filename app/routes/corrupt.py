"""POST /corrupt: add salt-and-pepper noise to an image, for demos and tests. Always lossless."""

from __future__ import annotations

import secrets
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.imaging import LOSSLESS_FORMATS, DecodedImage, decode, encode
from app.noise import salt_and_pepper
from app.responses import IMAGE_CONTENT, error_docs
from app.routes.formats import negotiate
from app.services import Services, get_services

router = APIRouter(tags=["images"])
MAX_SEED = 2**63 - 1


@router.post(
    "/corrupt",
    response_class=Response,
    responses={200: {"content": {k: v for k, v in IMAGE_CONTENT.items() if k != "image/jpeg"},
                     "description": "the noisy image (lossless: JPEG would smear the impulses)"},
               **error_docs(400, 406, 413, 415, 422, 503)},
    summary="Add salt-and-pepper noise to an image",
)
async def corrupt(
    request: Request,
    file: UploadFile = File(..., description="PNG, JPEG, WebP, TIFF, BMP or GIF (first frame)"),
    density: float = Form(0.2, ge=0.0, le=1.0, description="fraction of values hit"),
    salt_ratio: float = Form(0.5, ge=0.0, le=1.0, description="share of hits that become white (salt)"),
    per_channel: bool = Form(True, description="true: channels hit independently; false: whole pixels"),
    seed: int | None = Form(None, ge=0, le=MAX_SEED, description="same seed + same image = same noise; "
                                                                 "default: random, reported in X-Seed"),
    format: Literal["png", "webp", "tiff"] | None = Form(None, description="output format; default: from Accept, else PNG"),
    services: Services = Depends(get_services),
) -> Response:
    fmt = negotiate(format, request.headers.get("accept"), allowed=LOSSLESS_FORMATS)
    seed = secrets.randbelow(2**31) if seed is None else seed
    data = await file.read()
    max_pixels = services.settings.max_pixels

    def work() -> tuple[bytes, str, int]:
        image = decode(data, max_pixels)
        noisy = salt_and_pepper(image.pixels, density, salt_ratio, per_channel, seed)
        body, media_type = encode(DecodedImage(noisy, image.alpha, image.source_format, image.icc_profile), fmt)
        return body, media_type, image.pixels.shape[0] * image.pixels.shape[1]

    async with services.gate.slot():
        body, media_type, pixels = await run_in_threadpool(work)
    services.metrics.pixels.labels("/corrupt", "").inc(pixels)
    return Response(body, media_type=media_type, headers={"X-Seed": str(seed), "X-Noise-Density": str(density)})
