"""The Procedures pane: the procedures of TS 33.246 §6.3 found, and the ladder diagram of
the one (or of every one of a UE) under the cursor."""

from __future__ import annotations

from typing import Any, Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from analyzer.tui.ladder import ladder, ue_procedure
from analyzer.tui.widgets.timeline_view import TimelineView

COLUMNS = ("Procedure", "UE", "Start", "End", "Outcome", "Frames")


class ProceduresPane(TimelineView, Vertical):
    """Procedures (``procedures[]``) above, the ladder of the highlighted one below.

    *packets* gives the dissected packets by (capture, frame), for the ladder's arrows.
    """

    shows = ("procedures",)

    def __init__(self, packets: Callable[[], dict[tuple[int, int], Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._packets = packets

    def compose(self) -> ComposeResult:
        yield DataTable(id="procedures", cursor_type="row")
        yield Static("Select a procedure: its ladder diagram shows here.", id="ladder")

    def on_mount(self) -> None:
        self.query_one("#procedures", DataTable).add_columns(*COLUMNS)

    def render_timeline(self, doc: dict[str, Any]) -> None:
        procs = self.query_one("#procedures", DataTable)
        procs.clear()
        previous = None
        for n, p in enumerate(doc.get("procedures", [])):
            procs.add_row(p["procedure"], p["ue"] or "-", self.when(p["start"], previous),
                          self.when(p["end"], p["start"]), p["outcome"],
                          Text(" ".join(str(f[1]) for f in p["frames"][:12])), key=str(n))
            previous = p["start"]
        for ue in sorted({p["ue"] for p in doc.get("procedures", []) if p["ue"]}):
            mine = [p for p in doc["procedures"] if p["ue"] == ue]
            end = max(p["end"] for p in mine)
            procs.add_row(Text("all of this UE", style="bold"), ue, self.when(mine[0]["start"]),
                          self.when(end, mine[0]["start"]), f"{len(mine)} procedures",
                          Text(""), key=f"ue:{ue}")
        if not doc.get("procedures"):
            self.query_one("#ladder", Static).update("no procedure in these captures")

    @on(DataTable.RowHighlighted, "#procedures")
    def _show_ladder(self, event: DataTable.RowHighlighted) -> None:
        if not self.timeline or event.row_key is None or event.row_key.value is None:
            return
        packets = {key: row.pkt for key, row in self._packets().items()}
        key = str(event.row_key.value)
        if key.startswith("ue:"):  # every procedure of one UE, as one ladder
            proc = ue_procedure(self.timeline, key[3:], packets)
        else:
            proc = self.timeline["procedures"][int(key)]
        self.query_one("#ladder", Static).update(Text(ladder(proc, packets)))
