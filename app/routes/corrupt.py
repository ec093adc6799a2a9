"""POST /corrupt: add impulse noise to an image, for demos and tests. Always returned losslessly (after
an optional lossy re-encode, the re-encoded pixels).

HTTP work only; the noise is `app.pipeline.corrupt`, the same function `image-noise-removal corrupt` calls.
"""

from __future__ import annotations

import secrets
from typing import Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.background import BackgroundTask

from app import pipeline
from app.error_handlers import error_docs
from app.errors import InvalidParameter
from app.formats import INPUT_DESCRIPTION, LOSSLESS, LosslessFormatName, response_content
from app.imaging import encode
from app.memory import release_memory
from app.noise import MAX_SEED, NOISE_KINDS, NoiseSpec
from app.routes.formats import negotiate
from app.routes.watch import one_file, watched
from app.services import ServicesDep

router = APIRouter(tags=["images"])
NoiseKind = Literal[NOISE_KINDS]  # type: ignore[valid-type]


@router.post(
    "/corrupt",
    response_class=Response,
    responses={200: {"content": response_content(LOSSLESS),
                     "description": "the noisy image (lossless: JPEG would smear the impulses)"},
               **error_docs(400, 406, 413, 415, 422, 503)},
    summary="Add impulse noise to an image (salt-and-pepper, impulse-range, random-valued; optional JPEG/WebP)",
)
async def corrupt(
    request: Request,
    services: ServicesDep,
    file: UploadFile = File(..., description=INPUT_DESCRIPTION),
    density: float = Form(0.2, ge=0.0, le=1.0, description="fraction of values hit"),
    salt_ratio: float = Form(0.5, ge=0.0, le=1.0, description="share of hits that become white (salt)"),
    per_channel: bool = Form(True, description="true: channels hit independently; false: whole pixels"),
    noise: NoiseKind = Form("salt-pepper", description="salt-pepper: 0 and the maximum; impulse-range: within "
                            "`spread` of them; random-valued: anywhere in the range"),
    spread: float = Form(30.0, ge=0.0, le=255.0, description="impulse-range: how far from 0 and the maximum "
                         "(0..255 scale, whatever the bit depth)"),
    jpeg_quality: int | None = Form(None, ge=1, le=100, description="then save as JPEG at this quality (as a "
                                    "camera or website would) and return those pixels, losslessly; 8-bit images"),
    webp_quality: int | None = Form(None, ge=1, le=100, description="then save as lossy WebP at this quality instead"),
    seed: int | None = Form(None, ge=0, le=MAX_SEED, description="same seed + same image = same noise; "
                                                                 "default: random, reported in X-Seed"),
    format: LosslessFormatName | None = Form(None, description="output format; default: from Accept, else PNG"),
) -> Response:
    await one_file(request)
    fmt = negotiate(format, request.headers.get("accept"), allowed=LOSSLESS)
    try:
        spec = NoiseSpec(noise, density, salt_ratio, per_channel, spread, jpeg_quality, webp_quality)
    except ValueError as e:  # both qualities at once
        raise InvalidParameter(str(e)) from None
    seed = secrets.randbelow(2**31) if seed is None else seed

    def work(data: bytes) -> tuple[bytes, str, int]:
        noisy = pipeline.corrupt(data, services.settings.max_pixels, spec, seed)
        return *encode(noisy, fmt), noisy.pixel_count

    async with watched(request, services) as ticket, services.gate.slot():
        ticket.begin_work()
        body, media_type, pixels = await run_in_threadpool(work, await file.read())
    services.metrics.pixels.labels("/corrupt", "").inc(pixels)
    return Response(body, media_type=media_type, headers={"X-Seed": str(seed), "X-Noise-Density": str(density), "X-Noise-Kind": noise},
                    background=BackgroundTask(release_memory, pixels))
