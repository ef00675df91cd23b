"""The ``mbms-analyzer open`` application: packets, keys, procedures and findings.

Loading runs in a thread worker that posts batches of rows, so the first rows
show before a large capture has finished loading and the UI never waits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Input,
    ProgressBar,
    Static,
    TabbedContent,
    TabPane,
    Tree,
)
from textual.worker import get_current_worker

from ..decrypt import decrypt_captures
from ..keys import KeyStore
from .filter import FilterError, compile_filter
from .ladder import ladder, lifecycle_bars
from .model import Loaded, Row, load
from .screens.help import HelpScreen
from .screens.keyfile import KeyFileScreen
from .widgets.details import DetailsTree
from .widgets.hexview import HexView
from .widgets.keys import KeysTree

PROTO_STYLES = {"mikey": "cyan", "bmsc": "magenta", "srtp": "green", "srtcp": "green"}


class MbmsApp(App):
    """The analyzer's main window."""

    CSS_PATH = "app.tcss"
    TITLE = "mbms-analyzer"
    BINDINGS = [("q", "quit", "Quit"), ("ctrl+q", "quit", "Quit"),
                ("slash", "focus_filter", "Filter"), ("ctrl+f", "focus_filter", "Filter"),
                ("n", "next_finding", "Next finding"), ("N", "previous_finding", "Prev finding"),
                ("question_mark", "help", "Help"),
                ("ctrl+r", "toggle_reveal", "Reveal keys"), ("f2", "key_file", "Key file"),
                ("f3", "export_timeline", "Export timeline"),
                ("f4", "export_decrypted", "Decrypted pcap")]

    @dataclass
    class RowsLoaded(Message):
        """A batch of dissected packets from the loader."""

        rows: list[Row]

    @dataclass
    class LoadDone(Message):
        """The loader finished: the timeline and any errors."""

        loaded: Loaded

    def __init__(self, paths: list[str], store: KeyStore | None = None) -> None:
        super().__init__()
        self.paths = paths
        self.store = store
        self.rows: list[Row] = []
        self.shown: list[int] = []
        self.predicate = compile_filter("")
        self.loaded: Loaded | None = None
        self.by_frame: dict[tuple[int, int], Any] = {}

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter, e.g. mikey.mbms.msk_id == 00010002 or finding",
                    id="filter")
        yield Static("", id="filter-error")
        with TabbedContent(id="tabs"):
            with TabPane("Packets", id="tab-packets"):
                with Vertical():
                    yield DataTable(id="packets", cursor_type="row", zebra_stripes=True)
                    with Horizontal(id="lower"):
                        yield DetailsTree(id="details")
                        yield HexView(id="hex")
            with TabPane("Keys", id="tab-keys"):
                with Horizontal():
                    yield KeysTree(id="keys")
                    yield Static("Select a key: its events show here; enter shows its packets.",
                                 id="key-events")
            with TabPane("Timeline", id="tab-timeline"):
                yield Static("", id="bars")
            with TabPane("Procedures", id="tab-procedures"):
                with Vertical():
                    yield DataTable(id="procedures", cursor_type="row")
                    yield Static("Select a procedure: its ladder diagram shows here.",
                                 id="ladder")
            with TabPane("Findings", id="tab-findings"):
                yield DataTable(id="findings", cursor_type="row")
        with Horizontal(id="statusbar"):
            yield ProgressBar(total=1.0, show_eta=False, id="progress")
            yield Static("loading...", id="status")
        yield Footer()

    @property
    def packet_table(self) -> DataTable:
        return self.query_one("#packets", DataTable)

    def on_mount(self) -> None:
        self.packet_table.add_columns("No.", "Time", "Source", "Destination", "Protocol", "Info")
        self.query_one("#procedures", DataTable).add_columns(
            "Procedure", "UE", "Start", "End", "Outcome", "Frames")
        self.query_one("#findings", DataTable).add_columns(
            "Severity", "Code", "Capture", "Frame", "Message")
        self.load_captures()

    # ------------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_captures(self) -> None:
        worker = get_current_worker()
        loaded = load(self.paths, self.store,
                      on_rows=lambda rows: self.post_message(self.RowsLoaded(list(rows))),
                      cancelled=lambda: worker.is_cancelled,
                      on_progress=lambda f: self.call_from_thread(self._progress, f))
        if not worker.is_cancelled:
            self.post_message(self.LoadDone(loaded))

    def _progress(self, fraction: float) -> None:
        self.query_one("#progress", ProgressBar).update(progress=fraction)

    def reload(self, store: KeyStore | None) -> None:
        """Start over with another key file: every table re-derives."""
        self.store = store
        self.rows, self.shown, self.loaded, self.by_frame = [], [], None, {}
        self.packet_table.clear()
        self.query_one("#procedures", DataTable).clear()
        self.query_one("#findings", DataTable).clear()
        self.query_one("#details", DetailsTree).show_packet(None)
        self.query_one("#progress", ProgressBar).update(progress=0.0)
        self.load_captures()

    def action_key_file(self) -> None:
        def loaded(store: KeyStore | None) -> None:
            if store is not None:
                self.notify("key file loaded: re-deriving everything")
                self.reload(store)
        self.push_screen(KeyFileScreen(), loaded)

    def _out(self, suffix: str) -> Path:
        return Path.cwd() / (Path(self.paths[0]).stem + suffix)

    def action_export_timeline(self) -> None:
        if self.loaded is None:
            self.notify("still loading", severity="warning")
            return
        path = self._out(".timeline.json")
        try:
            path.write_text(json.dumps(self.loaded.timeline, indent=1) + "\n")
        except OSError as exc:
            self.notify(f"cannot write {path}: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"timeline written to {path}")

    def action_export_decrypted(self) -> None:
        if self.store is None:
            self.notify("no key file: F2 loads one", severity="warning")
            return
        self.decrypt_worker(self._out(".decrypted.pcap"))

    @work(thread=True, group="decrypt", exit_on_error=False)
    def decrypt_worker(self, path: Path) -> None:
        try:
            result = decrypt_captures(list(self.paths), self.store, str(path))
        except (OSError, ValueError) as exc:
            self.call_from_thread(self.notify, f"cannot decrypt: {exc}", severity="error")
            return
        self.call_from_thread(self.notify, f"{result.replaced} of {result.total} packets "
                              f"decrypted into {path}")

    def on_mbms_app_rows_loaded(self, message: RowsLoaded) -> None:
        table = self.packet_table
        with self.batch_update():
            for row in message.rows:
                self.rows.append(row)
                if self.predicate(row.pkt):
                    self._add(table, row)
        self.query_one("#status", Static).update(f"{len(self.rows)} MBMS packets loaded...")

    def on_mbms_app_load_done(self, message: LoadDone) -> None:
        self.loaded = message.loaded
        doc = message.loaded.timeline
        self.query_one("#keys", KeysTree).show_keys(doc.get("keys", []))
        self.query_one("#bars", Static).update(Text(lifecycle_bars(doc.get("keys", []))))
        self.by_frame = {(r.pkt.capture, r.pkt.frame): r.pkt for r in self.rows}
        procs = self.query_one("#procedures", DataTable)
        for n, p in enumerate(doc.get("procedures", [])):
            procs.add_row(p["procedure"], p["ue"] or "-", f"{p['start']:.3f}", f"{p['end']:.3f}",
                          p["outcome"], Text(" ".join(str(f[1]) for f in p["frames"][:12])),
                          key=str(n))
        finds = self.query_one("#findings", DataTable)
        for f in doc.get("findings", []):
            style = "bold red" if f["severity"] == "error" else "yellow"
            finds.add_row(Text(f["severity"], style=style), f["code"], str(f["capture"]),
                          str(f["frame"]), Text(f["message"]),
                          key=f"{f['capture']}:{f['frame']}:{id(f)}")
        errors = "; ".join(message.loaded.errors)
        self.query_one("#status", Static).update(Text(
            f"{len(self.rows)} MBMS packets, {len(doc.get('keys', []))} keys, "
            f"{len(doc.get('procedures', []))} procedures, {len(doc.get('findings', []))} findings"
            + (f" - {errors}" if errors else "")))

    def _add(self, table: DataTable, row: Row) -> None:
        pkt = row.pkt
        style = "bold red" if row.has_finding else PROTO_STYLES.get(pkt.protocol, "")
        table.add_row(str(pkt.frame), f"{pkt.time:.6f}", Text(pkt.src), Text(pkt.dst),
                      Text(pkt.protocol, style=style), Text(pkt.summary, style=style if
                                                            row.has_finding else ""),
                      key=str(row.index))
        self.shown.append(row.index)

    # ------------------------------------------------------------------ interaction

    @on(DataTable.RowHighlighted, "#packets")
    def show_row(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None or event.row_key.value is None:
            return
        row = self.rows[int(event.row_key.value)]
        self.query_one("#details", DetailsTree).show_packet(row.pkt)
        self.query_one("#hex", HexView).show_bytes(row.data)

    @on(DataTable.RowHighlighted, "#procedures")
    def show_ladder(self, event: DataTable.RowHighlighted) -> None:
        if self.loaded is None or event.row_key is None or event.row_key.value is None:
            return
        proc = self.loaded.timeline["procedures"][int(event.row_key.value)]
        self.query_one("#ladder", Static).update(Text(ladder(proc, self.by_frame)))

    @on(Tree.NodeHighlighted, "#keys")
    def show_key(self, event: Tree.NodeHighlighted) -> None:
        key = event.node.data
        if not key:
            return
        lines = [f"{key['kind']} {'/'.join(x for x in (key['key_domain'], key['msk_id'], key['mtk_id']) if x) or key['idr']}",
                 f"state: {key['state']}"]
        for e in key["events"]:
            detail = ", ".join(f"{k}={v}" for k, v in e["detail"].items())
            lines.append(f"{e['time']:.6f}  #{e['frame']:<6} {e['event']:<13} "
                         f"{e['ue'] or ''} {detail}")
        self.query_one("#key-events", Static).update(Text("\n".join(lines)))

    @on(Tree.NodeSelected, "#keys")
    def filter_to_key(self, event: Tree.NodeSelected) -> None:
        key = event.node.data
        if not key:
            return
        frames = " ".join(sorted({str(e["frame"]) for e in key["events"]}, key=int))
        self.query_one("#filter", Input).value = f"frame in {{{frames}}}"
        self.query_one("#tabs", TabbedContent).active = "tab-packets"

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        error = self.query_one("#filter-error", Static)
        try:
            predicate = compile_filter(event.value)
        except FilterError as exc:
            error.update(f"filter: {exc}")
            return
        error.update("")
        self.predicate = predicate
        table = self.packet_table
        table.clear()
        self.shown = []
        with self.batch_update():
            for row in self.rows:
                if predicate(row.pkt):
                    self._add(table, row)

    @on(DataTable.RowSelected, "#findings")
    def jump_to_finding(self, event: DataTable.RowSelected) -> None:
        capture, frame, _ = str(event.row_key.value).split(":", 2)
        for position, index in enumerate(self.shown):
            pkt = self.rows[index].pkt
            if pkt.capture == int(capture) and pkt.frame == int(frame):
                self.query_one("#tabs", TabbedContent).active = "tab-packets"
                self.packet_table.move_cursor(row=position)
                self.packet_table.focus()
                return
        self.notify(f"frame {frame} is not in the packet list (or hidden by the filter)")

    def _jump_finding(self, step: int) -> None:
        table = self.packet_table
        if not self.shown:
            return
        start = table.cursor_row
        for k in range(1, len(self.shown) + 1):
            position = (start + step * k) % len(self.shown)
            if self.rows[self.shown[position]].has_finding:
                self.query_one("#tabs", TabbedContent).active = "tab-packets"
                table.move_cursor(row=position)
                table.focus()
                return
        self.notify("no packet with a finding in the list")

    def action_next_finding(self) -> None:
        self._jump_finding(1)

    def action_previous_finding(self) -> None:
        self._jump_finding(-1)

    def action_help(self) -> None:
        names = {"slash": "/", "question_mark": "?"}
        lines = [(names.get(b[0], b[0]), b[2]) for b in self.BINDINGS]
        self.push_screen(HelpScreen(lines))

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_toggle_reveal(self) -> None:
        details = self.query_one("#details", DetailsTree)
        details.reveal_keys = not details.reveal_keys
        table = self.packet_table
        if table.row_count:
            key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
            details.show_packet(self.rows[int(key)].pkt)
        self.notify("key values shown" if details.reveal_keys else "key values hidden")


def run_app(paths: list[str], store: KeyStore | None) -> Any:
    """Run the application (blocks until it quits)."""
    return MbmsApp(paths, store).run()
