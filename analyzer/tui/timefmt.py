"""Time as Wireshark shows it (View > Time Display Format), one format for every view.

``relative``: seconds since the first packet of the captures (Wireshark's default);
``absolute``: UTC date and time of day; ``delta``: seconds since the previous item
of the same list (the previous packet shown, the previous event of a key, the
previous row of a table). No Textual here: the widgets and tests share it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum


class TimeFormat(StrEnum):
    """The time display formats, in the order the ``t`` key cycles through them."""

    RELATIVE = "relative"
    ABSOLUTE = "absolute"
    DELTA = "delta"

    def next(self) -> "TimeFormat":
        order = list(TimeFormat)
        return order[(order.index(self) + 1) % len(order)]

    @property
    def column(self) -> str:
        """The packet list's column title for this format."""
        return {"relative": "Time", "absolute": "Time (UTC)", "delta": "Delta"}[self.value]


def format_time(t: float, fmt: TimeFormat, origin: float = 0.0,
                previous: float | None = None) -> str:
    """*t* (seconds since the epoch) as *fmt* shows it; *origin* is the first packet's
    time, *previous* the time of the item before (delta: 0 for the first)."""
    if fmt is TimeFormat.ABSOLUTE:
        when = datetime.fromtimestamp(t, timezone.utc)
        return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond:06d}"
    if fmt is TimeFormat.DELTA:
        return f"{t - (t if previous is None else previous):.6f}"
    return f"{t - origin:.6f}"


def format_span(seconds: float) -> str:
    """A duration for an axis tick or a summary: ``1.5 s``, ``2 min 3 s``, ``250 ms``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.3g} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes:.0f} min {rest:.0f} s"
