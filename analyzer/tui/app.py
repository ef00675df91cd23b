"""The ``mbms-analyzer open`` application: packets, keys, procedures and findings.

Loading runs in a thread worker. It fills a :class:`~analyzer.tui.model.PacketIndex`
(every packet's place in its file) and posts batches of dissected MBMS rows; a
timer lets the virtual packet list take in what has arrived, so the first
screen shows at once and the UI never waits for the end of a large capture.
"""

from __future__ import annotations

import bisect
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
    Footer,
    Header,
    Input,
    Static,
    TabbedContent,
    TabPane,
    Tree,
)
from textual.worker import Worker, WorkerState, get_current_worker

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.keys.store import KeyStore
from analyzer.output.decrypted import decrypt_captures
from analyzer.tui.filter import FilterError, compile_filter
from analyzer.tui.model import (
    Loaded,
    PacketIndex,
    Row,
    TsharkError,
    load,
    mbms_spans,
    tshark_frames,
)
from analyzer.tui.screens.help import HelpScreen
from analyzer.tui.screens.keyfile import KeyFileScreen
from analyzer.tui.widgets.details import DetailsTree
from analyzer.tui.widgets.findings import FindingsTable
from analyzer.tui.widgets.hexview import HexView
from analyzer.tui.widgets.keys import KeysPane
from analyzer.tui.widgets.lifecycle import LifecycleBars
from analyzer.tui.widgets.packetlist import FunctionSource, PacketHeader, PacketList
from analyzer.tui.widgets.procedures import ProceduresPane
from analyzer.tui.widgets.status import StatusBar
from analyzer.tui.widgets.timeline_view import TimelineView
from analyzer.views.result import Dissected

#: typed first in the filter bar, the rest is a Wireshark display filter run by tshark
TSHARK_PREFIX = "tshark:"

#: seconds the cursor rests on a packet before its details and bytes are drawn
DETAIL_DELAY = 0.06

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
                ("f4", "export_decrypted", "Decrypted pcap"),
                ("p", "pause", "Pause live view")]

    @dataclass
    class RowsLoaded(Message):
        """A batch of dissected packets from the loader."""

        rows: list[Row]

    @dataclass
    class Snapshot(Message):
        """A live capture's timeline so far."""

        timeline: dict[str, Any]

    @dataclass
    class LoadDone(Message):
        """The loader finished: the timeline and any errors."""

        loaded: Loaded

    def __init__(self, paths: list[str], store: KeyStore | None = None,
                 live: Any = None, profile: Profile = DEFAULT_PROFILE) -> None:
        super().__init__()
        #: where MIKEY and FLUTE are looked for (``--flute-port``): as every front end
        self.profile = profile
        #: a running :class:`~analyzer.capture.sniff.LiveCapture` (``sniff``), or None
        self.live = live
        self.paused = False
        self.paths = paths
        self.store = store
        self.rows: list[Row] = []
        self.index = PacketIndex(paths)
        #: the list's rows as global packet positions; None: every packet, in order
        self.view: list[int] | None = None
        self.predicate = compile_filter("")
        self.loaded: Loaded | None = None
        self._spans: list | None = None
        self._items: list = []
        self._span_source: tuple | None = None
        self._detail_timer: Any = None
        self._ticks = 0  # timer ticks, for the status line's slower pace
        self._shown = -1  # the position whose details are on screen
        #: the timeline shown (the final one, or a live capture's so far)
        self.timeline: dict[str, Any] = {}

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter, e.g. mikey.mbms.msk_id == 00010002 or finding; "
                                "tshark: <Wireshark filter> + Enter", id="filter")
        yield Static("", id="filter-error")
        with TabbedContent(id="tabs"):
            with TabPane("Packets", id="tab-packets"):
                with Vertical():
                    with Vertical(id="packets-pane"):
                        yield PacketHeader(id="packets-header")
                        yield PacketList(FunctionSource(self._count, self._cells), id="packets")
                    with Horizontal(id="lower"):
                        yield DetailsTree(id="details")
                        yield HexView(id="hex")
            with TabPane("Keys", id="tab-keys"):
                yield KeysPane(id="keys-pane")
            with TabPane("Timeline", id="tab-timeline"):
                yield LifecycleBars("", id="bars")
            with TabPane("Procedures", id="tab-procedures"):
                yield ProceduresPane(lambda: self.index.mbms, id="procedures-pane")
            with TabPane("Findings", id="tab-findings"):
                yield FindingsTable(id="findings")
        yield StatusBar(id="statusbar")
        yield Footer()

    @property
    def packet_table(self) -> PacketList:
        return self.query_one("#packets", PacketList)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    def on_mount(self) -> None:
        self.set_interval(0.2, self._tick)
        self.load_captures()

    # ------------------------------------------------------------------ the packet list

    def _count(self) -> int:
        return len(self.index) if self.view is None else len(self.view)

    def position_of(self, row: int) -> int:
        """The global packet position shown on list row *row*."""
        return row if self.view is None else self.view[row]

    def packet_at(self, row: int) -> Any:
        """The packet (dissected or summarised) on list row *row*."""
        return self.index.packet(self.position_of(row))[0]

    def _cells(self, row: int) -> tuple[tuple[str, ...], str]:
        position = self.position_of(row)
        pkt, mbms = self.index.packet(position)
        if pkt.errors:
            style = "bold red"
        elif mbms:
            style = PROTO_STYLES.get(pkt.protocol, "")
        else:
            style = "grey62"
        rel = pkt.time - self.index.start(pkt.capture)
        return ((str(pkt.frame), f"{rel:.6f}", pkt.src, pkt.dst, pkt.protocol.upper()
                 if mbms else pkt.protocol.upper()[:8], pkt.summary), style)

    def _tick(self) -> None:
        """Take in what the loader (or a filter worker) has added since last time."""
        if not self.is_running or not self.query("#packets"):
            return  # starting up or shutting down: nothing to update
        self.packet_table.sync()
        self._ticks += 1
        if self._ticks % 3:
            return  # the status line every 0.6 s is enough (and each update redraws)
        if self.live is not None:
            self._live_status()
        elif self.loaded is None:
            size = sum(_size(p) for p in self.paths) or 1
            read = sum(r.offsets[-1] for r in self.index.records if len(r))
            self.status.progress(min(1.0, read / size))
            self.status.say(f"{len(self.index)} packets, {len(self.rows)} MBMS, loading...")

    # ------------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_captures(self) -> None:
        worker = get_current_worker()
        live = self.live
        loaded = load(self.paths, self.store,
                      on_rows=lambda rows: self.post_message(self.RowsLoaded(list(rows))),
                      cancelled=lambda: worker.is_cancelled,
                      on_progress=lambda f: self.call_from_thread(self._progress, f),
                      index=self.index,
                      live=live.running if live is not None else None,
                      paused=lambda: self.paused,
                      on_snapshot=lambda doc: self.post_message(self.Snapshot(doc)),
                      profile=self.profile)
        if not worker.is_cancelled:
            self.post_message(self.LoadDone(loaded))

    def _live_status(self) -> None:
        live, n = self.live, len(self.index)
        drops = "reported when the capture stops" if live.dropped is None else str(live.dropped)
        state = "PAUSED (p resumes)" if self.paused else ("LIVE" if live.running() else "stopped")
        self.status.say(
            f"{state} {live.interface}: {n} packets ({live.rate(n):.0f}/s), dumpcap count "
            f"{live.packets}, kernel drops {drops}, {len(self.rows)} MBMS -> {live.path}")

    def action_pause(self) -> None:
        """Hold the live view (the capture goes on into the file)."""
        if self.live is None:
            self.notify("pause is for live captures (sniff)")
            return
        self.paused = not self.paused
        self._live_status()

    def on_mbms_app_snapshot(self, message: Snapshot) -> None:
        """A live capture: keys, timeline, procedures and findings so far."""
        self._show_timeline(message.timeline)

    def _progress(self, fraction: float) -> None:
        self.status.progress(fraction)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that fails says so on screen (the loader would otherwise leave
        "loading..." up for ever); the rest of the app goes on working."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        what = {"load": "loading failed", "decrypt": "decryption failed",
                "filter": "filter stopped"}.get(event.worker.group, "failed")
        message = f"{what}: {type(error).__name__}: {error}"
        if event.worker.group == "load":
            self.status.say(Text(f"{len(self.index)} packets, {len(self.rows)} MBMS - {message}",
                                 style="bold red"))
        self.notify(message, severity="error", timeout=10)

    def reload(self, store: KeyStore | None) -> None:
        """Start over with another key file: every table re-derives."""
        self.workers.cancel_group(self, "load")
        self.workers.cancel_group(self, "filter")
        self.store = store
        self.index.close()
        self.index = PacketIndex(self.paths)
        self.rows, self.loaded = [], None
        self.view = None if self.predicate.scope == "all" and not self.query_one(
            "#filter", Input).value.strip() else []
        self.packet_table.reset()
        self.timeline = {}
        for pane in self._timeline_views():
            pane.timeline = {}
        self.query_one("#details", DetailsTree).show_packet(None)
        self._shown = -1
        self.status.progress(0.0)
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
        if not self.timeline:
            self.notify("still loading", severity="warning")
            return
        path = self._out(".timeline.json")
        try:
            path.write_text(json.dumps(self.timeline, indent=1) + "\n")
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
            result = decrypt_captures(list(self.paths), self.store, str(path), self.profile)
        except (OSError, ValueError) as exc:
            self.call_from_thread(self.notify, f"cannot decrypt: {exc}", severity="error")
            return
        self.call_from_thread(self.notify, f"{result.replaced} of {result.total} packets "
                              f"decrypted into {path}")

    def on_mbms_app_rows_loaded(self, message: RowsLoaded) -> None:
        self.rows.extend(message.rows)
        for row in message.rows:  # a summary drawn before its dissection arrived is stale
            self.index.forget(self.index.position(row.pkt.capture, row.pkt.frame))
        if self.view is not None and self.predicate.scope == "mbms":
            self._extend_view(message.rows)
        self.packet_table.sync()
        self.packet_table.refresh()  # rows drawn as plain packets may be MBMS ones now

    def _extend_view(self, rows: list[Row]) -> None:
        """Filtered list while loading: MBMS rows that match join the view in order."""
        assert self.view is not None
        for row in rows:
            if self.predicate(row.pkt):
                pos = self.index.position(row.pkt.capture, row.pkt.frame)
                at = bisect.bisect_left(self.view, pos)
                if at == len(self.view) or self.view[at] != pos:
                    self.view.insert(at, pos)

    def on_mbms_app_load_done(self, message: LoadDone) -> None:
        self.loaded = message.loaded
        doc = message.loaded.timeline
        self._show_timeline(doc)
        if self.view is not None and self.predicate.scope != "mbms":
            self.run_filter(self.predicate)  # the whole index is there now
        self.packet_table.sync()
        self.status.progress(1.0)
        errors = "; ".join(message.loaded.errors)
        self.status.say(Text(
            f"{len(self.index)} packets, {len(self.rows)} MBMS, {len(doc.get('keys', []))} keys, "
            f"{len(doc.get('procedures', []))} procedures, {len(doc.get('findings', []))} findings"
            + (f" - {errors}" if errors else "")))

    def _timeline_views(self) -> list[TimelineView]:
        """The panes that show part of the timeline (each owns what it draws)."""
        return [w for w in self.query("*") if isinstance(w, TimelineView)]

    def _show_timeline(self, doc: dict[str, Any]) -> None:
        """Hand a timeline (the final one, or a live capture's so far) to every pane
        that shows part of it; each redraws only when its part changed."""
        self.timeline = doc
        for pane in self._timeline_views():
            pane.timeline = doc

    # ------------------------------------------------------------------ interaction

    @on(PacketList.Highlighted, "#packets")
    def show_row(self, event: PacketList.Highlighted) -> None:
        """The details follow the cursor once it rests (so that paging stays quick)."""
        if event.row >= self._count():
            return
        if self._detail_timer is not None:
            self._detail_timer.stop()
        position = self.position_of(event.row)
        self._detail_timer = self.set_timer(DETAIL_DELAY, lambda: self._rested(position))

    def _rested(self, position: int) -> None:
        """The cursor rested on *position*: show it - unless the app is closing and
        its panes are already gone (the timer can fire during shutdown)."""
        if self.query("#details"):
            self.show_position(position)

    def show_position(self, position: int, force: bool = False) -> None:
        """Details and bytes of the packet at global *position* (kept as they are
        when that packet is already shown, so a field selection survives)."""
        if position == self._shown and not force:
            return
        self._shown = position
        capture, frame = self.index.locate(position)
        row = self.index.mbms.get((capture, frame))
        details = self.query_one("#details", DetailsTree)
        hexview = self.query_one("#hex", HexView)
        if row is not None:
            data = row.data or self.index.frame_bytes(capture, frame)
            self._items, self._spans = row.pkt.items, None
            self._span_source = (self.index.records[capture].linktypes[frame - 1], data, row.pkt)
            details.show_packet(row.pkt)
        else:
            pkt, spans = self.index.light(position)
            data = self.index.frame_bytes(capture, frame)
            self._items, self._spans, self._span_source = pkt.items, spans, None
            details.show_packet(pkt)
        hexview.show_bytes(data)

    @on(Tree.NodeHighlighted, "#details")
    def highlight_field(self, event: Tree.NodeHighlighted) -> None:
        """The selected field's bytes light up in the hex view."""
        n = event.node.data
        if not isinstance(n, int):
            self.query_one("#hex", HexView).highlight(None)
            return
        if self._spans is None and self._span_source is not None:
            # computed once a field is wanted
            self._spans = mbms_spans(*self._span_source, profile=self.profile)
        spans = self._spans or []
        self.query_one("#hex", HexView).highlight(spans[n] if n < len(spans) else None)

    @on(KeysPane.ShowFrames)
    def filter_to_key(self, event: KeysPane.ShowFrames) -> None:
        """A key chosen in the Keys pane: the packet list shows its frames."""
        self.query_one("#filter", Input).value = \
            "frame in {" + " ".join(str(f) for f in event.frames) + "}"
        self.query_one("#tabs", TabbedContent).active = "tab-packets"

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        error = self.query_one("#filter-error", Static)
        if event.value.lstrip().startswith(TSHARK_PREFIX):
            error.update("a Wireshark display filter: Enter runs it through tshark")
            return
        try:
            predicate = compile_filter(event.value)
        except FilterError as exc:
            error.update(f"filter: {exc}")
            return
        error.update("")
        self.predicate = predicate
        self.workers.cancel_group(self, "filter")
        if not event.value.strip():
            self.view = None
            self.packet_table.reset()
            return
        self.view = []
        if predicate.scope == "mbms":  # only dissected rows can match: no need to read
            self._extend_view(self.rows)
            self.packet_table.reset()
        else:
            self.packet_table.reset()
            self.run_filter(predicate)

    @on(Input.Submitted, "#filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text.startswith(TSHARK_PREFIX):
            return
        self.workers.cancel_group(self, "filter")
        expr = text[len(TSHARK_PREFIX):].strip()
        self.predicate = compile_filter("frame")  # a marker: the view comes from tshark
        self.view = []
        self.packet_table.reset()
        self.tshark_filter(expr, self.predicate)

    @work(thread=True, exclusive=True, group="filter", exit_on_error=False)
    def tshark_filter(self, expr: str, token: Any) -> None:
        """A Wireshark display filter, applied by tshark to each capture file."""
        try:
            frames = tshark_frames(self.paths, expr)
        except TsharkError as exc:
            self.call_from_thread(self.query_one("#filter-error", Static).update,
                                  f"tshark: {exc}")
            return
        positions = sorted(self.index.position(capture, frame) for capture, frame in frames
                           if frame <= len(self.index.records[capture]))
        self.call_from_thread(self._add_to_view, token, positions)
        self.call_from_thread(self.query_one("#filter-error", Static).update,
                              f"tshark matched {len(positions)} packets")

    @work(thread=True, exclusive=True, group="filter", exit_on_error=False)
    def run_filter(self, predicate: Any) -> None:
        """Test every packet of the index (the others are read and summarised only
        when the filter needs more than frame numbers); the view grows as it goes."""
        try:
            self._filter_all(predicate)
        except Exception as exc:  # noqa: BLE001 - a filter that fails is told, not silent
            self.call_from_thread(self.query_one("#filter-error", Static).update,
                                  f"filter stopped: {type(exc).__name__}: {exc}")

    def _filter_all(self, predicate: Any) -> None:
        worker = get_current_worker()
        found: list[int] = []
        index = self.index
        total = len(index)
        for position in range(total):
            if worker.is_cancelled:
                return
            capture, frame = index.locate(position) if len(index.records) > 1 else (0, position + 1)
            row = index.mbms.get((capture, frame))
            if row is not None:
                pkt = row.pkt
            elif predicate.scope == "frame":
                pkt = Dissected(capture, frame, 0.0, "", "", "", "")
            else:
                pkt = index.light(position)[0]
            if predicate(pkt):
                found.append(position)
            if len(found) >= 256 or (position & 0x3FFF) == 0x3FFF:
                batch, found = found, []
                self.call_from_thread(self._add_to_view, predicate, batch)
        self.call_from_thread(self._add_to_view, predicate, found)

    def _add_to_view(self, predicate: Any, positions: list[int]) -> None:
        if predicate is not self.predicate or self.view is None:
            return  # a newer filter took over
        self.view.extend(positions)
        self.packet_table.sync()

    def _row_of(self, capture: int, frame: int) -> int | None:
        """The list row showing frame *frame* of capture *capture*, if shown."""
        position = self.index.position(capture, frame)
        if self.view is None:
            return position if position < len(self.index) else None
        at = bisect.bisect_left(self.view, position)
        return at if at < len(self.view) and self.view[at] == position else None

    @on(FindingsTable.Jump)
    def jump_to_finding(self, event: FindingsTable.Jump) -> None:
        capture, frame = event.capture, event.frame
        row = self._row_of(capture, frame)
        if row is None:
            self.notify(f"frame {frame} is not in the packet list (or hidden by the filter)")
            return
        self.query_one("#tabs", TabbedContent).active = "tab-packets"
        self.packet_table.move_cursor(row)
        self.packet_table.focus()

    def _jump_finding(self, step: int) -> None:
        table = self.packet_table
        rows = [self._row_of(r.pkt.capture, r.pkt.frame) for r in self.rows if r.has_finding]
        rows = sorted(r for r in rows if r is not None)
        if not rows:
            self.notify("no packet with a finding in the list")
            return
        here = table.cursor_row
        if step > 0:
            target = next((r for r in rows if r > here), rows[0])
        else:
            target = next((r for r in reversed(rows) if r < here), rows[-1])
        self.query_one("#tabs", TabbedContent).active = "tab-packets"
        table.move_cursor(target)
        table.focus()

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
            self.show_position(self.position_of(table.cursor_row), force=True)
        self.notify("key values shown" if details.reveal_keys else "key values hidden")


def _size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def run_app(paths: list[str], store: KeyStore | None, live: Any = None,
            profile: Profile = DEFAULT_PROFILE) -> Any:
    """Run the application (blocks until it quits); *live*: a running capture."""
    return MbmsApp(paths, store, live, profile).run()
