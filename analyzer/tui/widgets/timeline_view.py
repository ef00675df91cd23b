"""What the timeline panes share: a ``timeline`` reactive that the app sets from the
pipeline's changes, and the time format they show times in; each pane redraws
itself when the part it shows (or the format) changed."""

from __future__ import annotations

from typing import Any

from textual.reactive import reactive

from analyzer.tui.timefmt import TimeFormat, format_time


class TimelineView:
    """Mixin for a widget that shows part of the timeline (DESIGN.md "Timeline JSON").

    Set :attr:`timeline`; :meth:`render_timeline` runs when :attr:`shows` of it changed,
    or when :attr:`time_format` changed. :attr:`origin` is the first packet's time.
    """

    #: the timeline keys this pane draws from
    shows: tuple[str, ...] = ()
    timeline: reactive[dict[str, Any]] = reactive(dict, always_update=True, init=False)
    time_format: reactive[TimeFormat] = reactive(TimeFormat.RELATIVE, init=False)
    origin: float = 0.0

    def watch_timeline(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if old and all(old.get(k) == new.get(k) for k in self.shows):
            return
        self.render_timeline(new)

    def watch_time_format(self) -> None:
        if self.timeline:
            self.render_timeline(self.timeline)

    def render_timeline(self, doc: dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def when(self, t: float, previous: float | None = None) -> str:
        """*t* in the chosen time format (*previous*: the item before, for delta)."""
        return format_time(t, self.time_format, self.origin, previous)
