"""POST /compare: PSNR and SSIM of an image against a reference, with the project's one metrics code.

The demo page uses it to show how close the cleaned image is to the original it corrupted, so the
numbers it shows are the ones the evaluation tables use (uint8, PSNR peak 255, Gaussian SSIM).
"""

from __future__ import annotations

import math

from fastapi import APIRouter, File, UploadFile
from fastapi.concurrency import run_in_threadpool

from app.error_handlers import error_docs
from app.errors import InvalidParameter
from app.imaging import decode, to_8bit
from app.quality import psnr, ssim
from app.services import ServicesDep

router = APIRouter(tags=["images"])


@router.post("/compare", responses=error_docs(400, 413, 415, 422, 503), summary="PSNR and SSIM against a reference image")
async def compare(
    services: ServicesDep,
    reference: UploadFile = File(..., description="the clean image"),
    image: UploadFile = File(..., description="the image to score, same size"),
) -> dict:
    ref_data, img_data = await reference.read(), await image.read()
    max_pixels = services.settings.max_pixels

    def work() -> dict:
        a = to_8bit(decode(ref_data, max_pixels).pixels)
        b = to_8bit(decode(img_data, max_pixels).pixels)
        try:  # the metrics check sizes (equal, at least SSIM's 11x11 window) themselves
            value, structure = psnr(a, b), ssim(a, b)
        except ValueError as e:
            raise InvalidParameter(str(e)) from None
        return {"psnr": None if math.isinf(value) else round(value, 4), "identical": math.isinf(value),
                "ssim": round(structure, 6)}

    async with services.gate.slot():
        return await run_in_threadpool(work)
