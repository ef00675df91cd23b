"""Capture file reading: pcap and pcapng records without building packets.

A struct walk over the file (the fast path of DESIGN.md "reading"): every
record comes out as a :class:`Record` with its link type, timestamp and bytes.
Both byte orders and micro/nanosecond pcap are read; pcapng interfaces keep
their own link type and timestamp resolution (``if_tsresol``).

Damage never loses what came before it: :func:`read_capture` yields every
whole record up to the damage, then raises :class:`CaptureError` naming the
byte offset.
"""

from __future__ import annotations

import struct
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D

#: Largest record or block accepted (bytes); a bigger length means corruption.
MAX_RECORD = 256 * 1024 * 1024


class CaptureError(Exception):
    """A capture that cannot be read (further): the message says where and why."""


@dataclass(frozen=True, slots=True)
class Record:
    """One captured frame.

    Attributes:
        number: 1-based frame number, like Wireshark's.
        time: capture timestamp, seconds since the Unix epoch.
        linktype: the LINKTYPE_ value of the interface it was captured on.
        data: the captured bytes.
        orig_len: length on the wire.
    """

    number: int
    time: float
    linktype: int
    data: bytes
    orig_len: int


class Tally:
    """What a read saw of every record, kept or not: count and first/last time.

    Attributes:
        packets: records read.
        start, end: earliest and latest timestamps (None before the first record).
    """

    __slots__ = ("packets", "start", "end")

    def __init__(self) -> None:
        self.packets = 0
        self.start: float | None = None
        self.end: float | None = None

    def add(self, time: float) -> None:
        self.packets += 1
        if self.start is None or time < self.start:
            self.start = time
        if self.end is None or time > self.end:
            self.end = time


class RecordIndex:
    """Where each record of one capture lies in its file, in compact arrays.

    The TUI's packet list shows a million packets from this (about 24 bytes a
    packet) and reads a frame's bytes only when its row is drawn.
    """

    __slots__ = ("times", "offsets", "lengths", "linktypes")

    def __init__(self) -> None:
        self.times = array("d")
        self.offsets = array("q")  # file offset of the frame bytes
        self.lengths = array("I")  # captured length
        self.linktypes = array("I")

    def __len__(self) -> int:
        return len(self.times)


#: ``keep(linktype, buf, start, end) -> bool``: decides from the frame bytes
#: ``buf[start:end]`` (not yet copied out) whether a record is wanted.
Keep = Callable[[int, bytes, int, int], bool]

#: Bytes read from the file at a time: records are walked inside this buffer.
CHUNK = 1 << 22


def read_capture(path: str | Path, keep: Keep | None = None,
                 tally: Tally | None = None, index: RecordIndex | None = None,
                 follow: Callable[[], bool] | None = None) -> Iterator[Record]:
    """Yield every record of a pcap or pcapng file (with *keep*, only the wanted ones).

    The file is read in chunks of :data:`CHUNK` bytes and its records walked
    with ``struct`` inside them: a record *keep* rejects costs one call and no
    copy. *tally*, when given, counts every record and its time range; *index*
    receives every record's place in the file. With *follow*, a file still being
    written (a live capture) is waited on at its end while ``follow()`` is true.

    Raises:
        CaptureError: the file cannot be opened, is no capture, or is damaged
            (after every whole record before the damage has been yielded).
    """
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise CaptureError(f"{path}: {exc.strerror or exc}") from None
    with fh:
        src = _Source(fh, follow)
        if not src.need(0, 4):
            raise CaptureError(f"{path}: not a pcap or pcapng file (too short)")
        head = bytes(src.buf[:4])
        if head in PCAP_MAGICS:
            yield from _read_pcap(src, path, head, keep, tally, index)
        elif struct.unpack("<I", head)[0] == PCAPNG_SHB:
            yield from _read_pcapng(src, path, keep, tally, index)
        else:
            raise CaptureError(f"{path}: not a pcap or pcapng file (magic {head.hex()})")


class _Source:
    """A window on a file: ``buf`` holds the bytes from file offset ``base`` on."""

    __slots__ = ("fh", "buf", "base", "follow")

    def __init__(self, fh: BinaryIO, follow: Callable[[], bool] | None = None) -> None:
        self.fh = fh
        self.buf = b""
        self.base = 0
        self.follow = follow

    def need(self, pos: int, n: int) -> bool:
        """Make ``buf[pos:pos + n]`` available (*pos* relative to ``buf``), dropping
        what lies before *pos*; False at the end of the file. After a call that
        moves the window, positions restart at 0: callers use :meth:`rebase`."""
        if pos + n <= len(self.buf):
            return True
        rest = self.buf[pos:]
        self.base += pos
        more = self.fh.read(max(CHUNK, n - len(rest)))
        self.buf = rest + more
        while len(self.buf) < n:
            more = self.fh.read(max(CHUNK, n - len(self.buf)))
            if more:
                self.buf += more
            elif self.follow is not None and self.follow():
                time.sleep(0.05)  # a live capture: the writer has more to come
            elif self.follow is not None:
                self.follow = None  # the writer stopped: what it wrote last, then the end
            else:
                break
        return len(self.buf) >= n


def _read_pcap(src: _Source, path: str | Path, magic: bytes, keep: Keep | None,
               tally: Tally | None, index: RecordIndex | None) -> Iterator[Record]:
    endian, scale = PCAP_MAGICS[magic]
    if not src.need(0, 24):
        raise CaptureError(f"{path}: pcap header truncated at offset {len(src.buf)}")
    linktype = struct.unpack_from(endian + "I", src.buf, 20)[0] & 0x0FFFFFFF
    unpack = struct.Struct(endian + "IIII").unpack_from
    pos = 24
    number = 0
    first, last = float("inf"), float("-inf")
    try:
        while True:
            buf = src.buf
            if pos + 16 > len(buf):
                if not src.need(pos, 16):
                    if len(src.buf) == 0:
                        return
                    raise CaptureError(f"{path}: record header truncated at offset {src.base}")
                pos, buf = 0, src.buf
            sec, frac, incl, orig = unpack(buf, pos)
            if incl > MAX_RECORD:
                raise CaptureError(f"{path}: corrupt record length {incl} at offset {src.base + pos}")
            end = pos + 16 + incl
            if end > len(buf):
                if not src.need(pos, 16 + incl):
                    raise CaptureError(f"{path}: record {number + 1} truncated at offset {src.base}")
                pos, buf = 0, src.buf
                end = 16 + incl
            number += 1
            time = sec + frac * scale
            if time < first:
                first = time
            if time > last:
                last = time
            if index is not None:
                index.times.append(time)
                index.offsets.append(src.base + pos + 16)
                index.lengths.append(incl)
                index.linktypes.append(linktype)
            if keep is None or keep(linktype, buf, pos + 16, end):
                yield Record(number, time, linktype, buf[pos + 16:end], orig)
            pos = end
    finally:
        if tally is not None and number:
            tally.packets += number
            tally.start = first if tally.start is None else min(tally.start, first)
            tally.end = last if tally.end is None else max(tally.end, last)


def _read_pcapng(src: _Source, path: str | Path, keep: Keep | None,
                 tally: Tally | None, index: RecordIndex | None) -> Iterator[Record]:
    endian = "<"
    interfaces: list[tuple[int, float]] = []
    pos = 0
    number = 0
    u32 = struct.Struct("<I").unpack_from
    epb = struct.Struct("<IIIIIII").unpack_from  # block type and length, then the EPB fields
    nif = 0
    first, last = float("inf"), float("-inf")
    try:
        while True:
            buf = src.buf
            if pos + 28 <= len(buf):  # fast path: a whole, sound Enhanced Packet Block
                btype, blen, iface, ts_hi, ts_lo, incl, orig = epb(buf, pos)
                if (btype == 6 and iface < nif and 32 + incl <= blen <= len(buf) - pos
                        and not blen & 3 and blen <= MAX_RECORD):
                    number += 1
                    linktype, unit = interfaces[iface]
                    time = ((ts_hi << 32) | ts_lo) * unit
                    if time < first:
                        first = time
                    if time > last:
                        last = time
                    if index is not None:
                        index.times.append(time)
                        index.offsets.append(src.base + pos + 28)
                        index.lengths.append(incl)
                        index.linktypes.append(linktype)
                    if keep is None or keep(linktype, buf, pos + 28, pos + 28 + incl):
                        yield Record(number, time, linktype, buf[pos + 28:pos + 28 + incl], orig)
                    pos += blen
                    continue
            if pos + 12 > len(buf):
                if not src.need(pos, 12):
                    if len(src.buf) == 0:
                        return
                    raise CaptureError(f"{path}: block header truncated at offset {src.base}")
                pos, buf = 0, src.buf
            offset = src.base + pos
            if struct.unpack_from("<I", buf, pos)[0] == PCAPNG_SHB:
                bom = struct.unpack_from("<I", buf, pos + 8)[0]
                endian = "<" if bom == PCAPNG_BYTE_ORDER_MAGIC else ">"
                if struct.unpack_from(endian + "I", buf, pos + 8)[0] != PCAPNG_BYTE_ORDER_MAGIC:
                    raise CaptureError(f"{path}: bad byte-order magic at offset {offset + 8}")
                u32 = struct.Struct(endian + "I").unpack_from
                epb = struct.Struct(endian + "IIIIIII").unpack_from
                btype = PCAPNG_SHB
                interfaces = []
                nif = 0
            else:
                btype = u32(buf, pos)[0]
            blen = u32(buf, pos + 4)[0]
            if blen < 12 or blen % 4 or blen > MAX_RECORD:
                raise CaptureError(f"{path}: corrupt block length {blen} at offset {offset}")
            if pos + blen > len(buf):
                if not src.need(pos, blen):
                    raise CaptureError(f"{path}: block truncated at offset {offset}")
                pos, buf = 0, src.buf
            body, end = pos + 8, pos + blen - 4  # the body, before the trailing total length
            if btype == 6:  # an Enhanced Packet Block the fast path above did not take
                if end - body < 20:
                    raise CaptureError(f"{path}: malformed packet block at offset {offset}")
                fields = epb(buf, pos)
                iface, incl = fields[2], fields[5]
                if iface >= len(interfaces) or body + 20 + incl > end:
                    raise CaptureError(f"{path}: malformed packet block at offset {offset}")
                continue  # sound, and now whole in the buffer: the fast path reads it
            elif btype == 1:  # Interface Description Block
                if end - body < 8:
                    raise CaptureError(f"{path}: short interface block at offset {offset}")
                linktype = struct.unpack_from(endian + "H", buf, body)[0]
                interfaces.append((linktype, _tsresol(buf[body + 8:end], endian)))
                nif = len(interfaces)
            elif btype == 3:  # Simple Packet Block: no timestamp, first interface
                if end - body < 4 or not interfaces:
                    raise CaptureError(f"{path}: malformed packet block at offset {offset}")
                number += 1
                orig = u32(buf, body)[0]
                linktype = interfaces[0][0]
                stop = min(body + 4 + orig, end)
                first, last = min(first, 0.0), max(last, 0.0)
                if index is not None:
                    index.times.append(0.0)
                    index.offsets.append(src.base + body + 4)
                    index.lengths.append(stop - body - 4)
                    index.linktypes.append(linktype)
                if keep is None or keep(linktype, buf, body + 4, stop):
                    yield Record(number, 0.0, linktype, buf[body + 4:stop], orig)
            pos += blen
    finally:
        if tally is not None and number:
            tally.packets += number
            tally.start = first if tally.start is None else min(tally.start, first)
            tally.end = last if tally.end is None else max(tally.end, last)


def _tsresol(options: bytes, endian: str) -> float:
    """Timestamp unit of an interface from its ``if_tsresol`` option (default µs)."""
    pos = 0
    while pos + 4 <= len(options):
        code, olen = struct.unpack_from(endian + "HH", options, pos)
        if code == 0:
            break
        if code == 9 and olen >= 1 and pos + 5 <= len(options):
            v = options[pos + 4]
            return 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
        pos += 4 + ((olen + 3) & ~3)
    return 1e-6
