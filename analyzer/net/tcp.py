"""TCP stream reassembly (sans-IO): segments in, contiguous byte runs out.

Good enough for real captures (RFC 793 sequence space, as Wireshark's
"allow subdissector to reassemble TCP streams"):

* each direction of each connection is a :class:`Half`, keyed by the 4-tuple;
  a new SYN on a known 4-tuple starts a new connection;
* out-of-order segments wait until the gap before them fills; retransmissions
  and overlaps keep the bytes seen first (overlapping different data is a finding);
* a gap that does not fill is given up when the waiting data passes
  :data:`MAX_PENDING` bytes, or at FIN/RST or the end of the capture: the
  missing range is reported (``tcp.missing_segment``) and the rest is delivered;
* memory is bounded: :data:`MAX_PENDING` bytes wait per direction and
  :data:`MAX_TOTAL_PENDING` in all (``tcp.buffer_cap``), over at most
  :data:`MAX_CONNECTIONS` directions.

Delivery is a list of :class:`Chunk` s, each with the frames its bytes came
from, for the application parser above.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dissectors.issues import Issue

MAX_PENDING = 1 << 20
MAX_TOTAL_PENDING = 64 << 20
MAX_CONNECTIONS = 20_000
SEQ_MOD = 1 << 32


@dataclass(frozen=True, slots=True)
class Chunk:
    """Contiguous stream bytes and the frame that completed them.

    Attributes:
        data: the bytes; empty with ``gap`` > 0 when bytes are missing.
        frame: (capture, frame) of the segment that made them deliverable.
        time: that segment's timestamp.
        gap: number of missing bytes before ``data`` (0 when contiguous).
    """

    data: bytes
    frame: tuple[int, int]
    time: float
    gap: int = 0


@dataclass
class Half:
    """One direction of a TCP connection."""

    next_seq: int | None = None
    pending: dict[int, tuple[bytes, tuple[int, int], float]] = field(default_factory=dict)
    pending_bytes: int = 0
    closed: bool = False


def _rel(a: int, b: int) -> int:
    """Signed distance from sequence number *b* to *a* (mod 2^32)."""
    d = (a - b) % SEQ_MOD
    return d - SEQ_MOD if d >= SEQ_MOD // 2 else d


@dataclass
class Reassembler:
    """All TCP connections of a capture."""

    halves: dict[tuple[str, int, str, int], Half] = field(default_factory=dict)
    issues: list[tuple[tuple[int, int], Issue]] = field(default_factory=list)
    total_pending: int = 0

    def segment(self, key: tuple[str, int, str, int], seq: int, flags: int, payload: bytes,
                frame: tuple[int, int], time: float) -> list[Chunk]:
        """Add one segment of direction *key* (src, sport, dst, dport); return what is ready."""
        syn, fin, rst = flags & 0x02, flags & 0x01, flags & 0x04
        half = self.halves.get(key)
        if half is None or (syn and half.next_seq is not None and half.closed):
            if len(self.halves) >= MAX_CONNECTIONS:
                self.halves.clear()
                self.total_pending = 0
            old = self.halves.get(key)
            if old is not None:
                self.total_pending -= old.pending_bytes
            half = self.halves[key] = Half()
        out: list[Chunk] = []
        if syn:
            half.next_seq = (seq + 1) % SEQ_MOD
            seq = half.next_seq
        if half.next_seq is None:  # capture started mid-connection
            half.next_seq = seq
        if payload:
            self._add(half, seq, payload, frame, time, out)
        if fin or rst:
            out.extend(self.flush(key, frame, time))
            half.closed = True
        return out

    def _add(self, half: Half, seq: int, data: bytes, frame: tuple[int, int], time: float,
             out: list[Chunk]) -> None:
        rel = _rel(seq, half.next_seq)
        if rel < 0:  # starts before what was delivered: retransmission or overlap
            if -rel >= len(data):
                return
            data, seq = data[-rel:], half.next_seq
            rel = 0
        if rel > 0:
            if seq not in half.pending:
                half.pending[seq] = (data, frame, time)
                half.pending_bytes += len(data)
                self.total_pending += len(data)
            elif half.pending[seq][0] != data[:len(half.pending[seq][0])]:
                self.issues.append((frame, Issue("tcp.overlap_conflict",
                                                 "retransmitted bytes differ from the first copy",
                                                 "warning")))
            if half.pending_bytes > MAX_PENDING or self.total_pending > MAX_TOTAL_PENDING:
                self.issues.append((frame, Issue("tcp.buffer_cap", f"{half.pending_bytes} "
                                                 "bytes wait behind a gap: giving up on it")))
                while half.pending:
                    self._skip_gap(half, frame, time, out)
            return
        out.append(Chunk(data, frame, time))
        half.next_seq = (seq + len(data)) % SEQ_MOD
        self._drain(half, out)

    def _drain(self, half: Half, out: list[Chunk]) -> None:
        progress = True
        while progress and half.pending:
            progress = False
            for pseq in list(half.pending):
                rel = _rel(pseq, half.next_seq)
                if rel > 0:
                    continue
                data, frame, time = half.pending.pop(pseq)
                half.pending_bytes -= len(data)
                self.total_pending -= len(data)
                if -rel < len(data):
                    out.append(Chunk(data[-rel:], frame, time))
                    half.next_seq = (pseq + len(data)) % SEQ_MOD
                progress = True

    def _skip_gap(self, half: Half, frame: tuple[int, int], time: float,
                  out: list[Chunk]) -> None:
        first = min(half.pending, key=lambda s: _rel(s, half.next_seq))
        gap = _rel(first, half.next_seq)
        self.issues.append((frame, Issue("tcp.missing_segment",
                                         f"{gap} bytes never captured; the stream goes on after them")))
        out.append(Chunk(b"", frame, time, gap))
        half.next_seq = first
        self._drain(half, out)

    def forget(self, key: tuple[str, int, str, int]) -> None:
        """Drop direction *key* and what waits in it."""
        half = self.halves.pop(key, None)
        if half is not None:
            self.total_pending -= half.pending_bytes

    def flush(self, key: tuple[str, int, str, int], frame: tuple[int, int],
              time: float) -> list[Chunk]:
        """Deliver what waits behind gaps in direction *key* (at FIN/RST or the end)."""
        half = self.halves.get(key)
        out: list[Chunk] = []
        while half is not None and half.pending:
            self._skip_gap(half, frame, time, out)
        return out

    def flush_all(self, frame: tuple[int, int], time: float) -> dict[tuple, list[Chunk]]:
        """End of the captures: every direction's waiting data."""
        return {key: chunks for key in list(self.halves)
                if (chunks := self.flush(key, frame, time))}
