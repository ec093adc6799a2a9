"""POST /compare: PSNR and SSIM of an image against a reference, with the project's one metrics code.

The demo page uses it to show how close the cleaned image is to the original it corrupted, so the
numbers it shows are the ones the evaluation tables use (uint8, PSNR peak 255, Gaussian SSIM).
"""

from __future__ import annotations

import math

from fastapi import APIRouter, BackgroundTasks, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from app.error_handlers import error_docs
from app.errors import InvalidParameter
from app.imaging import decode, to_8bit
from app.memory import release_memory
from app.quality import psnr, ssim
from app.routes.watch import watched
from app.services import ServicesDep

router = APIRouter(tags=["images"])


@router.post("/compare", responses=error_docs(400, 413, 415, 422, 503), summary="PSNR and SSIM against a reference image")
async def compare(
    request: Request,
    services: ServicesDep,
    background: BackgroundTasks,
    reference: UploadFile = File(..., description="the clean image"),
    image: UploadFile = File(..., description="the image to score, same size"),
) -> dict:
    max_pixels = services.settings.max_pixels

    def work(ref_data: bytes, img_data: bytes, check) -> tuple[dict, int]:
        a = to_8bit(decode(ref_data, max_pixels).pixels)
        b = to_8bit(decode(img_data, max_pixels).pixels)
        check()
        try:  # the metrics check sizes (equal, at least SSIM's 11x11 window) themselves
            value, structure = psnr(a, b), ssim(a, b)
        except ValueError as e:
            raise InvalidParameter(str(e)) from None
        return {"psnr": None if math.isinf(value) else round(value, 4), "identical": math.isinf(value),
                "ssim": round(structure, 6)}, a.shape[0] * a.shape[1]

    async with watched(request, services) as ticket, services.gate.slot():
        ticket.begin_work()
        scores, pixels = await run_in_threadpool(work, await reference.read(), await image.read(), ticket.check)
    background.add_task(release_memory, 2 * pixels)
    return scores
