"""How many CPUs this process may really use: affinity and cgroup quota, not the host's count.

onnxruntime's default (0) counts host cores, which oversubscribes a container limited to fewer.
"""

from __future__ import annotations

import math
import os
from pathlib import Path


def available_cpus() -> int:
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            n = min(n, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)
