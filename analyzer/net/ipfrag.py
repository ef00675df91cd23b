"""IP fragment reassembly (RFC 791 §3.2, RFC 815; IPv6: RFC 8200 §4.5), sans-IO.

MIKEY messages and BM-SC HTTP segments bigger than the path MTU arrive in
fragments. :class:`Defragmenter` takes every record that is a fragment and,
when the last missing piece arrives, gives back one record: the first
fragment's link and IP header (fragment fields cleared, lengths set) followed
by the whole payload, numbered and timed as the fragment that completed it.

Bounded: at most :data:`MAX_DATAGRAMS` datagrams pending, each at most 65,535
bytes, forgotten :data:`TIMEOUT` capture seconds after their first fragment
(RFC 791's reassembly timer). Where fragments overlap, the bytes that arrived
first stay (and the datagram is marked ``overlapped``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from analyzer.capture.reading import Record
from analyzer.net.decode import network_offset

MAX_DATAGRAMS = 1024
MAX_DATAGRAM = 65535
TIMEOUT = 30.0


@dataclass
class _Datagram:
    first_time: float
    head: bytes = b""  # link + IP header of the fragment at offset 0
    buf: bytearray = field(default_factory=bytearray)  # the payload so far
    have: bytearray = field(default_factory=bytearray)  # 1 for each byte already there
    total: int | None = None  # payload length, known from the last fragment
    v6_next: int = 0  # IPv6: the next header the fragment header announced
    overlapped: bool = False

    def put(self, offset: int, piece: bytes) -> None:
        """Write the bytes of *piece* not already there (the first arrival wins)."""
        end = offset + len(piece)
        if self.have.find(1, offset, end) >= 0:
            self.overlapped = True  # retransmitted, or overlapping (RFC 5722's worry)
        if len(self.buf) < end:
            self.buf.extend(bytes(end - len(self.buf)))
            self.have.extend(bytes(end - len(self.have)))
        pos = offset
        while pos < end:
            start = self.have.find(0, pos, end)
            if start < 0:
                break
            stop = self.have.find(1, start, end)
            stop = end if stop < 0 else stop
            self.buf[start:stop] = piece[start - offset:stop - offset]
            self.have[start:stop] = b"\x01" * (stop - start)
            pos = stop


def fragment_of(linktype: int, data: bytes) -> tuple | None:
    """(key, version, l3 offset, payload offset, fragment offset, more, v6 next header)
    when *data* is an IP fragment, else None."""
    where = network_offset(linktype, data)
    if where is None:
        return None
    off, etype = where
    if etype == 0x0800 and len(data) >= off + 20 and data[off] >> 4 == 4:
        flags = struct.unpack_from("!H", data, off + 6)[0]
        if not flags & 0x3FFF:
            return None
        ihl = (data[off] & 0x0F) * 4
        if ihl < 20:
            return None
        key = (4, data[off + 12:off + 20], data[off + 4:off + 6], data[off + 9])
        return key, 4, off, off + ihl, (flags & 0x1FFF) * 8, bool(flags & 0x2000), 0
    if etype == 0x86DD and len(data) >= off + 48 and data[off] >> 4 == 6:
        nxt, pos = data[off + 6], off + 40
        for _ in range(8):  # hop-by-hop, routing, destination options before the fragment header
            if nxt in (0, 43, 60) and pos + 8 <= len(data):
                nxt, pos = data[pos], pos + (data[pos + 1] + 1) * 8
            else:
                break
        if nxt != 44 or pos + 8 > len(data):
            return None
        word = struct.unpack_from("!H", data, pos + 2)[0]
        key = (6, data[off + 8:off + 40], data[pos + 4:pos + 8], data[pos])
        return key, 6, off, pos + 8, word & 0xFFF8, bool(word & 1), data[pos]
    return None


class Defragmenter:
    """Fragments in, whole datagrams out."""

    def __init__(self) -> None:
        self._pending: dict[tuple, _Datagram] = {}
        self.dropped = 0  # datagrams given up (timeout, too big, too many pending)

    def add(self, record: Record, frag: tuple) -> Record | None:
        """Add the fragment *record* (``frag`` from :func:`fragment_of`); the whole
        datagram once every piece is there."""
        key, version, l3, start, offset, more, v6_next = frag
        self._expire(record.time)
        dgram = self._pending.get(key)
        if dgram is None:
            if len(self._pending) >= MAX_DATAGRAMS:
                self._pending.pop(next(iter(self._pending)))
                self.dropped += 1
            dgram = self._pending[key] = _Datagram(record.time)
        end_of_ip = self._ip_end(record.data, version, l3)
        piece = record.data[start:end_of_ip]
        if offset + len(piece) > MAX_DATAGRAM:
            del self._pending[key]
            self.dropped += 1
            return None
        dgram.put(offset, piece)
        if offset == 0:
            dgram.head = record.data[:start] if version == 4 else \
                record.data[:start - 8]  # IPv6: up to the fragment header, which goes
            dgram.v6_next = v6_next
        if not more:
            dgram.total = offset + len(piece)
        payload = self._whole(dgram)
        if payload is None:
            return None
        del self._pending[key]
        data = self._rebuild(dgram, payload, version, l3)
        return Record(record.number, record.time, record.linktype, data, len(data))

    @staticmethod
    def _ip_end(data: bytes, version: int, l3: int) -> int:
        if version == 4:
            total = struct.unpack_from("!H", data, l3 + 2)[0]
            return min(len(data), l3 + total) if total >= 20 else len(data)
        plen = struct.unpack_from("!H", data, l3 + 4)[0]
        return min(len(data), l3 + 40 + plen) if plen else len(data)

    @staticmethod
    def _whole(dgram: _Datagram) -> bytes | None:
        if dgram.total is None or not dgram.head or len(dgram.have) < dgram.total:
            return None
        if dgram.have.find(0, 0, dgram.total) >= 0:
            return None  # a hole
        return bytes(dgram.buf[:dgram.total])

    @staticmethod
    def _rebuild(dgram: _Datagram, payload: bytes, version: int, l3: int) -> bytes:
        head = bytearray(dgram.head)
        if version == 4:
            struct.pack_into("!H", head, l3 + 2, len(head) - l3 + len(payload))
            struct.pack_into("!H", head, l3 + 6, 0)  # no more fragments, offset 0
            return bytes(head) + payload
        # IPv6: the fragment header's next header goes into the header before it
        struct.pack_into("!H", head, l3 + 4, len(head) - l3 - 40 + len(payload))
        if len(head) == l3 + 40:
            head[l3 + 6] = dgram.v6_next
        else:  # extension headers before it: the last one points on
            pos, nxt = l3 + 40, head[l3 + 6]
            last = l3 + 6
            while pos < len(head) and nxt != 44:
                last, nxt, pos = pos, head[pos], pos + (head[pos + 1] + 1) * 8
            head[last] = dgram.v6_next
        return bytes(head) + payload

    def _expire(self, now: float) -> None:
        while self._pending:
            key, oldest = next(iter(self._pending.items()))
            if now - oldest.first_time <= TIMEOUT:
                break
            del self._pending[key]
            self.dropped += 1
