"""Live capture for ``mbms-analyzer sniff``: dumpcap writes, we follow the file.

dumpcap (Wireshark's capture engine) runs as a child process and writes every
packet to a pcapng as it arrives, flushing each one, so nothing captured is
lost if the analyzer or its UI dies: the file is valid up to the last whole
packet. The analysis follows the growing file (``read_capture(follow=...)``).
Its counters come from dumpcap's own report on stderr (``Packets: N`` while it
runs; received/dropped per interface when it stops).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

_COUNT = re.compile(r"Packets(?: captured)?: (\d+)")
_DROPS = re.compile(r"received/dropped on interface '([^']*)': (\d+)/(\d+)")


def _die_with_parent() -> None:
    """In the dumpcap child: SIGTERM it when the analyzer dies, even by SIGKILL
    (Linux PR_SET_PDEATHSIG), so that it closes the pcapng cleanly instead of
    capturing on, orphaned. Elsewhere a no-op."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class SniffError(Exception):
    """The capture cannot start: the message says what is needed."""


@dataclass
class LiveCapture:
    """A running dumpcap and what it has said.

    Attributes:
        interface, bpf: what to capture.
        path: the pcapng written (a kept temporary one when none is given).
        duration: stop after this many seconds (0: until :meth:`stop`).
        packets: dumpcap's packet count so far.
        received, dropped: its final per-interface counts (None while running).
        kept_temporary: the file was made up by us (the caller names it on exit).
    """

    interface: str
    bpf: str = ""
    path: str | None = None
    duration: float = 0.0
    packets: int = 0
    received: int | None = None
    dropped: int | None = None
    error: str = ""
    kept_temporary: bool = False
    started: float = 0.0
    _proc: subprocess.Popen | None = field(default=None, repr=False)
    _reader: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> "LiveCapture":
        dumpcap = shutil.which("dumpcap")
        if dumpcap is None:
            raise SniffError("sniff needs dumpcap (apt-get install tshark, or Wireshark)")
        if self.path is None:
            fd, name = tempfile.mkstemp(prefix="mbms-sniff-", suffix=".pcapng")
            os.close(fd)
            self.path, self.kept_temporary = name, True
        cmd = [dumpcap, "-i", self.interface, "-w", self.path]
        if self.bpf:
            cmd += ["-f", self.bpf]
        if self.duration > 0:
            cmd += ["-a", f"duration:{self.duration:g}"]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True, errors="replace", preexec_fn=_die_with_parent)
        self.started = time.monotonic()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        # dumpcap says within a moment whether it may capture here
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and self.running() and not self._capturing():
            time.sleep(0.05)
        if not self.running() and not self._capturing():
            self._reader.join(timeout=2)
            if self.kept_temporary:
                Path(self.path).unlink(missing_ok=True)
            raise SniffError(self._why())
        return self

    def _capturing(self) -> bool:
        try:
            return Path(self.path or "").stat().st_size > 0
        except OSError:
            return False

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        buf = ""
        while True:
            chunk = self._proc.stderr.read(256)
            if not chunk:
                break
            buf = (buf + chunk)[-8192:]
            for m in _COUNT.finditer(chunk):
                self.packets = int(m.group(1))
            for m in _DROPS.finditer(buf):
                self.received, self.dropped = int(m.group(2)), int(m.group(3))
        self.error = buf

    def _why(self) -> str:
        text = self.error.strip()
        if "ermission" in text or "privileges" in text or "Operation not permitted" in text:
            return (f"no permission to capture on {self.interface}: run as root, or give "
                    "dumpcap the capture capabilities (setcap cap_net_raw,cap_net_admin+eip "
                    "$(which dumpcap)) or join the wireshark group")
        last = [line for line in text.splitlines() if line.strip()][-1:] or ["no output"]
        return f"dumpcap could not capture on {self.interface}: {last[0].strip()}"

    def failure(self) -> str | None:
        """Why dumpcap stopped by itself with an error (a full disk, the interface
        gone), or None: the file holds every whole packet up to that point."""
        if self._proc is None or self._proc.poll() in (None, 0, -15, 143):
            return None
        lines = [ln.strip() for ln in self.error.splitlines() if ln.strip()
                 and not ln.startswith(("Capturing on", "File:", "Packets"))]
        return lines[-1] if lines else f"dumpcap exited with code {self._proc.returncode}"

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def rate(self, packets: int) -> float:
        """Packets per second since the start, for *packets* seen."""
        return packets / max(1e-3, time.monotonic() - self.started)

    def stop(self) -> None:
        """Stop dumpcap cleanly (SIGTERM: it finishes the pcapng) and collect its counts."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)

    def wait(self) -> None:
        """Until dumpcap stops by itself (``duration``) or on Ctrl-C."""
        if self._proc is None:
            return
        try:
            self._proc.wait()
        except KeyboardInterrupt:
            pass
        self.stop()
