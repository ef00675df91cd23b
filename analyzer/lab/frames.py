"""Ethernet/IPv4/UDP/TCP frames built by hand (struct), fast enough for 10,000-UE storms."""

from __future__ import annotations

import ipaddress
import struct

from analyzer.net.decode import internet_checksum


def mac_of(ip: str) -> bytes:
    """A stable locally administered MAC address for an IPv4 address (multicast: RFC 1112)."""
    raw = ipaddress.IPv4Address(ip).packed
    if raw[0] >= 224:
        return bytes([0x01, 0x00, 0x5E, raw[1] & 0x7F, raw[2], raw[3]])
    return b"\x02\x00" + raw


def ipv4(src: str, dst: str, proto: int, payload: bytes, ident: int = 0, ttl: int = 64) -> bytes:
    """An IPv4 packet with a correct header checksum."""
    s, d = ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000,
                       ttl, proto, 0, s, d)
    head = head[:10] + struct.pack("!H", internet_checksum(head)) + head[12:]
    return head + payload


def _l4_checksum(src: str, dst: str, proto: int, segment: bytes) -> int:
    pseudo = (ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed
              + struct.pack("!BBH", 0, proto, len(segment)))
    return internet_checksum(pseudo + segment) or 0xFFFF


def udp_frame(src: str, sport: int, dst: str, dport: int, payload: bytes, ident: int = 0) -> bytes:
    """Ethernet / IPv4 / UDP frame carrying *payload*."""
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    seg = seg[:6] + struct.pack("!H", _l4_checksum(src, dst, 17, seg)) + seg[8:]
    return mac_of(dst) + mac_of(src) + b"\x08\x00" + ipv4(src, dst, 17, seg, ident)


def tcp_frame(src: str, sport: int, dst: str, dport: int, seq: int, ack: int, flags: int,
              payload: bytes = b"", ident: int = 0, window: int = 65535) -> bytes:
    """Ethernet / IPv4 / TCP frame (flags: FIN 1, SYN 2, RST 4, PSH 8, ACK 16)."""
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50,
                      flags, window, 0, 0) + payload
    seg = seg[:16] + struct.pack("!H", _l4_checksum(src, dst, 6, seg)) + seg[18:]
    return mac_of(dst) + mac_of(src) + b"\x08\x00" + ipv4(src, dst, 6, seg, ident)
