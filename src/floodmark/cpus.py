"""How many cores this process may use: every default worker count starts from it."""

from __future__ import annotations

import os


def available_cpus() -> int:
    """The cores this process may run on (its CPU affinity; all cores where unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
