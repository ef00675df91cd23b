"""The Timeline pane: each key's life as a bar over the capture's time."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from analyzer.tui.ladder import lifecycle_bars
from analyzer.tui.widgets.timeline_view import TimelineView


class LifecycleBars(TimelineView, Static):
    """Key lifecycles (``keys[]``: delivered ... first use ... last use ... superseded)."""

    shows = ("keys",)

    def render_timeline(self, doc: dict[str, Any]) -> None:
        self.update(Text(lifecycle_bars(doc.get("keys", []))))
