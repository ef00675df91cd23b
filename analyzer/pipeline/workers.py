"""How many processes a run uses."""

from __future__ import annotations

import os


def default_workers() -> int:
    """Workers worth starting: the usable cores (1 means serial)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
