"""Admission control: at most N inferences at once, a bounded queue behind them, 503 beyond.

On a CPU each inference already uses every core, so running more at once only adds memory and
latency. A request is admitted (`admission()`, by `app.admission.Admission`, before its body is read)
only while fewer than `max_concurrent + max_queue` are admitted; it then uploads, waits for a slot
(`slot()`), runs. So the queue bounds everything an image request holds: its upload (spooled by the
form parser, read into memory only inside the slot), its place in line, its work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from app.errors import Overloaded


class InferenceGate:
    def __init__(self, max_concurrent: int, max_queue: int, retry_after_s: int):
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.retry_after_s = retry_after_s
        self._slots = asyncio.Semaphore(max_concurrent)
        self.admitted = 0
        self.running = 0

    @property
    def waiting(self) -> int:
        """Admitted requests not running yet: uploading, or queued for a slot."""
        return max(0, self.admitted - self.running)

    @contextmanager
    def admission(self) -> Iterator[None]:
        if self.admitted >= self.max_concurrent + self.max_queue:
            raise Overloaded(f"the service is busy ({self.running} running, {self.waiting} queued); retry shortly",
                             headers={"Retry-After": str(self.retry_after_s)})
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self._slots.acquire()
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._slots.release()
