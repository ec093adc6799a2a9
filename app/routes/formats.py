"""Output format from the `format` field or the Accept header (the field wins)."""

from __future__ import annotations

from app.errors import NotAcceptable
from app.formats import MEDIA_TYPES, OUTPUT_FORMATS


def negotiate(explicit: str | None, accept: str | None, allowed: tuple[str, ...] = tuple(OUTPUT_FORMATS)) -> str:
    """The chosen format name; PNG when nothing is asked for or anything goes."""
    if explicit:
        return explicit
    if not accept:
        return "png"
    ranked = []
    for i, part in enumerate(accept.split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, i, media.lower()))
    for _, _, media in sorted(ranked):
        if media in ("*/*", "image/*"):
            return "png"
        name = MEDIA_TYPES.get(media)
        if name in allowed:
            return name
    raise NotAcceptable(f"none of the accepted types ({accept}) can be produced; use one of "
                        + ", ".join(OUTPUT_FORMATS[n].media_type for n in allowed))
