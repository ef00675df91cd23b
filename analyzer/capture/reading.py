"""Capture file reading: pcap and pcapng records without building packets.

A struct walk over the file (the fast path of DESIGN.md "reading"): every
record comes out as a :class:`Record` with its link type, timestamp and bytes.
Both byte orders and micro/nanosecond pcap are read; pcapng interfaces keep
their own link type and timestamp resolution (``if_tsresol``).

Damage never loses what came before it: :func:`read_capture` yields every
whole record up to the damage, then raises :class:`CaptureError` naming the
byte offset.

The pcap and pcapng loops repeat the same per-record lines (time range, index,
:class:`QuickReject`) on purpose: a million records cost a million function
calls otherwise, which is as much as the walk itself. :func:`read_range` reads
from a record boundary in the middle of a file (:mod:`analyzer.pipeline.scan` cuts
large captures into chunks for several processes).
"""

from __future__ import annotations

import struct
import time
from array import array
from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class QuickReject:
    """What a *keep* function lets the reader reject without calling it.

    A keep function may carry one as its ``quick`` attribute (read when a file
    or pcapng section starts). The reader then reads the headers of an Ethernet
    frame with a plain 20-byte IPv4 header in the same unpack as the record
    header, and skips the call for a frame that is no IP fragment, has at least
    one byte after its UDP header, and

    * carries an IP protocol not in *protocols*; or
    * is UDP with neither port in *udp_ports*, and ``udp_first[b]`` for its
      first payload byte *b* is 0, or is 2 (RTP-like) while its destination
      (packed address, port) is in *dead* with a value at least ``keys()``
      (a flow written off, no key learned since).

    The keep function must reject every such frame itself: this only saves the
    call (a million records cost a million calls otherwise).
    """

    udp_ports: frozenset[int]
    udp_first: bytes  # 256 flags: 0 reject, 1 ask keep, 2 RTP-like (see dead)
    protocols: frozenset[int] = frozenset({6, 17})
    dead: dict[tuple[bytes, int], int] | None = None
    keys: Callable[[], int] | None = None


#: The record header, then an Ethernet II / IPv4 (IHL 5) / UDP header and the
#: first payload byte: ethertype, version/IHL, flags/offset, protocol, destination
#: address, ports, byte.
_NET_FIELDS = "12xHB5xHxB6x4sHH4xB"
_NET_LEN = 43  # bytes of the frame the fields above span

#: Bytes read from the file at a time: records are walked inside this buffer.
CHUNK = 1 << 22


def probe_capture(path: str | Path) -> str | None:
    """Why *path* cannot be read as a capture, in one line (None: it starts like a
    pcap or pcapng file). Checks only the start: damage further on is found by
    :func:`read_capture`, after what comes before it."""
    target = Path(path)
    if target.is_dir():
        return f"{path}: is a directory, not a capture file"
    try:
        with open(target, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    if not head:
        return f"{path}: empty file, not a capture"
    if len(head) < 4:
        return f"{path}: not a pcap or pcapng file (too short)"
    if head in PCAP_MAGICS or struct.unpack("<I", head)[0] == PCAPNG_SHB:
        return None
    return f"{path}: not a pcap or pcapng file (magic {head.hex()})"


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


def _quick(keep: Keep | None, endian: str) -> tuple:
    """The *keep* function's :class:`QuickReject` as the reader compares it: ports,
    first-byte flags, protocols, written-off flows and key count, and the IPv4
    ethertype and fragment mask, all as read with the file's byte order *endian*
    (ethertype -1: no quick rejection)."""
    quick = getattr(keep, "quick", None)
    if not isinstance(quick, QuickReject) or len(quick.udp_first) != 256:
        return frozenset(), bytes(256), frozenset(), None, None, -1, 0
    dead = quick.dead if quick.keys is not None else None
    if endian == ">":
        return quick.udp_ports, quick.udp_first, quick.protocols, dead, quick.keys, 0x0800, \
            0x3FFF
    return (frozenset(_swap(p) for p in quick.udp_ports), quick.udp_first, quick.protocols,
            dead, quick.keys, _swap(0x0800), _swap(0x3FFF))


def _swap(v: int) -> int:
    """A 16-bit field read in the other byte order."""
    return ((v & 0xFF) << 8) | (v >> 8)


@dataclass
class Section:
    """Where a read stands at a record boundary: enough to read on from there
    (:func:`read_range`), and what a read from there leaves.

    Attributes:
        pcapng: the file's format.
        endian: its byte order (``<`` or ``>``).
        interfaces: pcapng: (link type, timestamp unit) of each interface so far.
        linktype, scale: pcap: the link type and the timestamp unit.
        number: records before the boundary (frame numbers go on from it).
    """

    pcapng: bool
    endian: str
    interfaces: list[tuple[int, float]] = field(default_factory=list)
    linktype: int = 1
    scale: float = 1e-6
    number: int = 0

    def same_state(self, other: "Section") -> bool:
        """The same format, byte order and interfaces (whatever the numbers)."""
        return (self.pcapng, self.endian, self.interfaces, self.linktype, self.scale) == \
            (other.pcapng, other.endian, other.interfaces, other.linktype, other.scale)


def read_range(path: str | Path, section: Section, start: int, stop: int | None = None,
               keep: Keep | None = None, tally: Tally | None = None,
               index: RecordIndex | None = None) -> Iterator[Record]:
    """The records from file offset *start* (a record or block boundary, in the
    state *section*) up to *stop* (another boundary; None: the end), as
    :func:`read_capture` yields them. A *stop* that is no boundary shows as
    damage (a record truncated there). On return *section* holds the state at
    the end: its interfaces and the records counted. *index*: as for
    :func:`read_capture`, from the first record of the range.

    Raises:
        CaptureError: as :func:`read_capture`.
    """
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise CaptureError(f"{path}: {exc.strerror or exc}") from None
    with fh:
        fh.seek(start)
        src = _Source(fh, limit=stop)
        src.base = start
        if section.pcapng:
            yield from _read_pcapng(src, path, keep, tally, index, section)
        else:
            yield from _read_pcap(src, path, b"", keep, tally, index, section)


def first_section(path: str | Path) -> tuple[Section, int] | None:
    """The state at a capture's first packet record and that record's offset (None:
    no capture, or no packet record after its header blocks)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return None
    if head[:4] in PCAP_MAGICS:
        if len(head) < 24:
            return None
        endian, scale = PCAP_MAGICS[head[:4]]
        linktype = struct.unpack_from(endian + "I", head, 20)[0] & 0x0FFFFFFF
        return Section(False, endian, linktype=linktype, scale=scale), 24
    if len(head) < 12 or struct.unpack_from("<I", head)[0] != PCAPNG_SHB:
        return None
    endian = "<" if struct.unpack_from("<I", head, 8)[0] == PCAPNG_BYTE_ORDER_MAGIC else ">"
    section = Section(True, endian)
    pos = 0
    while pos + 12 <= len(head):
        btype, blen = struct.unpack_from(endian + "II", head, pos)
        if blen < 12 or blen % 4 or pos + blen > len(head):
            return None
        if btype in (2, 3, 6):  # the first packet block
            return section, pos
        if btype == 1 and blen >= 20:
            linktype = struct.unpack_from(endian + "H", head, pos + 8)[0]
            section.interfaces.append((linktype, _tsresol(head[pos + 16:pos + blen - 4],
                                                          endian)))
        elif btype == PCAPNG_SHB and pos:
            return None  # a second section before any packet: left to the plain reader
        pos += blen
    return None


class _Source:
    """A window on a file: ``buf`` holds the bytes from file offset ``base`` on
    (up to offset ``limit``, when there is one: the file ends there for this read)."""

    __slots__ = ("fh", "buf", "base", "follow", "limit")

    def __init__(self, fh: BinaryIO, follow: Callable[[], bool] | None = None,
                 limit: int | None = None) -> None:
        self.fh = fh
        self.buf = b""
        self.base = 0
        self.follow = follow
        self.limit = limit

    def _read(self, n: int) -> bytes:
        if self.limit is not None:
            n = min(n, self.limit - self.base - len(self.buf))
            if n <= 0:
                return b""
        return self.fh.read(n)

    def need(self, pos: int, n: int) -> bool:
        """Make ``buf[pos:pos + n]`` available (*pos* relative to ``buf``), dropping
        what lies before *pos*; False at the end of the file. After a call that
        moves the window, positions restart at 0: callers use :meth:`rebase`."""
        if pos + n <= len(self.buf):
            return True
        rest = self.buf[pos:]
        self.base += pos
        self.buf = rest
        self.buf = rest + self._read(max(CHUNK, n - len(rest)))
        while len(self.buf) < n:
            more = self._read(max(CHUNK, n - len(self.buf)))
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
               tally: Tally | None, index: RecordIndex | None,
               section: Section | None = None) -> Iterator[Record]:
    if section is None:  # the file's start: its header
        endian, scale = PCAP_MAGICS[magic]
        if not src.need(0, 24):
            raise CaptureError(f"{path}: pcap header truncated at offset {len(src.buf)}")
        linktype = struct.unpack_from(endian + "I", src.buf, 20)[0] & 0x0FFFFFFF
        pos, number = 24, 0
    else:
        endian, scale, linktype = section.endian, section.scale, section.linktype
        pos, number = 0, section.number
    unpack = struct.Struct(endian + "IIII").unpack_from
    wide = struct.Struct(endian + "IIII" + _NET_FIELDS).unpack_from
    qports, qfirst, qprotos, qdead, qkeys, ip4, fragmask = _quick(keep, endian)
    swapped = endian == "<"
    if linktype != 1:
        ip4 = -1  # the quick test reads Ethernet frames only
    first, last = float("inf"), float("-inf")
    try:
        while True:
            buf = src.buf
            if pos + 16 + _NET_LEN <= len(buf):
                sec, frac, incl, orig, etype, vihl, frag, proto, dst, sport, dport, byte = \
                    wide(buf, pos)
            else:
                if pos + 16 > len(buf):
                    if not src.need(pos, 16):
                        if len(src.buf) == 0:
                            return
                        raise CaptureError(f"{path}: record header truncated at offset "
                                           f"{src.base}")
                    pos, buf = 0, src.buf
                sec, frac, incl, orig = unpack(buf, pos)
                etype = -2
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
            if etype == ip4 and vihl == 0x45 and incl >= _NET_LEN and not frag & fragmask:
                if proto != 17:
                    if proto not in qprotos:
                        pos = end  # QuickReject: what keep would say, without the call
                        continue
                elif sport not in qports and dport not in qports:
                    flag = qfirst[byte]
                    if not flag:
                        pos = end
                        continue
                    if flag == 2 and qdead:  # a written-off flow, no key learned since?
                        tried = qdead.get((dst, ((dport & 0xFF) << 8) | (dport >> 8)
                                           if swapped else dport))
                        if tried is not None and tried >= qkeys():
                            pos = end
                            continue
            if keep is None or keep(linktype, buf, pos + 16, end):
                yield Record(number, time, linktype, buf[pos + 16:end], orig)
            pos = end
    finally:
        counted = number
        if section is not None:
            counted -= section.number
            section.number = number
        if tally is not None and counted:
            tally.packets += counted
            tally.start = first if tally.start is None else min(tally.start, first)
            tally.end = last if tally.end is None else max(tally.end, last)


def _read_pcapng(src: _Source, path: str | Path, keep: Keep | None,
                 tally: Tally | None, index: RecordIndex | None,
                 section: Section | None = None) -> Iterator[Record]:
    endian = "<" if section is None else section.endian
    pos = 0
    number = 0 if section is None else section.number
    u32 = struct.Struct(endian + "I").unpack_from
    epb = struct.Struct(endian + "IIIIIII").unpack_from  # block type and length, the EPB fields
    wide = struct.Struct(endian + "IIIIIII" + _NET_FIELDS).unpack_from  # and the frame's headers
    qports, qfirst, qprotos, qdead, qkeys, ip4, fragmask = _quick(keep, endian)
    swapped = endian == "<"
    #: per interface: link type, timestamp unit, and the ethertype value the quick
    #: test takes for IPv4 (-1 when it does not apply: no Ethernet, no QuickReject)
    interfaces: list[tuple[int, float, int]] = [] if section is None else \
        [(lt, unit, ip4 if lt == 1 else -1) for lt, unit in section.interfaces]
    nif = len(interfaces)
    first, last = float("inf"), float("-inf")
    try:
        while True:
            buf = src.buf
            size = len(buf)
            # the fast path: whole, sound Enhanced Packet Blocks walked inside the buffer,
            # their frame's Ethernet/IPv4/UDP fields read in the same unpack
            while pos + 28 + _NET_LEN <= size:
                (btype, blen, iface, ts_hi, ts_lo, incl, orig, etype, vihl, frag, proto,
                 dst, sport, dport, byte) = wide(buf, pos)
                if (btype != 6 or iface >= nif or blen > size - pos or 32 + incl > blen
                        or blen & 3 or blen > MAX_RECORD):
                    break
                number += 1
                linktype, unit, eth = interfaces[iface]
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
                if etype == eth and vihl == 0x45 and incl >= _NET_LEN and not frag & fragmask:
                    if proto != 17:
                        if proto not in qprotos:
                            pos += blen  # QuickReject: what keep would say, without the call
                            continue
                    elif sport not in qports and dport not in qports:
                        flag = qfirst[byte]
                        if not flag:
                            pos += blen
                            continue
                        if flag == 2 and qdead:  # a written-off flow, no key learned since?
                            tried = qdead.get((dst, ((dport & 0xFF) << 8) | (dport >> 8)
                                               if swapped else dport))
                            if tried is not None and tried >= qkeys():
                                pos += blen
                                continue
                if keep is None or keep(linktype, buf, pos + 28, pos + 28 + incl):
                    yield Record(number, time, linktype, buf[pos + 28:pos + 28 + incl], orig)
                pos += blen
            # any other block, a small one near the buffer's end, or damage
            if pos + 12 > size:
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
                wide = struct.Struct(endian + "IIIIIII" + _NET_FIELDS).unpack_from
                qports, qfirst, qprotos, qdead, qkeys, ip4, fragmask = _quick(keep, endian)
                swapped = endian == "<"
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
            if btype == 6:  # an Enhanced Packet Block the fast path did not take
                if end - body < 20:
                    raise CaptureError(f"{path}: malformed packet block at offset {offset}")
                _, _, iface, ts_hi, ts_lo, incl, orig = epb(buf, pos)
                if iface >= len(interfaces) or body + 20 + incl > end:
                    raise CaptureError(f"{path}: malformed packet block at offset {offset}")
                number += 1
                linktype, unit, _ = interfaces[iface]
                time = ((ts_hi << 32) | ts_lo) * unit
                first, last = min(first, time), max(last, time)
                if index is not None:
                    index.times.append(time)
                    index.offsets.append(src.base + pos + 28)
                    index.lengths.append(incl)
                    index.linktypes.append(linktype)
                if keep is None or keep(linktype, buf, pos + 28, pos + 28 + incl):
                    yield Record(number, time, linktype, buf[pos + 28:pos + 28 + incl], orig)
            elif btype == 1:  # Interface Description Block
                if end - body < 8:
                    raise CaptureError(f"{path}: short interface block at offset {offset}")
                linktype = struct.unpack_from(endian + "H", buf, body)[0]
                interfaces.append((linktype, _tsresol(buf[body + 8:end], endian),
                                   ip4 if linktype == 1 else -1))
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
        counted = number
        if section is not None:
            counted -= section.number
            section.number = number
            section.endian = endian
            section.interfaces = [(lt, unit) for lt, unit, _ in interfaces]
        if tally is not None and counted:
            tally.packets += counted
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
