"""POST /denoise: upload an image, get it back with the salt-and-pepper noise removed."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.errors import ImageTooLarge, InvalidParameter
from app.imaging import decode, encode
from app.inference import ENSEMBLES, DenoiseResult
from app.noise import impulse_fraction
from app.responses import IMAGE_CONTENT, error_docs
from app.routes.formats import OutputFormat, negotiate
from app.services import Services, get_services

router = APIRouter(tags=["images"])


@router.post(
    "/denoise",
    response_class=Response,
    responses={200: {"content": IMAGE_CONTENT, "description": "the cleaned image, same size and mode"},
               **error_docs(400, 404, 406, 413, 415, 422, 503)},
    summary="Remove salt-and-pepper noise from an image",
)
async def denoise(
    request: Request,
    file: UploadFile = File(..., description="PNG, JPEG, WebP, TIFF, BMP or GIF (first frame)"),
    model: str | None = Form(None, description="model name from GET /models; default: the service's default"),
    format: OutputFormat | None = Form(None, description="output format; default: from Accept, else PNG"),
    quality: int = Form(95, ge=1, le=100, description="JPEG quality (JPEG output only)"),
    ensemble: int = Form(1, description=f"one of {ENSEMBLES}: 8 averages the model over the 8 flips and rotations "
                         "of the image (slightly better, 8x the time; images up to max_pixels / 8)"),
    services: Services = Depends(get_services),
) -> Response:
    if ensemble not in ENSEMBLES:
        raise InvalidParameter(f"ensemble must be one of {', '.join(map(str, ENSEMBLES))}, not {ensemble}")
    loaded = services.registry.get(model)
    fmt = negotiate(format, request.headers.get("accept"))
    data = await file.read()
    settings = services.settings

    def infer() -> tuple[DenoiseResult, float, int]:
        try:  # an ensemble runs the model `ensemble` times: the pixel budget is shared
            image = decode(data, settings.max_pixels // ensemble)
        except ImageTooLarge as e:
            raise ImageTooLarge(e.detail + (f" (ensemble={ensemble} runs the model {ensemble} times: its limit is "
                                            f"max_pixels / {ensemble})" if ensemble > 1 else "")) from None
        pixels = image.pixels.shape[0] * image.pixels.shape[1]
        return loaded.denoiser.denoise(image, ensemble), impulse_fraction(image.pixels), pixels

    # Decoding and inference hold a slot (they are what costs memory and cores); encoding the result
    # runs after the slot is released, overlapping the next request's inference.
    async with services.gate.slot():
        result, noise, pixels = await run_in_threadpool(infer)
    body, media_type = await run_in_threadpool(encode, result.image, fmt, quality)
    seconds = result.seconds
    services.metrics.inference.labels(loaded.name).observe(seconds)
    services.metrics.pixels.labels("/denoise", loaded.name).inc(pixels)
    return Response(body, media_type=media_type, headers={
        "X-Model": loaded.name,
        "X-Provider": loaded.denoiser.provider,
        "X-Inference-Ms": f"{seconds * 1000:.1f}",
        "X-Impulse-Fraction": f"{noise:.4f}",
        "X-Ensemble": str(ensemble),
    })
