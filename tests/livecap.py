"""Live capture on the loopback interface for tests: real TCP traffic into a pcap.

``capture_loopback(path, bpf)`` runs dumpcap (part of the tshark packages) on
``lo`` while the ``with`` block runs, then stops it. It needs root (CI runs as
root) and dumpcap; :func:`available` says whether both are there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def available() -> bool:
    """dumpcap is installed and we may capture."""
    return shutil.which("dumpcap") is not None and os.geteuid() == 0


@contextmanager
def capture_loopback(path: Path, bpf: str) -> Iterator[None]:
    """Capture ``lo`` traffic matching *bpf* into *path* (pcap) around the block."""
    proc = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-f", bpf, "-P", "-w", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not path.exists() or path.stat().st_size < 24:  # the file header is written at start
        if proc.poll() is not None or time.monotonic() > deadline:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            proc.kill()
            raise RuntimeError(f"dumpcap did not start: {err.strip()}")
        time.sleep(0.05)
    time.sleep(0.3)
    try:
        yield
    finally:
        # let the last packets reach the file: under load dumpcap lags, so wait until
        # the file has stopped growing (bounded), then stop it (it flushes on exit)
        time.sleep(0.5)
        deadline, size, steady = time.monotonic() + 5, -1, 0
        while time.monotonic() < deadline and steady < 3:
            now = path.stat().st_size
            steady = steady + 1 if now == size else 0
            size = now
            time.sleep(0.2)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
