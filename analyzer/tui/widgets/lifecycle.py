"""The Timeline pane: every MSK and MTK as a lane on a time axis (:mod:`analyzer.tui.chart`).

Keys: up/down (or k/j) choose a lane, which selects its key in the Keys tab;
Enter shows its packets; left/right pan, +/- zoom, 0 shows everything. Mouse: a
click chooses a lane, the wheel zooms around the pointer (with shift: pans).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from analyzer.tui.chart import LABEL_WIDTH, Lane, bounds, lanes, render
from analyzer.tui.widgets.timeline_view import TimelineView

HEADER_ROWS = 2  # tick labels and the axis above the first lane
MIN_SPAN = 0.001


class LifecycleChart(TimelineView, Widget, can_focus=True):
    """Key lifecycles (``keys[]`` and ``findings[]`` of the timeline) as a picture."""

    shows = ("keys", "findings")
    BINDINGS = [
        Binding("up,k", "lane(-1)", "Prev key", show=False),
        Binding("down,j", "lane(1)", "Next key", show=False),
        Binding("left", "pan(-1)", "Pan", show=False),
        Binding("right", "pan(1)", "Pan", show=False),
        Binding("plus,equals_sign", "zoom(0.5)", "Zoom in"),
        Binding("minus", "zoom(2)", "Zoom out"),
        Binding("0", "reset", "All", show=False),
        Binding("enter", "packets", "Its packets"),
    ]
    DEFAULT_CSS = "LifecycleChart { height: auto; }"

    cursor: reactive[int] = reactive(0)
    window: reactive[tuple[float, float] | None] = reactive(None)

    @dataclass
    class KeyChosen(Message):
        """A lane was chosen: its key (a ``keys[]`` entry of the timeline)."""

        key: dict[str, Any]

    @dataclass
    class ShowFrames(Message):
        """Enter on a lane: list the frames of its key's events."""

        frames: list[int]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lanes: list[Lane] = []

    def render_timeline(self, doc: dict[str, Any]) -> None:
        captures = doc.get("captures", [])
        end = max((c["end"] for c in captures if c.get("end") is not None), default=None)
        self.lanes = lanes(doc.get("keys", []), doc.get("findings", []), end)
        if self.window is None or not self.lanes:
            self.window = None
        self.cursor = min(self.cursor, max(0, len(self.lanes) - 1))
        self.refresh(layout=True)

    def _span(self) -> tuple[float, float]:
        return self.window if self.window is not None else bounds(self.lanes)

    def render(self) -> Text:
        t0, t1 = self._span()
        width = self.size.width or 100
        lines = render(self.lanes, t0, t1, width, self.time_format, self.origin,
                       self.cursor if self.has_focus else -1)
        return Text("\n").join(lines)

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        return HEADER_ROWS + max(1, len(self.lanes)) + 2

    def watch_cursor(self, _old: int, new: int) -> None:
        if 0 <= new < len(self.lanes):
            self.post_message(self.KeyChosen(self.lanes[new].key))
            if self.parent is not None:
                self.scroll_visible()
        self.refresh()

    def watch_window(self) -> None:
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # ---------------------------------------------------------------- keys

    def action_lane(self, step: int) -> None:
        if self.lanes:
            self.cursor = max(0, min(len(self.lanes) - 1, self.cursor + step))

    def action_pan(self, direction: int) -> None:
        t0, t1 = self._span()
        shift = (t1 - t0) * 0.25 * direction
        self.window = (t0 + shift, t1 + shift)

    def action_zoom(self, factor: float, around: float | None = None) -> None:
        t0, t1 = self._span()
        mid = (t0 + t1) / 2 if around is None else around
        half = max(MIN_SPAN, (t1 - t0) * factor) / 2
        lo, hi = bounds(self.lanes)
        if factor > 1 and half * 2 >= (hi - lo):
            self.window = None  # zoomed out past everything: show everything
            return
        self.window = (mid - half, mid + half)

    def action_reset(self) -> None:
        self.window = None

    def action_packets(self) -> None:
        if 0 <= self.cursor < len(self.lanes):
            self.post_message(self.ShowFrames(self.lanes[self.cursor].frames))

    # ---------------------------------------------------------------- mouse

    def _time_at(self, x: int) -> float | None:
        columns = max(8, (self.size.width or 100) - LABEL_WIDTH - 1)
        if x <= LABEL_WIDTH:
            return None
        t0, t1 = self._span()
        return t0 + (x - LABEL_WIDTH - 1) / max(1, columns - 1) * (t1 - t0)

    def on_click(self, event: events.Click) -> None:
        lane = event.y - HEADER_ROWS
        if 0 <= lane < len(self.lanes):
            self.focus()
            self.cursor = lane
            if event.chain == 2:  # a double click: its packets
                self.action_packets()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        if event.shift:
            self.action_pan(-1)
        else:
            self.action_zoom(0.8, self._time_at(event.x))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        if event.shift:
            self.action_pan(1)
        else:
            self.action_zoom(1.25, self._time_at(event.x))
