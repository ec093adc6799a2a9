"""How long a request may keep working: its deadline, the service's drain, and its client's presence.

A `Ticket` travels with a request's work into the worker thread; the `Denoiser` calls `check()` before
each tile, so work stops within one tile (about a second on 2 cores) of its client leaving, its deadline
passing, or the drain running out. Without it a client that gave up after 3 s on a 24-s upload still
held the only slot: the next request waited 22.6 s (issue 13).

`Drain`: on SIGTERM uvicorn stops accepting connections and waits up to `--timeout-graceful-shutdown`
for in-flight requests, then cancels them: their clients got no response at all. The drain starts at
the signal: readiness turns 503 (the load balancer stops sending), new image requests get 503
`shutting_down`, and work still running `drain_s - DRAIN_MARGIN_S` seconds later stops with that error,
so every client gets an answer and every stop a log line before uvicorn's own deadline.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field

from app.errors import ClientGone, DeadlineExceeded, ShuttingDown

log = logging.getLogger("app.lifecycle")
DRAIN_MARGIN_S = 2.0  # time left to answer and log before uvicorn cancels what still runs


@dataclass
class Drain:
    seconds: float  # the drain setting: uvicorn's --timeout-graceful-shutdown must be the same
    started: float | None = None  # time.monotonic() of the SIGTERM

    def begin(self) -> None:
        if self.started is None:
            self.started = time.monotonic()
            log.info("draining", extra={"drain_s": self.seconds})

    @property
    def deadline(self) -> float | None:
        return None if self.started is None else self.started + max(0.0, self.seconds - DRAIN_MARGIN_S)

    def install(self) -> None:
        """Start draining on SIGTERM and SIGINT, then hand the signal on to the server's own handler."""
        if threading.current_thread() is not threading.main_thread():
            return  # signals can only be caught on the main thread (tests run apps elsewhere)
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)

            def handler(number, frame, previous=previous) -> None:
                self.begin()
                if callable(previous):
                    previous(number, frame)
                elif previous == signal.SIG_DFL:  # no server handler (not uvicorn): the default, exit
                    signal.signal(number, signal.SIG_DFL)
                    os.kill(os.getpid(), number)

            signal.signal(signum, handler)


@dataclass
class Ticket:
    deadline: float  # time.monotonic() after which the work stops
    drain: Drain
    client_gone: threading.Event = field(default_factory=threading.Event)
    started_work: bool = False  # has a slot: stopped between tiles from now on, no longer cancelled in line
    timeout_s: float = 0.0

    @classmethod
    def start(cls, timeout_s: float, drain: Drain) -> "Ticket":
        return cls(time.monotonic() + timeout_s, drain, timeout_s=timeout_s)

    def begin_work(self) -> None:
        """The request has its slot: the deadline counts from now (`request_timeout_s` is work time, the
        queue excluded). From arrival, the fourth of four 6000x4000 photos sent at once to `blind-unet`
        (about 89 s each) was stopped at 300 s after 33 s of its own work (`scripts/memory_cases.py
        --model blind-unet`)."""
        self.started_work = True
        self.deadline = time.monotonic() + self.timeout_s

    def check(self) -> None:
        """Raise the reason to stop, if there is one (called between tiles, in the worker thread)."""
        now = time.monotonic()
        if self.client_gone.is_set():
            raise ClientGone("the client disconnected; the work was stopped")
        if self.drain.deadline is not None and now > self.drain.deadline:
            raise ShuttingDown("the service is shutting down and the work could not finish in time; retry")
        if now > self.deadline:
            raise DeadlineExceeded("the request ran past the service's time limit (request_timeout_s); "
                                   "try a smaller image or ensemble=1")
