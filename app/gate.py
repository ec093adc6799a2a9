"""Admission control: at most N inferences at once, a bounded queue behind them, 503 beyond.

On a CPU each inference already uses every core, so running more at once only adds memory and
latency; requests past the queue get 503 + Retry-After at once instead of waiting without bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.errors import Overloaded


class InferenceGate:
    def __init__(self, max_concurrent: int, max_queue: int, retry_after_s: int):
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.retry_after_s = retry_after_s
        self._slots = asyncio.Semaphore(max_concurrent)
        self.waiting = 0
        self.running = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.running >= self.max_concurrent and self.waiting >= self.max_queue:
            raise Overloaded(f"the service is busy ({self.running} running, {self.waiting} queued); retry shortly",
                             headers={"Retry-After": str(self.retry_after_s)})
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._slots.release()
