"""POST /compare: PSNR and SSIM of an image against a reference, with the project's one metrics code.

The demo page uses it to show how close the cleaned image is to the original it corrupted, so the
numbers it shows are the ones the evaluation tables use (uint8, PSNR peak 255, Gaussian SSIM).
"""

from __future__ import annotations

import math

import numpy as np
from fastapi import APIRouter, Depends, File, UploadFile
from fastapi.concurrency import run_in_threadpool

from app.errors import InvalidParameter
from app.imaging import decode
from app.metrics import psnr, ssim
from app.responses import error_docs
from app.services import Services, get_services

router = APIRouter(tags=["images"])


def _as_uint8(pixels: np.ndarray) -> np.ndarray:
    return (pixels >> 8).astype(np.uint8) if pixels.dtype == np.uint16 else pixels


@router.post("/compare", responses=error_docs(400, 413, 415, 422, 503), summary="PSNR and SSIM against a reference image")
async def compare(
    reference: UploadFile = File(..., description="the clean image"),
    image: UploadFile = File(..., description="the image to score, same size"),
    services: Services = Depends(get_services),
) -> dict:
    ref_data, img_data = await reference.read(), await image.read()
    max_pixels = services.settings.max_pixels

    def work() -> dict:
        a = _as_uint8(decode(ref_data, max_pixels).pixels)
        b = _as_uint8(decode(img_data, max_pixels).pixels)
        if a.shape != b.shape:
            raise InvalidParameter(f"the images differ in size or channels: {a.shape} vs {b.shape}")
        if min(a.shape[:2]) < 11:
            raise InvalidParameter("images must be at least 11x11 pixels for SSIM")
        value = psnr(a, b)
        return {"psnr": None if math.isinf(value) else round(value, 4), "identical": math.isinf(value),
                "ssim": round(ssim(a, b), 6)}

    async with services.gate.slot():
        return await run_in_threadpool(work)
