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
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

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


def read_capture(path: str | Path) -> Iterator[Record]:
    """Yield every record of a pcap or pcapng file.

    Raises:
        CaptureError: the file cannot be opened, is no capture, or is damaged
            (after every whole record before the damage has been yielded).
    """
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise CaptureError(f"{path}: {exc.strerror or exc}") from None
    with fh:
        head = fh.read(4)
        if len(head) < 4:
            raise CaptureError(f"{path}: not a pcap or pcapng file (too short)")
        if head in PCAP_MAGICS:
            yield from _read_pcap(fh, path, head)
        elif struct.unpack("<I", head)[0] == PCAPNG_SHB:
            yield from _read_pcapng(fh, path, head)
        else:
            raise CaptureError(f"{path}: not a pcap or pcapng file (magic {head.hex()})")


def _read_pcap(fh: BinaryIO, path: str | Path, magic: bytes) -> Iterator[Record]:
    endian, scale = PCAP_MAGICS[magic]
    rest = fh.read(20)
    if len(rest) < 20:
        raise CaptureError(f"{path}: pcap header truncated at offset {4 + len(rest)}")
    linktype = struct.unpack(endian + "I", rest[16:20])[0] & 0x0FFFFFFF
    rec_hdr = struct.Struct(endian + "IIII")
    offset = 24
    number = 0
    while True:
        hdr = fh.read(16)
        if not hdr:
            return
        if len(hdr) < 16:
            raise CaptureError(f"{path}: record header truncated at offset {offset}")
        sec, frac, incl, orig = rec_hdr.unpack(hdr)
        if incl > MAX_RECORD:
            raise CaptureError(f"{path}: corrupt record length {incl} at offset {offset}")
        data = fh.read(incl)
        if len(data) < incl:
            raise CaptureError(f"{path}: record {number + 1} truncated at offset {offset}")
        number += 1
        offset += 16 + incl
        yield Record(number, sec + frac * scale, linktype, data, orig)


def _read_pcapng(fh: BinaryIO, path: str | Path, first: bytes) -> Iterator[Record]:
    endian = "<"
    interfaces: list[tuple[int, float]] = []
    offset = 0
    number = 0
    pending = first
    while True:
        head = pending + fh.read(8 - len(pending))
        pending = b""
        if not head:
            return
        if len(head) < 8:
            raise CaptureError(f"{path}: block header truncated at offset {offset}")
        btype = struct.unpack(endian + "I", head[:4])[0]
        if struct.unpack("<I", head[:4])[0] == PCAPNG_SHB:
            bom = fh.read(4)
            if len(bom) < 4:
                raise CaptureError(f"{path}: section header truncated at offset {offset}")
            endian = "<" if struct.unpack("<I", bom)[0] == PCAPNG_BYTE_ORDER_MAGIC else ">"
            if struct.unpack(endian + "I", bom)[0] != PCAPNG_BYTE_ORDER_MAGIC:
                raise CaptureError(f"{path}: bad byte-order magic at offset {offset + 8}")
            blen = struct.unpack(endian + "I", head[4:8])[0]
            body_read = 4
            btype = PCAPNG_SHB
            interfaces = []
        else:
            blen = struct.unpack(endian + "I", head[4:8])[0]
            body_read = 0
        if blen < 12 or blen % 4 or blen > MAX_RECORD:
            raise CaptureError(f"{path}: corrupt block length {blen} at offset {offset}")
        body = fh.read(blen - 8 - body_read)
        if len(body) < blen - 8 - body_read:
            raise CaptureError(f"{path}: block truncated at offset {offset}")
        body = body[:-4]  # trailing block total length
        if btype == 1:  # Interface Description Block
            if len(body) < 8:
                raise CaptureError(f"{path}: short interface block at offset {offset}")
            linktype = struct.unpack(endian + "H", body[:2])[0]
            interfaces.append((linktype, _tsresol(body[8:], endian)))
        elif btype in (6, 3):  # Enhanced / Simple Packet Block
            number += 1
            rec = _packet_block(btype, body, endian, interfaces, number)
            if rec is None:
                raise CaptureError(f"{path}: malformed packet block at offset {offset}")
            yield rec
        offset += blen


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


def _packet_block(btype: int, body: bytes, endian: str, interfaces: list[tuple[int, float]],
                  number: int) -> Record | None:
    if btype == 3:
        if len(body) < 4 or not interfaces:
            return None
        orig = struct.unpack_from(endian + "I", body)[0]
        linktype, _ = interfaces[0]
        return Record(number, 0.0, linktype, body[4:4 + orig], orig)
    if len(body) < 20:
        return None
    iface, ts_hi, ts_lo, incl, orig = struct.unpack_from(endian + "IIIII", body)
    if iface >= len(interfaces) or 20 + incl > len(body):
        return None
    linktype, unit = interfaces[iface]
    return Record(number, ((ts_hi << 32) | ts_lo) * unit, linktype, body[20:20 + incl], orig)
