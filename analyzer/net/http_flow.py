"""HTTP over reassembled TCP (sans-IO): TCP segments in, whole HTTP messages out.

Only connections that carry HTTP are followed: a direction is taken as HTTP when
its first payload starts with an HTTP request or status line (by content, not
by port). The two directions of a connection are paired so that a response
knows the method it answers (no body after HEAD). Memory is bounded by the
reassembler's caps and by :data:`MAX_TRACKED` connections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from analyzer.net.decode import Transport
from analyzer.net.tcp import Chunk, Reassembler
from dissectors.http import HttpMessage, HttpStream

MAX_TRACKED = 10_000
#: bytes of a new connection that may wait for its first in-order bytes to be probed
PROBE_LIMIT = 65536
_PROBE = re.compile(rb"^(?:[A-Z][A-Z0-9_-]{0,19} |HTTP/\d)")


@dataclass(frozen=True, slots=True)
class HttpEvent:
    """A whole HTTP message and the direction it travelled."""

    message: HttpMessage
    src: str
    sport: int
    dst: str
    dport: int


@dataclass
class _Conn:
    streams: dict[tuple[str, int, str, int], HttpStream] = field(default_factory=dict)


@dataclass
class HttpTracker:
    """Follows every HTTP connection of a capture."""

    tcp: Reassembler = field(default_factory=Reassembler)
    conns: dict[frozenset, _Conn] = field(default_factory=dict)
    ignored: set[frozenset] = field(default_factory=set)
    #: ports whose connections are taken as HTTP whatever their first bytes (so that
    #: garbage there is reported); elsewhere HTTP is recognised by content
    http_ports: frozenset[int] = frozenset()

    def segment(self, tp: Transport, frame: tuple[int, int], time: float) -> tuple[bool, list[HttpEvent]]:
        """Add one TCP segment: (is it part of an HTTP connection, messages it completes)."""
        key = (tp.src, tp.sport, tp.dst, tp.dport)
        conn_key = frozenset((key[:2], key[2:]))
        conn = self.conns.get(conn_key)
        if conn is None:
            if conn_key in self.ignored:
                return False, []
            half = self.tcp.halves.get(key)
            if tp.tcp_flags & 0x02 or (half is not None and half.next_seq is not None):
                # the connection's start was seen: probe its first bytes in stream order
                chunks = self.tcp.segment(key, tp.tcp_seq or 0, tp.tcp_flags, tp.payload,
                                          frame, time)
                self.tcp.issues.clear()
                half = self.tcp.halves.get(key)
                if not chunks:
                    if half is not None and half.pending_bytes > PROBE_LIMIT:
                        self._ignore(conn_key, key)
                    return False, []
                first = next((c.data for c in chunks if c.data), b"")
                if not self._is_http(first, tp):
                    self._ignore(conn_key, key)
                    return False, []
                conn = self._track(conn_key)
                return True, self._deliver(conn, key, chunks, frame, time)
            if not tp.payload:
                return False, []
            if not self._is_http(tp.payload, tp):  # a capture that starts mid-connection
                self._ignore(conn_key, key)
                return False, []
            conn = self._track(conn_key)
        chunks = self.tcp.segment(key, tp.tcp_seq or 0, tp.tcp_flags, tp.payload, frame, time)
        events = self._deliver(conn, key, chunks, frame, time)
        if tp.tcp_flags & 0x05:  # FIN or RST: the direction ends
            stream = conn.streams.get(key)
            if stream is not None:
                events.extend(self._events(stream.close(frame, time), key))
        return True, events

    def _is_http(self, first: bytes, tp: Transport) -> bool:
        return bool(_PROBE.match(first)) or bool({tp.sport, tp.dport} & self.http_ports)

    def _ignore(self, conn_key: frozenset, key: tuple[str, int, str, int]) -> None:
        if len(self.ignored) > 4 * MAX_TRACKED:
            self.ignored.clear()
        self.ignored.add(conn_key)
        self.tcp.forget(key)
        self.tcp.forget((key[2], key[3], key[0], key[1]))

    def _track(self, conn_key: frozenset) -> _Conn:
        if len(self.conns) >= MAX_TRACKED:
            self.conns.clear()
            self.tcp.halves.clear()
            self.tcp.total_pending = 0
        conn = self.conns[conn_key] = _Conn()
        return conn

    def _stream(self, conn: _Conn, key: tuple[str, int, str, int], first: bytes) -> HttpStream:
        stream = conn.streams.get(key)
        if stream is None:
            stream = conn.streams[key] = HttpStream(is_server_side=first.startswith(b"HTTP/"))
        return stream

    def _deliver(self, conn: _Conn, key: tuple[str, int, str, int], chunks: list[Chunk],
                 frame: tuple[int, int], time: float) -> list[HttpEvent]:
        events: list[HttpEvent] = []
        for chunk in chunks:
            if chunk.gap:
                stream = conn.streams.get(key)
                if stream is not None:
                    events.extend(self._events(stream.gap(chunk.gap, chunk.frame, chunk.time), key))
                continue
            stream = self._stream(conn, key, chunk.data)
            msgs = stream.feed(chunk.data, chunk.frame, chunk.time)
            for msg in msgs:
                if msg.is_request and msg.method:
                    peer = conn.streams.get((key[2], key[3], key[0], key[1]))
                    if peer is None:
                        peer = conn.streams[(key[2], key[3], key[0], key[1])] = HttpStream(True)
                    peer.pending_methods.append(msg.method)
            events.extend(self._events(msgs, key))
        for tframe, issue in self.tcp.issues:  # reassembly problems, reported where seen
            events.append(HttpEvent(HttpMessage(False, complete=False, frames=[tframe],
                                                time=time, issues=[issue]), *key))
        self.tcp.issues.clear()
        return events

    @staticmethod
    def _events(msgs: list[HttpMessage], key: tuple[str, int, str, int]) -> list[HttpEvent]:
        return [HttpEvent(m, *key) for m in msgs]

    def finish(self, frame: tuple[int, int], time: float) -> list[HttpEvent]:
        """End of the captures: deliver what waits behind gaps, close every stream."""
        events: list[HttpEvent] = []
        for key, chunks in self.tcp.flush_all(frame, time).items():
            conn = self.conns.get(frozenset((key[:2], key[2:])))
            if conn is not None:
                events.extend(self._deliver(conn, key, chunks, frame, time))
        for conn in self.conns.values():
            for key, stream in conn.streams.items():
                events.extend(self._events(stream.close(frame, time), key))
        self.conns.clear()
        return events

