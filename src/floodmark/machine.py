"""What this machine offers a process, known without importing Polars or NumPy."""

from __future__ import annotations

import os


def available_cpus() -> int:
    """The cores this process may run on (its CPU affinity where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
