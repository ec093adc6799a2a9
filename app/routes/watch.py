"""What the image routes share beyond HTTP parsing: one file per form, and the request's ticket (deadline,
drain, client presence) with a watch on the client while it works."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import Request

from app.errors import ClientGone, InvalidParameter
from app.lifecycle import Ticket
from app.services import Services

POLL_S = 0.1  # how often the connection is asked whether the client is still there


async def one_file(request: Request, field: str = "file") -> None:
    """422 when the form carries the file field twice: the form parser keeps only the last one, and a
    client that sent two would get one of them denoised without a word."""
    if len((await request.form()).getlist(field)) > 1:
        raise InvalidParameter(f"send one {field!r} field per request, not several")


@contextlib.asynccontextmanager
async def watched(request: Request, services: Services) -> AsyncIterator[Ticket]:
    """A ticket for this request's work. When the client disconnects, the ticket says so (running work
    stops at its next tile) and a request still queued for a slot gives its place up at once."""
    ticket = Ticket.start(services.settings.request_timeout_s, services.drain)
    task = asyncio.current_task()
    cancelled_by_us = False

    async def poll() -> None:
        nonlocal cancelled_by_us
        while not await request.is_disconnected():
            await asyncio.sleep(POLL_S)
        ticket.client_gone.set()
        if not ticket.started_work and task is not None:
            cancelled_by_us = True
            task.cancel()

    watcher = asyncio.create_task(poll())
    try:
        yield ticket
    except asyncio.CancelledError:
        if cancelled_by_us:
            raise ClientGone("the client disconnected while queued") from None
        raise
    finally:
        watcher.cancel()
