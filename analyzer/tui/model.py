"""What the TUI shows, computed away from the UI thread (no Textual here).

:func:`load` streams captures through the same pipeline as ``dissect`` and
``export`` and hands back batches of :class:`Row` s (the MBMS packets, fully
dissected) as it goes, then the timeline. Meanwhile it fills a
:class:`PacketIndex` with the place of *every* packet in its file: the packet
list draws any row from that, reading and summarising a frame only when it is
on screen (:mod:`analyzer.views.frame`), so a million packets cost about 24
bytes each and the first screen does not wait for the end of the file.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.capture.reading import RecordIndex
from analyzer.keys.store import KeyStore
from analyzer.output.timeline import snapshot, timeline
from analyzer.pipeline.session import Session
from analyzer.views.frame import Span, summarize_frame
from analyzer.views.result import Dissected

BATCH = 500


@dataclass
class Row:
    """One packet of the packet list: its dissection and its frame bytes."""

    index: int
    pkt: Dissected
    data: bytes

    @property
    def has_finding(self) -> bool:
        return bool(self.pkt.errors)


class PacketIndex:
    """Every packet of the opened captures, in capture order, then frame order.

    Positions are global (0-based, capture after capture). The loader appends
    while the UI reads: the UI only asks for positions below ``len(self)``.
    """

    #: light summaries kept for drawing and scrolling back
    CACHE = 4096

    def __init__(self, paths: list[str]) -> None:
        self.paths = list(paths)
        self.records = [RecordIndex() for _ in self.paths]
        self.mbms: dict[tuple[int, int], Row] = {}
        self._fds: dict[int, int] = {}
        self._cache: OrderedDict[int, tuple[Dissected, list[Span | None]]] = OrderedDict()
        self._lock = threading.Lock()
        self._cache_lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(r) for r in self.records)

    def locate(self, position: int) -> tuple[int, int]:
        """(capture, frame number) of a global position."""
        starts, total = [], 0
        for rec in self.records:
            starts.append(total)
            total += len(rec)
        capture = bisect.bisect_right(starts, position) - 1
        while capture > 0 and not len(self.records[capture]):
            capture -= 1
        return capture, position - starts[capture] + 1

    def position(self, capture: int, frame: int) -> int:
        """The global position of frame *frame* of capture *capture*."""
        return sum(len(r) for r in self.records[:capture]) + frame - 1

    def time(self, position: int) -> float:
        capture, frame = self.locate(position)
        return self.records[capture].times[frame - 1]

    def start(self, capture: int) -> float:
        times = self.records[capture].times
        return times[0] if times else 0.0

    def frame_bytes(self, capture: int, frame: int) -> bytes:
        """The captured bytes of a frame, read from its file (b"" if it is gone)."""
        rec = self.records[capture]
        with self._lock:
            fd = self._fds.get(capture)
            try:
                if fd is None:
                    fd = self._fds[capture] = os.open(self.paths[capture], os.O_RDONLY)
                return os.pread(fd, rec.lengths[frame - 1], rec.offsets[frame - 1])
            except OSError:
                return b""

    def packet(self, position: int) -> tuple[Dissected, bool]:
        """The packet at *position* and whether it is an MBMS one (fully dissected)."""
        capture, frame = self.locate(position)
        row = self.mbms.get((capture, frame))
        if row is not None:
            return row.pkt, True
        return self.light(position)[0], False

    def light(self, position: int) -> tuple[Dissected, list[Span | None]]:
        """The link/IP/transport summary of the packet at *position*, with byte spans."""
        with self._cache_lock:  # the UI draws and a filter worker reads at once
            hit = self._cache.get(position)
            if hit is not None:
                self._cache.move_to_end(position)
                return hit
        capture, frame = self.locate(position)
        rec = self.records[capture]
        out = summarize_frame(capture, frame, rec.times[frame - 1], rec.linktypes[frame - 1],
                              self.frame_bytes(capture, frame))
        with self._cache_lock:
            self._cache[position] = out
            if len(self._cache) > self.CACHE:
                self._cache.popitem(last=False)
        return out

    def forget(self, position: int) -> None:
        """Drop a cached summary (its packet turned out to be an MBMS one)."""
        with self._cache_lock:
            self._cache.pop(position, None)

    def close(self) -> None:
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()


@dataclass
class Loaded:
    """Everything loaded: rows, the timeline document, errors."""

    rows: list[Row] = field(default_factory=list)
    timeline: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def load(paths: Iterable[str], store: KeyStore | None,
         on_rows: Callable[[list[Row]], None] | None = None,
         cancelled: Callable[[], bool] = lambda: False,
         on_progress: Callable[[float], None] | None = None,
         index: PacketIndex | None = None,
         live: Callable[[], bool] | None = None,
         paused: Callable[[], bool] = lambda: False,
         on_snapshot: Callable[[dict[str, Any]], None] | None = None,
         profile: Profile = DEFAULT_PROFILE, pool: Any = None) -> Loaded:
    """Run *paths* through the one pipeline (:class:`~analyzer.pipeline.session.Session`, as
    ``export`` and ``dissect`` do: merged in time, clocks aligned, a message two taps
    saw counted once, the same *profile*); batches of rows go to *on_rows* as they
    are ready, and the fraction of bytes read to *on_progress*. With *index*, every
    packet's place is recorded there and every MBMS row registered in it.

    With *live* (a capture being written: ``live()`` is true while it is), the
    file is followed to its end; while waiting for packets, rows are handed on
    at once, *paused* holds the reading, and every second *on_snapshot* gets the
    timeline so far.

    With *pool* (:func:`analyzer.pipeline.scan.start_pool`, started before the
    caller's threads), a large capture is read on its processes, chunk by chunk, as
    ``export`` reads it; else in this thread.
    """
    out = Loaded()
    paths = list(paths)
    batch: list[Row] = []
    last_snapshot = [time.monotonic()]
    size = sum(_size(p) for p in paths) or 1
    sizes = [_size(p) for p in paths]

    def row(pkt: Dissected, data: bytes) -> None:
        item = Row(len(out.rows), pkt, data)
        out.rows.append(item)
        batch.append(item)
        if index is not None:
            index.mbms.setdefault((pkt.capture, pkt.frame), item)
        if len(batch) >= BATCH:
            flush()

    def flush() -> None:
        nonlocal batch
        if batch and on_rows is not None:
            on_rows(batch)
        batch = []

    def hold() -> None:
        if cancelled():
            raise _Cancelled
        while paused() and not cancelled():
            time.sleep(0.1)

    def tick(capture: int) -> None:
        # every 4,096 records: the place to notice a cancel and report progress
        hold()
        if on_progress is not None and index is not None:
            done = sum(sizes[:capture])
            rec = index.records[capture]
            if len(rec):
                on_progress(min(1.0, (done + rec.offsets[-1]) / size))

    run = Session(store, profile=profile, on_packet=row, tick=tick,
                 workers=None if pool is not None else 1, pool=pool,
                 indexes=index.records if index is not None else None)

    def follow() -> bool:
        hold()
        flush()
        now = time.monotonic()
        if on_snapshot is not None and now - last_snapshot[0] >= 1.0:
            last_snapshot[0] = now
            on_snapshot(snapshot(run))
        return bool(live is not None and live())

    try:
        out.errors = run.add_captures(paths, follow=follow if live is not None else None)
    except _Cancelled:
        return out
    flush()
    if on_progress is not None:
        on_progress(1.0)
    out.timeline = timeline(run)
    return out


class _Cancelled(Exception):
    """The loader was told to stop."""


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


#: byte span of an SRTP/SRTCP field, relative to the UDP payload (RFC 3550 §5.1, RFC 3711 §3.1)
_RTP_SPANS = {"rtp.version": (0, 1), "rtp.padding": (0, 1), "rtp.ext": (0, 1), "rtp.cc": (0, 1),
              "rtp.marker": (1, 2), "rtp.p_type": (1, 2), "rtp.seq": (2, 4),
              "rtp.timestamp": (4, 8), "rtp.ssrc": (8, 12), "rtcp.version": (0, 1),
              "rtcp.pt": (1, 2), "rtcp.senderssrc": (4, 8)}
#: LCT fixed-header fields (RFC 5651 §5.1) that sit at the same bytes in every packet
_LCT_SPANS = {"alc.version": (0, 1), "rmt-lct.version": (0, 1), "rmt-lct.fsize.cci": (0, 1),
              "rmt-lct.psi": (0, 1), "rmt-lct.fsize.tsi": (1, 2), "rmt-lct.fsize.toi": (1, 2),
              "rmt-lct.flags.sct_present": (1, 2), "rmt-lct.flags.ert_present": (1, 2),
              "rmt-lct.flags.close_session": (1, 2), "rmt-lct.flags.close_object": (1, 2),
              "rmt-lct.hlen": (2, 3), "rmt-lct.codepoint": (3, 4)}


def mbms_spans(linktype: int, data: bytes, pkt: Dissected,
               profile: Profile = DEFAULT_PROFILE) -> list[Span | None]:
    """The byte span in the frame of each item of an MBMS packet (None: no bytes
    of its own, e.g. decrypted values, HTTP/XML fields, text carriers); MIKEY is
    looked for where *profile* says, as the pipeline did."""
    from analyzer.net.decode import decode_transport
    from analyzer.pipeline.find import mikey_payloads
    from dissectors.mikey import parse, tree_spans

    spans: list[Span | None] = [None] * len(pkt.items)
    tp = decode_transport(linktype, data)
    if tp is None:
        return spans
    base = tp.payload_offset
    if pkt.protocol in ("srtp", "srtcp"):
        n = len(tp.payload)
        for k, item in enumerate(pkt.items):
            name = getattr(item, "name", None)
            if name in _RTP_SPANS:
                a, b = _RTP_SPANS[name]
                spans[k] = (base + a, base + b)
            elif k == 0:
                spans[k] = (base, base + n)
            elif name == "srtp.auth_tag":
                spans[k] = (base + n - len(bytes.fromhex(item.value)), base + n)
            elif name == "srtp.mki":
                mki_len = len(bytes.fromhex(item.value))
                tag = next((len(bytes.fromhex(i.value)) for i in pkt.items
                            if getattr(i, "name", None) == "srtp.auth_tag"), 0)
                spans[k] = (base + n - tag - mki_len, base + n - tag)
        return spans
    if pkt.protocol == "alc" and spans:
        spans[0] = (base, base + len(tp.payload))  # the ALC packet; its fields by name below
        hlen = next((i.value for i in pkt.items if getattr(i, "name", None) == "rmt-lct.hlen"),
                    None)
        if hlen is not None and hlen <= len(tp.payload):
            for k, item in enumerate(pkt.items):
                name = getattr(item, "name", None)
                if name in _LCT_SPANS:
                    a, b = _LCT_SPANS[name]
                    spans[k] = (base + a, base + b)
                elif name == "alc.payload":
                    spans[k] = (base + len(tp.payload) - item.value, base + len(tp.payload))
        return spans
    if pkt.protocol != "mikey":
        return spans
    expected: list[tuple[Any, Span | None]] = []
    for _carrier, raw, issue in mikey_payloads(tp, profile):
        at = data.find(raw, base) if issue is None else -1
        if at < 0:
            continue
        expected.append(("title", (at, at + len(raw))))
        expected.extend((item, (at + a, at + b) if span else None)
                        for item, span in tree_spans(parse(raw))
                        for a, b in [span or (0, 0)])
    pos = 0
    for k, item in enumerate(pkt.items):
        if pos >= len(expected):
            break
        want, span = expected[pos]
        if want == "title" and getattr(item, "depth", 0) == -1 and type(item).__name__ == "Node":
            spans[k] = span
            pos += 1
        elif want == item:
            spans[k] = span
            pos += 1
    return spans


class TsharkError(Exception):
    """tshark is missing, or refused the filter (its message)."""


def tshark_frames(paths: list[str], expr: str, timeout: float = 600.0) -> list[tuple[int, int]]:
    """(capture, frame) of every packet a Wireshark display filter matches, by tshark.

    The MIKEY ports of our profile are decoded as MIKEY for tshark too.
    """
    import shutil
    import subprocess

    tshark = shutil.which("tshark")
    if tshark is None:
        raise TsharkError("tshark is not installed (apt-get install tshark)")
    if not expr:
        raise TsharkError("no filter after 'tshark:'")
    out: list[tuple[int, int]] = []
    for capture, path in enumerate(paths):
        proc = subprocess.run([tshark, "-n", "-r", path, "-d", "udp.port==4359,mikey", "-Y", expr,
                               "-T", "fields", "-e", "frame.number"], capture_output=True,
                              text=True, timeout=timeout)
        if proc.returncode != 0 and not proc.stdout:
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "root" not in ln]
            raise TsharkError(lines[0].strip().removeprefix("tshark: ") if lines
                              else f"exit code {proc.returncode}")
        out.extend((capture, int(line)) for line in proc.stdout.split() if line.isdigit())
    return out
