"""The Findings pane: every finding of the timeline; Enter jumps to its packet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import DataTable

from analyzer.tui.widgets.timeline_view import TimelineView

COLUMNS = ("Severity", "Code", "Time", "Capture", "Frame", "Message")


class FindingsTable(TimelineView, DataTable):
    """Findings (``findings[]``): severity, code, where, what."""

    shows = ("findings",)

    @dataclass
    class Jump(Message):
        """The user chose a finding: show its packet."""

        capture: int
        frame: int

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", **kwargs)

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)

    def render_timeline(self, doc: dict[str, Any]) -> None:
        self.clear()
        previous = None
        for f in doc.get("findings", []):
            style = "bold red" if f["severity"] == "error" else "yellow"
            self.add_row(Text(f["severity"], style=style), f["code"],
                         self.when(f["time"], previous), str(f["capture"]), str(f["frame"]),
                         Text(f["message"]), key=f"{f['capture']}:{f['frame']}:{id(f)}")
            previous = f["time"]
        if not doc.get("findings"):
            self.add_row(Text("no findings", style="italic"), "", "", "", "", "",
                         key="none")

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value == "none":
            return
        capture, frame, _ = str(event.row_key.value).split(":", 2)
        self.post_message(self.Jump(int(capture), int(frame)))
