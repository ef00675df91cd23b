"""The MBMS synchronisation protocol, SYNC (TS 25.446), as seen at an M1 tap.

On M1 the BM-SC (its MBMS-GW) sends each eNodeB a GTP-U tunnel whose T-PDUs are
SYNC PDUs (TS 25.446 §5.3.3), not bare IP packets:

=======  ===============================================  ======================
type 0   synchronisation information, no payload          18 bytes
type 1   user data: header, then one IP packet            11-byte header
type 2   user data with compressed header                 (not opened)
type 3   synchronisation information with packet lengths  19 bytes and more
=======  ===============================================  ======================

Every type starts ``PDU type (4 bits) | spare (4) | time stamp (2, in 10 ms) |
packet number (2) | elapsed octet counter (4)``. Type 1 then has ``header CRC (6
bits) | payload CRC (10 bits)`` and its payload; types 0 and 3 have ``total
number of packets (3) | total number of octets (5) | header CRC (6) | ...``.

The header CRC is CRC-6 (polynomial x^6+x^5+x^3+x^2+x+1, no reflection, initial
value 0) over the header before it (as tshark's ``sync`` dissector computes it);
the payload CRC is CRC-10 (x^10+x^9+x^5+x^4+x+1, the frame-protocol CRC of
TS 25.435 §7.2; tshark does not check it) over the payload. A PDU is taken as
SYNC only when its header CRC holds, so a GTP-U tunnel of plain IP is never
misread.
"""

from __future__ import annotations

import struct

#: header length by PDU type (the CRC byte included); type 3 continues with lengths
HEADER = {0: 18, 1: 11, 3: 19}
TYPE_NAMES = {0: "synchronisation information", 1: "user data", 2: "compressed user data",
              3: "synchronisation information with packet lengths"}


def _crc(data: bytes, width: int, poly: int) -> int:
    """A CRC of *width* bits, MSB first, initial value 0, no final XOR."""
    top, mask, crc = 1 << (width - 1), (1 << width) - 1, 0
    for byte in data:
        for bit in range(7, -1, -1):
            feedback = ((crc & top) != 0) ^ ((byte >> bit) & 1)
            crc = (crc << 1) & mask
            if feedback:
                crc ^= poly
    return crc


def crc6(data: bytes) -> int:
    """The SYNC header CRC (CRC-6, polynomial 0x6F)."""
    return _crc(data, 6, 0x2F)


def crc10(data: bytes) -> int:
    """The SYNC payload CRC (CRC-10, polynomial 0x633)."""
    return _crc(data, 10, 0x233)


def _crc_at(kind: int) -> int:
    """Offset of the byte holding the header CRC (its top 6 bits)."""
    return 9 if kind == 1 else 17


def sync_pdu(data: bytes, pos: int, end: int) -> tuple[int, int | None] | None:
    """A SYNC PDU at ``data[pos:end]``: ``(PDU type, offset of the IP packet it carries or
    None)``; None when these bytes are no SYNC PDU (its header CRC does not hold)."""
    if end - pos < 11:
        return None
    kind = data[pos] >> 4
    if kind not in HEADER:
        return None  # type 2 (compressed) has no header CRC to recognise it by
    if end - pos < HEADER[kind] or kind != 2 and data[pos] & 0x0F:
        return None
    at = pos + _crc_at(kind)
    if data[at] >> 2 != crc6(bytes(data[pos:at])):
        return None
    if kind != 1:
        return kind, None
    inner = pos + HEADER[1]
    if inner >= end or data[inner] >> 4 not in (4, 6):
        return kind, None
    return kind, inner


def sync_header(kind: int, timestamp: int, packet_number: int, elapsed_octets: int,
                payload: bytes = b"", total_packets: int = 0, total_octets: int = 0) -> bytes:
    """A SYNC PDU header of type 0 or 1 with both CRCs (type 1: prepend to *payload*)."""
    head = struct.pack("!BHHI", kind << 4, timestamp & 0xFFFF, packet_number & 0xFFFF,
                       elapsed_octets & 0xFFFFFFFF)
    if kind == 1:
        word = crc6(head) << 10 | crc10(payload)
        return head + struct.pack("!H", word) + payload
    head += total_packets.to_bytes(3, "big") + total_octets.to_bytes(5, "big")
    return head + bytes([crc6(head) << 2])
