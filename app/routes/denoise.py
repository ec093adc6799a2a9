"""POST /denoise: upload an image, get it back with the salt-and-pepper noise removed (or, with
`output=noise-map`, the map of the pixels the model changed).

HTTP work only: the form, the output format, the admission gate, headers and metrics. The work
itself is `app.pipeline.denoise`, the same function the command line calls.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.background import BackgroundTask

from app import pipeline
from app.error_handlers import error_docs
from app.errors import InvalidParameter
from app.formats import INPUT_DESCRIPTION, LOSSLESS, OUTPUT_FORMATS, FormatName, response_content
from app.imaging import encode
from app.inference import ENSEMBLES
from app.memory import release_memory
from app.registry import AUTO
from app.routes.formats import negotiate
from app.routes.watch import one_file, watched
from app.services import ServicesDep

router = APIRouter(tags=["images"])


@router.post(
    "/denoise",
    response_class=Response,
    responses={200: {"content": response_content(), "description": "the cleaned image, same size and mode"},
               **error_docs(400, 404, 406, 413, 415, 422, 503)},
    summary="Remove salt-and-pepper noise from an image",
)
async def denoise(
    request: Request,
    services: ServicesDep,
    file: UploadFile = File(..., description=INPUT_DESCRIPTION),
    model: str | None = Form(None, description=f"model name from GET /models; default: the service's default; "
                             f"{AUTO}: the default's output, or where the default leaves most of the impulses "
                             "alone (at any estimate, where X-Try-Model needs 5%), the output of the model "
                             "X-Try-Model would name, unless its output is close to the default's (X-Models-Run "
                             "lists what ran; the default is not run where that cannot change the choice: a JPEG or "
                             "lossy WebP file, 5% of "
                             "values or more that look like impulses other than 0 and the maximum, or too few "
                             "values at 0 or the maximum for it to take the impulses)"),
    format: FormatName | None = Form(None, description="output format; default: from Accept, else PNG"),
    quality: int = Form(95, ge=1, le=100, description="JPEG quality (JPEG output only)"),
    ensemble: int = Form(1, json_schema_extra={"enum": list(ENSEMBLES)},
                         description=f"one of {ENSEMBLES}: 8 averages the model over the 8 flips and rotations "
                         "of the image (slightly better, 8x the time; images up to max_pixels / 8)"),
    output: Literal["image", "noise-map"] = Form("image", description="image: the cleaned image; noise-map: a "
                                                  "grey image of its size, 255 where the model changed a pixel (the "
                                                  "noise it found), 0 elsewhere, in a lossless format"),
) -> Response:
    options = pipeline.DenoiseOptions(ensemble=ensemble, noise_map=output == "noise-map")
    if options.noise_map and format is not None and format not in LOSSLESS:
        raise InvalidParameter(f"the noise map is sent in a lossless format ({', '.join(LOSSLESS)}), not {format}")
    await one_file(request)
    auto = model == AUTO
    loaded = services.registry.get(None if auto else model)
    fmt = negotiate(format, request.headers.get("accept"), LOSSLESS if options.noise_map else tuple(OUTPUT_FORMATS))
    # Reading, decoding and inference hold a slot (they are what costs memory and cores): a queued
    # upload stays spooled on disk. Encoding runs after the slot is released, overlapping the next
    # request's inference. The ticket stops the work between tiles (deadline, drain, client gone).
    async with watched(request, services) as ticket, services.gate.slot():
        ticket.begin_work()
        data = await file.read()
        if auto:
            chosen = await run_in_threadpool(pipeline.denoise_auto, data, services.registry,
                                             services.settings.max_pixels, options, ticket.check)
        else:
            result = await run_in_threadpool(pipeline.denoise, data, loaded.denoiser, services.settings.max_pixels,
                                             options, ticket.check)
            chosen = pipeline.Chosen(result, loaded.name, [(loaded.name, result.seconds)])
    result = chosen.result
    loaded = services.registry.models[chosen.model]
    body, media_type = await run_in_threadpool(encode, result.noise_map if options.noise_map else result.image,
                                               fmt, quality)
    for name, seconds in chosen.runs:  # model=auto may run two models: each is timed and counted
        services.metrics.inference.labels(name).observe(seconds)
        services.metrics.pixels.labels("/denoise", name).inc(result.pixels)
    headers = {
        "X-Model": loaded.name,
        "X-Provider": loaded.denoiser.provider,
        "X-Inference-Ms": f"{result.seconds * 1000:.1f}",
        "X-Impulse-Fraction": f"{result.impulse_fraction:.4f}",
        "X-Changed-Fraction": f"{result.changed_fraction:.4f}",
        "X-Ensemble": str(options.ensemble),
    }
    if auto:  # what it tried is said, so nothing is left to suggest
        headers["X-Models-Run"] = ", ".join(name for name, _ in chosen.runs)
    elif suggestion := pipeline.model_to_try(result, loaded.name, services.registry.models):
        headers["X-Try-Model"] = suggestion
    return Response(body, media_type=media_type, headers=headers,
                    background=BackgroundTask(release_memory, result.pixels))
