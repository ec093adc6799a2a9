"""Hand freed memory back to the system after big requests.

glibc keeps the heap pages of freed arrays for reuse: after four 6000x4000 photos the idle process
stayed at 1.28 GB (125 MB at start; issue 13), which a pod's memory limit counts against the next
requests. `malloc_trim(0)` returns them; it costs a few milliseconds, so it runs only after requests
over BIG_REQUEST_PIXELS, as a background task once the response has gone (and `app.inference`
shrinks onnxruntime's arena after images of that size).
"""

from __future__ import annotations

import ctypes
import ctypes.util

BIG_REQUEST_PIXELS = 2_000_000  # from this size a request hands its memory back


def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim with
        return None


_trim = _malloc_trim()


def release_memory(pixels: int) -> bool:
    """Trim the heap when the request handled at least BIG_REQUEST_PIXELS pixels; True when it did."""
    if pixels < BIG_REQUEST_PIXELS or _trim is None:
        return False
    _trim(0)
    return True
