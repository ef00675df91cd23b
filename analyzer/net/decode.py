"""Link, network and transport headers by slicing: frame bytes to a transport payload.

Only what the MBMS analysis needs is decoded here, with plain ``struct``:
Ethernet (with 802.1Q/802.1ad tags), Linux cooked v1/v2, BSD null/loopback
and raw IP links; IPv4 and IPv6 (extension headers skipped); UDP and TCP.
Anything else yields None. Never raises on frame bytes.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from analyzer.net.sync import sync_pdu

ETH_VLAN_TYPES = (0x8100, 0x88A8, 0x9100)
GTPU_PORT = 2152  # GTP-U (TS 29.281): user-plane tunnels of Gn/S1-U/N3 taps
MAX_TUNNELS = 2
IPV6_EXT_HEADERS = (0, 43, 60, 51)  # hop-by-hop, routing, destination options, AH
MAX_VLAN_TAGS = 4


@dataclass(frozen=True, slots=True)
class Transport:
    """A UDP datagram or TCP segment found in a frame.

    Attributes:
        proto: ``udp`` or ``tcp``.
        src, dst: IP addresses as text.
        sport, dport: ports.
        payload: the transport payload bytes.
        tcp_seq: TCP sequence number (None for UDP).
    """

    proto: str
    src: str
    dst: str
    sport: int
    dport: int
    payload: bytes
    tcp_seq: int | None = None
    l3_offset: int = 0
    l4_offset: int = 0
    payload_offset: int = 0
    ip_version: int = 4
    tcp_flags: int = 0


def network_offset(linktype: int, data: bytes) -> tuple[int, int] | None:
    """(offset of the network header, ethertype) for a frame of *linktype*."""
    if linktype == 1:  # Ethernet
        if len(data) < 14:
            return None
        off, etype = 14, struct.unpack_from("!H", data, 12)[0]
        tags = 0
        while etype in ETH_VLAN_TYPES and tags < MAX_VLAN_TAGS and len(data) >= off + 4:
            etype = struct.unpack_from("!H", data, off + 2)[0]
            off += 4
            tags += 1
        return off, etype
    if linktype == 113:  # Linux cooked v1
        return (16, struct.unpack_from("!H", data, 14)[0]) if len(data) >= 16 else None
    if linktype == 276:  # Linux cooked v2
        return (20, struct.unpack_from("!H", data, 0)[0]) if len(data) >= 20 else None
    if linktype in (0, 108):  # BSD null / OpenBSD loop: 4-byte family
        if len(data) < 4:
            return None
        fam = struct.unpack_from("<I", data)[0]
        if fam > 0xFFFF:
            fam = struct.unpack_from(">I", data)[0]
        return 4, 0x0800 if fam == 2 else 0x86DD
    if linktype in (101, 12, 14):  # raw IP
        if not data:
            return None
        return 0, 0x0800 if data[0] >> 4 == 4 else 0x86DD
    if linktype == 228:
        return 0, 0x0800
    if linktype == 229:
        return 0, 0x86DD
    return None


_LAST: list = [None, None, None]  # the last frame decoded: (linktype, data, result)


def decode_transport(linktype: int, data: bytes) -> Transport | None:
    """The UDP/TCP payload of a frame, or None when there is none to find.

    The last result is remembered: pipelines that look at a frame twice (the
    SRTP path and the MIKEY/HTTP path of ``export``) decode it once.
    """
    if data is _LAST[1] and linktype == _LAST[0]:
        return _LAST[2]
    result = _udp4(data) if linktype == 1 else _decode(linktype, data)
    _LAST[:] = [linktype, data, result]
    return result


#: Ethernet II, IPv4 with a 20-byte header, UDP: every field the common case needs
_ETH_IP4_UDP = struct.Struct("!12xHB1xH2xHxB2x4s4sHHH").unpack_from


def udp4_fields(data: bytes) -> tuple[bytes, int, bytes, int, bytes] | None:
    """(source address, port, destination address, port, payload) of an Ethernet frame
    in the common case - untagged IPv4 without options, UDP, no fragment but the
    first, no GTP-U tunnel - read in one unpack, addresses packed; None for any
    other frame (:func:`decode_transport` reads those)."""
    if len(data) >= 42:
        etype, vihl, total, frag, proto, src, dst, sport, dport, ulen = _ETH_IP4_UDP(data)
        if (etype == 0x0800 and vihl == 0x45 and proto == 17 and not frag & 0x1FFF
                and sport != GTPU_PORT and dport != GTPU_PORT):
            end = min(len(data), 14 + total) if total >= 20 else len(data)
            if end >= 42:
                stop = 34 + ulen if 8 <= ulen <= end - 34 else end
                return src, sport, dst, dport, data[42:stop]
    return None


def _udp4(data: bytes) -> Transport | None:
    """An Ethernet frame: the common case of :func:`udp4_fields` directly, everything
    else by :func:`_decode`."""
    fields = udp4_fields(data)
    if fields is None:
        return _decode(1, data)
    src, sport, dst, dport, payload = fields
    return Transport("udp", socket.inet_ntoa(src), socket.inet_ntoa(dst), sport, dport,
                     payload, None, 14, 34, 42, 4)


def _decode(linktype: int, data: bytes) -> Transport | None:
    where = network_offset(linktype, data)
    if where is None:
        return None
    off, etype = where
    if etype == 0x0800:
        tp = _ipv4(data, off)
    elif etype == 0x86DD:
        tp = _ipv6(data, off)
    else:
        return None
    for _ in range(MAX_TUNNELS):  # what travels inside a GTP-U tunnel is what matters
        if tp is None or tp.proto != "udp" or GTPU_PORT not in (tp.sport, tp.dport):
            break
        inner = gtpu_inner(data, tp.payload_offset, tp.payload_offset + len(tp.payload))
        if inner is None:
            break
        tp = _ipv4(data, inner) if data[inner] >> 4 == 4 else _ipv6(data, inner)
    return tp


def gtpu_payload(data: bytes, pos: int, end: int) -> int | None:
    """Offset of the T-PDU a GTP-U G-PDU carries (TS 29.281 §5.1), or None.

    Version 1, protocol type GTP, message type 255 (G-PDU); with any of the E, S
    or PN flags the optional 4 bytes follow, then the extension headers (each
    with its length in 4-byte units and the next type in its last byte).
    """
    if end - pos < 8:
        return None
    flags, mtype = data[pos], data[pos + 1]
    if flags >> 5 != 1 or not flags & 0x10 or mtype != 0xFF:
        return None
    off = pos + 8
    if flags & 0x07:
        if end - off < 4:
            return None
        nxt = data[off + 3] if flags & 0x04 else 0
        off += 4
        for _ in range(16):
            if not nxt:
                break
            if off >= end or not data[off]:
                return None
            length = data[off] * 4
            if off + length > end:
                return None
            nxt = data[off + length - 1]
            off += length
    return off if off < end else None


def gtpu_inner(data: bytes, pos: int, end: int) -> int | None:
    """Offset of the IP packet a GTP-U G-PDU carries, or None: the T-PDU itself, or at
    an M1 tap the IP packet of the SYNC type 1 PDU it is (:mod:`analyzer.net.sync`)."""
    off = gtpu_payload(data, pos, end)
    if off is None:
        return None
    if data[off] >> 4 in (4, 6):
        return off
    sync = sync_pdu(data, off, end)
    return sync[1] if sync is not None else None


def _ipv4(data: bytes, off: int) -> Transport | None:
    if len(data) < off + 20 or data[off] >> 4 != 4:
        return None
    ihl = (data[off] & 0x0F) * 4
    total = struct.unpack_from("!H", data, off + 2)[0]
    frag = struct.unpack_from("!H", data, off + 6)[0]
    if ihl < 20 or frag & 0x1FFF:  # not the first fragment
        return None
    end = min(len(data), off + total) if total >= ihl else len(data)
    src = socket.inet_ntoa(data[off + 12:off + 16])
    dst = socket.inet_ntoa(data[off + 16:off + 20])
    return _l4(data[off + 9], data[off + ihl:end], src, dst, off, off + ihl, 4)


def _ipv6(data: bytes, off: int) -> Transport | None:
    if len(data) < off + 40 or data[off] >> 4 != 6:
        return None
    plen = struct.unpack_from("!H", data, off + 4)[0]
    nxt = data[off + 6]
    src = socket.inet_ntop(socket.AF_INET6, data[off + 8:off + 24])
    dst = socket.inet_ntop(socket.AF_INET6, data[off + 24:off + 40])
    end = min(len(data), off + 40 + plen) if plen else len(data)
    pos = off + 40
    for _ in range(8):
        if nxt in IPV6_EXT_HEADERS and pos + 2 <= end:
            hlen = (data[pos + 1] + 2) * 4 if nxt == 51 else (data[pos + 1] + 1) * 8
            nxt = data[pos]
            pos += hlen
        elif nxt == 44 and pos + 8 <= end:  # fragment header: first fragment only
            if struct.unpack_from("!H", data, pos + 2)[0] & 0xFFF8:
                return None
            nxt = data[pos]
            pos += 8
        else:
            break
    if pos > end:
        return None
    return _l4(nxt, data[pos:end], src, dst, off, pos, 6)


def _l4(proto: int, seg: bytes, src: str, dst: str, l3: int, l4: int,
        version: int) -> Transport | None:
    if proto == 17 and len(seg) >= 8:
        sport, dport, ulen = struct.unpack_from("!HHH", seg)
        end = ulen if 8 <= ulen <= len(seg) else len(seg)
        return Transport("udp", src, dst, sport, dport, seg[8:end], None, l3, l4, l4 + 8,
                         version)
    if proto == 6 and len(seg) >= 20:
        sport, dport, seq = struct.unpack_from("!HHI", seg)
        doff = (seg[12] >> 4) * 4
        if doff < 20:
            return None
        return Transport("tcp", src, dst, sport, dport, seg[doff:], seq, l3, l4, l4 + doff,
                         version, seg[13])
    return None


def internet_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of *data*."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def replace_udp_payload(frame: bytes, tp: Transport, payload: bytes) -> bytes:
    """*frame* with the UDP payload of *tp* replaced; lengths and checksums fixed."""
    if tp.proto != "udp":
        raise ValueError("only UDP payloads are replaced")
    delta = len(payload) - len(tp.payload)
    end = tp.payload_offset + len(tp.payload)
    out = bytearray(frame[:tp.payload_offset] + payload + frame[end:])
    l3, l4 = tp.l3_offset, tp.l4_offset
    udp_len = 8 + len(payload)
    struct.pack_into("!H", out, l4 + 4, udp_len)
    if tp.ip_version == 4:
        ihl = (out[l3] & 0x0F) * 4
        total = struct.unpack_from("!H", out, l3 + 2)[0] + delta
        struct.pack_into("!H", out, l3 + 2, total)
        struct.pack_into("!H", out, l3 + 10, 0)
        struct.pack_into("!H", out, l3 + 10, internet_checksum(bytes(out[l3:l3 + ihl])))
        pseudo = bytes(out[l3 + 12:l3 + 20]) + struct.pack("!BBH", 0, 17, udp_len)
    else:
        plen = struct.unpack_from("!H", out, l3 + 4)[0] + delta
        struct.pack_into("!H", out, l3 + 4, plen)
        pseudo = bytes(out[l3 + 8:l3 + 40]) + struct.pack("!IxxxB", udp_len, 17)
    struct.pack_into("!H", out, l4 + 6, 0)
    csum = internet_checksum(pseudo + bytes(out[l4:l4 + udp_len])) or 0xFFFF
    struct.pack_into("!H", out, l4 + 6, csum)
    return bytes(out)
