"""Where something was seen: capture, frame, time and the two endpoints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Where:
    """Where an observation was made."""

    capture: int
    frame: int
    time: float
    src: str
    dst: str

    @property
    def src_ip(self) -> str:
        return self.src.rsplit(":", 1)[0].strip("[]")

    @property
    def dst_ip(self) -> str:
        return self.dst.rsplit(":", 1)[0].strip("[]")
