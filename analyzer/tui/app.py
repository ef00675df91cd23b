"""The ``mbms-analyzer open`` application: packets, keys, timeline, procedures, findings
and plots.

Focus starts on the packet list (as in Wireshark and termshark): ``/`` goes to the
filter, Escape or Enter come back; ``1``-``6`` show the views; ``t`` switches the
time format of every view; ``?`` lists the keys. Loading runs in a thread worker. It fills a :class:`~analyzer.tui.model.PacketIndex`
(every packet's place in its file) and posts batches of dissected MBMS rows; a
timer lets the virtual packet list take in what has arrived, so the first
screen shows at once and the UI never waits for the end of a large capture.
"""

from __future__ import annotations

import bisect
import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
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
from analyzer.pipeline.scan import PARALLEL_MIN, start_pool
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
from analyzer.tui.screens.save import SaveScreen
from analyzer.tui.timefmt import TimeFormat, format_time
from analyzer.tui.widgets.details import DetailsTree
from analyzer.tui.widgets.findings import FindingsTable
from analyzer.tui.widgets.hexview import HexView
from analyzer.tui.widgets.keys import KeysPane
from analyzer.tui.widgets.lifecycle import LifecycleChart
from analyzer.tui.widgets.packetlist import (
    FunctionSource,
    PacketHeader,
    PacketList,
    columns_for,
)
from analyzer.tui.widgets.plots import PlotsPane
from analyzer.tui.widgets.procedures import ProceduresPane
from analyzer.tui.widgets.status import StatusBar
from analyzer.tui.widgets.timeline_view import TimelineView
from analyzer.tui.widgets.wireshark import WiresharkTree
from analyzer.tui.wireshark import WiresharkUnavailable
from analyzer.tui.wireshark import available as wireshark_available
from analyzer.tui.wireshark import dissect as wireshark_dissect
from analyzer.views.result import Dissected

#: typed first in the filter bar, the rest is a Wireshark display filter run by tshark
TSHARK_PREFIX = "tshark:"

#: seconds the cursor rests on a packet before its details and bytes are drawn
DETAIL_DELAY = 0.06

#: the views, in the order of their keys 1-6
VIEWS = (("tab-packets", "Packets"), ("tab-keys", "Keys"), ("tab-timeline", "Timeline"),
         ("tab-procedures", "Procedures"), ("tab-findings", "Findings"), ("tab-plots", "Plots"))
#: what gets the focus when a view is shown
VIEW_FOCUS = {"tab-packets": "#packets", "tab-keys": "#keys", "tab-timeline": "#bars",
              "tab-procedures": "#procedures", "tab-findings": "#findings", "tab-plots": "#plots"}
#: actions of printable keys: typed into the filter while it has the focus
TYPED_ACTIONS = {"quit", "help", "focus_filter", "next_finding", "previous_finding",
                 "time_format", "view", "pause", "wireshark"}
#: packet list styles of rows with a finding (by severity), apart from the protocol colours
FINDING_STYLES = {"error": "bold white on dark_red", "warning": "black on dark_orange"}

PROTO_STYLES = {"mikey": "cyan", "bmsc": "magenta", "srtp": "green", "srtcp": "green"}


class FilterMessage(Static):
    """The filter's message line, hidden while it has nothing to say."""

    def on_mount(self) -> None:
        self.set_class(True, "-empty")

    def update(self, content: Any = "", **kwargs: Any) -> None:  # type: ignore[override]
        super().update(content, **kwargs)
        self.set_class(not str(content), "-empty")


class MbmsApp(App):
    """The analyzer's main window."""

    CSS_PATH = "app.tcss"
    TITLE = "mbms-analyzer"
    BINDINGS = [
        Binding("q", "quit", "Quit"), Binding("question_mark", "help", "Help", key_display="?"),
        Binding("slash", "focus_filter", "Filter", key_display="/"),
        Binding("n", "next_finding", "Next finding"),
        Binding("N", "previous_finding", "Prev finding", key_display="N"),
        Binding("t", "time_format", "Time format"),
        Binding("w", "wireshark", "Wireshark view"),
        *(Binding(str(n), f"view('{tab}')", "Views" if n == 1 else title, show=n == 1,
                  key_display="1-6" if n == 1 else str(n))
          for n, (tab, title) in enumerate(VIEWS, 1)),
        Binding("p", "pause", "Pause live view"),
        Binding("ctrl+r", "toggle_reveal", "Reveal keys"), Binding("f2", "key_file", "Key file"),
        Binding("f3", "export_timeline", "Save timeline"),
        Binding("f4", "export_decrypted", "Save decrypted"),
        Binding("escape", "leave_filter", "Back to the list", show=False),
        Binding("ctrl+f", "focus_filter", "Filter", show=False),
        Binding("ctrl+q", "force_quit", "Quit", show=False, priority=True),
    ]

    @dataclass
    class RowsLoaded(Message):
        """A batch of dissected packets from the loader (of the load that fills *index*:
        one a reload replaced is not taken in)."""

        rows: list[Row]
        index: Any = None

    @dataclass
    class Snapshot(Message):
        """A live capture's timeline so far."""

        timeline: dict[str, Any]
        index: Any = None

    @dataclass
    class LoadDone(Message):
        """The loader finished: the timeline and any errors."""

        loaded: Loaded
        index: Any = None

    def __init__(self, paths: list[str], store: KeyStore | None = None,
                 live: Any = None, profile: Profile = DEFAULT_PROFILE,
                 time_format: TimeFormat | str = TimeFormat.RELATIVE) -> None:
        super().__init__()
        #: how every view shows times (``t`` cycles; ``--time-format``)
        self.time_format = TimeFormat(time_format)
        #: (capture, frame) -> severity of the timeline's findings (the packet list's
        #: colours, the ``finding`` filter, ``n``/``N``)
        self.flagged: dict[tuple[int, int], str] = {}
        self._load_started = 0.0
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
        self.predicate = compile_filter("", self.flagged)
        self.loaded: Loaded | None = None
        self._spans: list | None = None
        self._items: list = []
        self._span_source: tuple | None = None
        self._detail_timer: Any = None
        self._ticks = 0  # timer ticks, for the status line's slower pace
        self._shown = -1  # the position whose details are on screen
        #: the timeline shown (the final one, or a live capture's so far)
        self.timeline: dict[str, Any] = {}
        #: processes that read a large capture (forked here, before the app's threads
        #: start; shut down with the app); None: the loader reads in its thread
        self.pool = start_pool(nice=10) if live is None and any(
            _size(p) >= PARALLEL_MIN for p in paths) else None

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        # "/" puts the cursor at the end of the filter, to edit it (as termshark does)
        yield Input(placeholder="/ filter, e.g. mikey.mbms.msk_id == 00010002 or finding; "
                                "tshark: <Wireshark filter> + Enter; Esc: back to the list",
                    id="filter", select_on_focus=False)
        yield FilterMessage("", id="filter-error")
        with TabbedContent(id="tabs"):
            with TabPane("Packets", id="tab-packets"):
                with Vertical():
                    with Vertical(id="packets-pane"):
                        yield PacketHeader(id="packets-header")
                        yield PacketList(FunctionSource(self._count, self._cells), id="packets")
                    with Horizontal(id="lower"):
                        yield DetailsTree(id="details")
                        yield HexView(id="hex")
                        yield WiresharkTree(id="wireshark")
            with TabPane("Keys", id="tab-keys"):
                yield KeysPane(id="keys-pane")
            with TabPane("Timeline", id="tab-timeline"):
                with VerticalScroll(id="timeline-scroll"):
                    yield LifecycleChart(id="bars")
            with TabPane("Procedures", id="tab-procedures"):
                yield ProceduresPane(lambda: self.index.mbms, id="procedures-pane")
            with TabPane("Findings", id="tab-findings"):
                yield FindingsTable(id="findings")
            with TabPane("Plots", id="tab-plots"):
                yield PlotsPane(lambda: [row.pkt for row in self.rows], id="plots")
        yield StatusBar(id="statusbar")
        yield Footer()

    @property
    def packet_table(self) -> PacketList:
        return self.query_one("#packets", PacketList)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    def on_unmount(self) -> None:
        if self.pool is not None:  # (a chunk being read is finished first: a tenth of a
            # second; the loader, if it waits on one, stops at its next tick)
            self.pool.shutdown(wait=True, cancel_futures=True)

    def on_mount(self) -> None:
        self.set_interval(0.2, self._tick)
        # the first rows as soon as the loader has some (then the 0.2 s tick takes over)
        self._first = self.set_interval(0.02, self._first_rows)
        self._apply_time_format()
        self.packet_table.focus()  # keys work at once, as in Wireshark and termshark
        self._load_started = time.monotonic()
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
        severity = self.flagged.get((pkt.capture, pkt.frame))
        if severity is None and pkt.errors:
            severity = "error" if any(e.severity == "error" for e in pkt.errors) else "warning"
        if severity is not None:
            style = FINDING_STYLES.get(severity, FINDING_STYLES["warning"])
        elif mbms:
            style = PROTO_STYLES.get(pkt.protocol, "")
        else:
            style = "grey62"
        previous = self.index.time(self.position_of(row - 1)) if row > 0 else None
        shown = format_time(pkt.time, self.time_format, self._origin(), previous)
        return ((str(pkt.frame), shown, pkt.src, pkt.dst, pkt.protocol.upper()
                 if mbms else pkt.protocol.upper()[:8], pkt.summary), style)

    def _origin(self) -> float:
        """The first packet's time: "relative" times count from it."""
        starts = [self.index.start(c) for c in range(len(self.index.records))
                  if len(self.index.records[c])]
        return min(starts) if starts else 0.0

    def _first_rows(self) -> None:
        if not self.is_running or not self.query("#packets"):
            return
        if len(self.index) or self.loaded is not None:
            self._first.stop()
            self.packet_table.sync()

    def _tick(self) -> None:
        """Take in what the loader (or a filter worker) has added since last time."""
        if not self.is_running or not self.query("#packets"):
            return  # starting up or shutting down: nothing to update
        self._ticks += 1
        table = self.packet_table
        if self.loaded is None and self.live is None and self._ticks % 3 \
                and table.row_count >= table.size.height:
            return  # loading, the screen full: the list grows (and relays out) every 0.6 s
        table.sync()
        if self._ticks % 3:
            return  # the status line every 0.6 s is enough (and each update redraws)
        if self.live is not None:
            self._live_status()
        elif self.loaded is None:
            size = sum(_size(p) for p in self.paths) or 1
            read = sum(r.offsets[-1] for r in self.index.records if len(r))
            self.status.progress(min(1.0, read / size))
            self._status()

    # ------------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_captures(self) -> None:
        worker = get_current_worker()
        live = self.live
        index = self.index  # (what this load fills: a reload makes another)
        loaded = load(self.paths, self.store,
                      on_rows=lambda rows: self.post_message(self.RowsLoaded(list(rows), index)),
                      cancelled=lambda: worker.is_cancelled,
                      index=index,
                      live=live.running if live is not None else None,
                      paused=lambda: self.paused,
                      on_snapshot=lambda doc: self.post_message(self.Snapshot(doc, index)),
                      profile=self.profile, pool=self.pool)
        if not worker.is_cancelled:
            self.post_message(self.LoadDone(loaded, index))

    def _status(self, extra: str = "") -> None:
        """The status line: captures, packets read (and rate while loading), packets the
        filter shows, MBMS packets, keys, findings by severity."""
        names = ", ".join(Path(p).name for p in self.paths)
        n = len(self.index)
        parts = [names]
        if self.loaded is None and self.live is None:
            elapsed = max(1e-3, time.monotonic() - self._load_started)
            parts.append(f"{n} packets read ({n / elapsed:,.0f}/s), loading...")
        else:
            parts.append(f"{n} packets")
        if self.view is not None:
            parts.append(f"{len(self.view)} shown by the filter")
        parts.append(f"{len(self.rows)} MBMS")
        doc = self.timeline
        if doc:
            severities = [f["severity"] for f in doc.get("findings", [])]
            errors, warnings = severities.count("error"), severities.count("warning")
            parts.append(f"{len(doc.get('keys', []))} keys")
            parts.append(f"findings: {errors} errors, {warnings} warnings" if severities
                         else "no findings")
        parts.append(f"time: {self.time_format.value}")
        text = Text(" | ".join(parts))
        if extra:
            text.append(" - " + extra, style="bold red")
        self.status.say(text)

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
        if message.index is not self.index:
            return  # (from a load a reload replaced)
        self._show_timeline(message.timeline)

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
            self.loaded = Loaded(rows=list(self.rows), errors=[message])  # no more "loading"
            self._status(message)
        self.notify(message, severity="error", timeout=10)

    def reload(self, store: KeyStore | None) -> None:
        """Start over with another key file: every table re-derives."""
        self.workers.cancel_group(self, "load")
        self.workers.cancel_group(self, "filter")
        if self._detail_timer is not None:  # (its packet may not be read again yet)
            self._detail_timer.stop()
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
        doc = self.timeline

        def write(path: Path | None) -> None:
            if path is None:
                return
            try:
                path.write_text(json.dumps(doc, indent=1) + "\n")
            except OSError as exc:
                self.notify(f"cannot write {path}: {exc.strerror or exc}", severity="error")
                return
            self.notify(f"timeline written to {path.resolve()}")
        self.push_screen(SaveScreen("Save the timeline JSON as", self._out(".timeline.json")),
                         write)

    def action_export_decrypted(self) -> None:
        if self.store is None:
            self.notify("no key file: F2 loads one", severity="warning")
            return

        def write(path: Path | None) -> None:
            if path is not None:
                self.decrypt_worker(path)
        self.push_screen(SaveScreen("Save the capture with SRTP decrypted as",
                                    self._out(".decrypted.pcap")), write)

    @work(thread=True, group="decrypt", exit_on_error=False)
    def decrypt_worker(self, path: Path) -> None:
        try:
            result = decrypt_captures(list(self.paths), copy.deepcopy(self.store), str(path),
                                      self.profile)
        except (OSError, ValueError) as exc:
            self.call_from_thread(self.notify, f"cannot decrypt: {exc}", severity="error")
            return
        self.call_from_thread(self.notify, f"{result.replaced} of {result.total} packets "
                              f"decrypted into {path.resolve()}")

    def on_mbms_app_rows_loaded(self, message: RowsLoaded) -> None:
        if message.index is not self.index:
            return  # (posted by a load a reload cancelled, before it noticed)
        self.rows.extend(message.rows)
        table = self.packet_table
        top = table.scroll_offset.y
        bottom = top + table.size.height
        shown = self.view is not None
        for row in message.rows:  # a summary drawn before its dissection arrived is stale
            pos = self.index.position(row.pkt.capture, row.pkt.frame)
            self.index.forget(pos)
            shown = shown or top <= pos < bottom
        if self.view is not None and self.predicate.scope == "mbms":
            self._extend_view(message.rows)
        if shown or self.live is not None:  # (loading a file: the 0.6 s tick syncs)
            table.sync()
        if shown:  # rows drawn as plain packets may be MBMS ones now
            table.refresh()

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
        if message.index is not self.index:
            return
        self.loaded = message.loaded
        doc = message.loaded.timeline
        self._show_timeline(doc)
        if self.view is not None and self.predicate.scope != "mbms":
            self.run_filter(self.predicate)  # the whole index is there now
        self.packet_table.sync()
        self.status.progress(1.0)
        self._status("; ".join(message.loaded.errors))

    def _timeline_views(self) -> list[TimelineView]:
        """The panes that show part of the timeline (each owns what it draws)."""
        return [w for w in self.query("*") if isinstance(w, TimelineView)]

    def _show_timeline(self, doc: dict[str, Any]) -> None:
        """Hand a timeline (the final one, or a live capture's so far) to every pane
        that shows part of it; each redraws only when its part changed."""
        self.timeline = doc
        flagged: dict[tuple[int, int], str] = {}
        for f in doc.get("findings", []):
            key = (f["capture"], f["frame"])
            if flagged.get(key) != "error":
                flagged[key] = f["severity"]
        if flagged != self.flagged:
            self.flagged.clear()
            self.flagged.update(flagged)  # the filter reads this very dict
            self.packet_table.refresh()
        for pane in self._timeline_views():
            pane.origin = self._origin()
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
        its panes are already gone (the timer can fire during shutdown), or a reload
        has not read that far yet."""
        if self.query("#details") and position < len(self.index):
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
        if self.query_one("#wireshark", WiresharkTree).display:
            self._wireshark(capture, frame)

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
    @on(LifecycleChart.ShowFrames)
    def filter_to_key(self, event: KeysPane.ShowFrames | LifecycleChart.ShowFrames) -> None:
        """A key chosen in the Keys pane or the Timeline: the packet list shows its frames."""
        self.query_one("#filter", Input).value = \
            "frame in {" + " ".join(str(f) for f in event.frames) + "}"
        self.action_view("tab-packets")

    @on(LifecycleChart.KeyChosen)
    def key_chosen(self, event: LifecycleChart.KeyChosen) -> None:
        """A lane chosen on the Timeline: its key is selected in the Keys view too."""
        self.query_one("#keys-pane", KeysPane).select_key(event.key)

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        error = self.query_one("#filter-error", Static)
        if event.value.lstrip().startswith(TSHARK_PREFIX):
            error.update("a Wireshark display filter: Enter runs it through tshark")
            return
        try:
            predicate = compile_filter(event.value, self.flagged)
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
        self.packet_table.focus()  # Enter applies the filter and goes back to the list
        if not text.startswith(TSHARK_PREFIX):
            return
        self.workers.cancel_group(self, "filter")
        expr = text[len(TSHARK_PREFIX):].strip()
        self.predicate = compile_filter("frame", self.flagged)  # a marker: from tshark
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
        self.action_view("tab-packets")
        self.packet_table.move_cursor(row)

    def _jump_finding(self, step: int) -> None:
        table = self.packet_table
        frames = set(self.flagged) | {(r.pkt.capture, r.pkt.frame) for r in self.rows
                                      if r.has_finding}
        rows = sorted(r for r in (self._row_of(c, f) for c, f in frames) if r is not None)
        if not rows:
            self.notify("no packet with a finding in the list")
            return
        here = table.cursor_row
        if step > 0:
            target = next((r for r in rows if r > here), rows[0])
        else:
            target = next((r for r in reversed(rows) if r < here), rows[-1])
        self.action_view("tab-packets")
        table.move_cursor(target)

    def action_next_finding(self) -> None:
        self._jump_finding(1)

    def action_previous_finding(self) -> None:
        self._jump_finding(-1)

    def action_help(self) -> None:
        lines = []
        for b in self.BINDINGS:
            if b.action == "force_quit" or b.key == "ctrl+f":
                continue
            if b.action.startswith("view("):
                n = int(b.key)
                lines.append((b.key, f"view {VIEWS[n - 1][1]}"))
                continue
            if b.action == "pause" and self.live is None:
                continue
            lines.append((b.key_display or b.key, b.description))
        self.push_screen(HelpScreen(lines))

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_leave_filter(self) -> None:
        """Escape in the filter: back to the packet list (the filter stays)."""
        if isinstance(self.focused, Input):
            self.action_view("tab-packets")

    def action_force_quit(self) -> None:
        self.exit(self._exit_code())

    def action_quit(self) -> None:  # type: ignore[override]
        self.exit(self._exit_code())

    def _exit_code(self) -> int:
        """1 when a capture could not be read whole (as every command), else 0."""
        return 1 if self.loaded is not None and self.loaded.errors else 0

    def action_view(self, tab: str) -> None:
        """Show view *tab* (keys 1-6) with the focus on its main widget."""
        self.query_one("#tabs", TabbedContent).active = tab
        target = self.query(VIEW_FOCUS[tab])
        if target:
            target.first().focus()

    def action_wireshark(self) -> None:
        """``w``: tshark's own dissection of the selected packet, in place of the bytes
        (again: back to the bytes)."""
        view = self.query_one("#wireshark", WiresharkTree)
        view.display = not view.display
        self.query_one("#hex", HexView).display = not view.display
        if view.display and len(self.index) and self._count():
            position = self.position_of(min(self.packet_table.cursor_row, self._count() - 1))
            self._wireshark(*self.index.locate(position))

    def _wireshark(self, capture: int, frame: int) -> None:
        view = self.query_one("#wireshark", WiresharkTree)
        why = wireshark_available()
        if why is not None:
            view.unavailable(why)
            return
        view.waiting(frame)
        self.wireshark_worker(self.paths[capture], frame)

    @work(thread=True, exclusive=True, group="wireshark", exit_on_error=False)
    def wireshark_worker(self, path: str, frame: int) -> None:
        try:
            layers = wireshark_dissect(path, frame)
        except (LookupError, WiresharkUnavailable, OSError) as exc:
            self.call_from_thread(self.query_one("#wireshark", WiresharkTree).unavailable,
                                  str(exc))
            return
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self.query_one("#wireshark", WiresharkTree).show_layers,
                                  frame, layers)

    def action_time_format(self) -> None:
        """``t``: relative -> absolute (UTC) -> delta, in every view."""
        self.time_format = self.time_format.next()
        self._apply_time_format()
        self.notify(f"time: {self.time_format.value}", timeout=2)

    def _apply_time_format(self) -> None:
        columns = columns_for(self.time_format.column,
                              27 if self.time_format is TimeFormat.ABSOLUTE else 12)
        self.packet_table.columns = columns
        header = self.query_one("#packets-header", PacketHeader)
        header.columns = columns
        header.refresh()
        self.packet_table.refresh()
        for pane in self._timeline_views():
            pane.origin = self._origin()
            pane.time_format = self.time_format
        if self.is_mounted and self.query("#status"):
            self._status()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys that would be typed into the filter are not offered while it has the
        focus; ``p`` only while sniffing."""
        if action == "pause" and self.live is None:
            return False
        if action in TYPED_ACTIONS and isinstance(self.focused, Input):
            return None  # shown dimmed: typed into the input
        return True

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
            profile: Profile = DEFAULT_PROFILE, time_format: str = "relative") -> int:
    """Run the application (blocks until it quits); *live*: a running capture. The exit
    code: 1 when a capture could not be read whole, else 0."""
    code = MbmsApp(paths, store, live, profile, time_format).run()
    return code if isinstance(code, int) else 0
