"""A light dissection of any frame: link, IP and transport headers, with byte spans.

The packet list shows every packet of a capture, as Wireshark does; packets
that carry nothing MBMS get this summary (made only when their row is drawn
or selected), with the columns tshark would show for them and a details tree
whose every field knows its bytes in the frame (for the hex view's highlight).
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from analyzer.net.decode import ETH_VLAN_TYPES, GTPU_PORT, MAX_VLAN_TAGS, gtpu_payload
from analyzer.net.sync import TYPE_NAMES, sync_pdu
from analyzer.views.result import Dissected, endpoint
from dissectors.mikey.base import Field_, Node

ETHERTYPES = {0x0800: "IPv4", 0x86DD: "IPv6", 0x0806: "ARP", 0x8100: "802.1Q", 0x88A8: "802.1ad"}
IP_PROTOS = {1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 47: "GRE", 50: "ESP", 58: "ICMPv6",
             132: "SCTP"}
LINKTYPES = {1: "Ethernet", 113: "Linux cooked", 276: "Linux cooked v2", 0: "BSD loopback",
             108: "OpenBSD loopback", 101: "Raw IP", 12: "Raw IP", 14: "Raw IP", 228: "Raw IPv4",
             229: "Raw IPv6"}
TCP_FLAGS = ((0x02, "SYN"), (0x10, "ACK"), (0x01, "FIN"), (0x04, "RST"), (0x08, "PSH"),
             (0x20, "URG"))

Span = tuple[int, int]


class _Tree:
    """Items and their byte spans, built together."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.spans: list[Span | None] = []

    def node(self, title: str, depth: int, span: Span) -> None:
        self.items.append(Node(title, depth))
        self.spans.append(span)

    def field(self, name: str, value: Any, label: str, span: Span, depth: int,
              display: str | None = None) -> None:
        self.items.append(Field_(name, value, label, display, depth=depth))
        self.spans.append(span)


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def _sync(t: _Tree, data: bytes, pos: int, end: int) -> str | None:
    """A GTP-U G-PDU whose T-PDU is a SYNC PDU without an IP packet (types 0, 3; TS 25.446
    §5.3.3): its fields under tshark's names, and the Info text (None: not one)."""
    at = gtpu_payload(data, pos, end)
    found = sync_pdu(data, at, end) if at is not None else None
    if found is None or found[1] is not None:
        return None
    kind = found[0]
    stamp, number, octets = struct.unpack_from("!HHI", data, at + 1)
    t.node(f"GPRS Tunneling Protocol, TEID: 0x{struct.unpack_from('!I', data, pos + 4)[0]:08x}",
           0, (pos, at))
    t.node(f"MBMS synchronisation protocol, type {kind} ({TYPE_NAMES[kind]})", 0, (at, end))
    t.field("sync.type", kind, "PDU Type", (at, at + 1), 1)
    t.field("sync.timestamp", stamp * 10, "Timestamp (ms)", (at + 1, at + 3), 1)
    t.field("sync.packet_nr", number, "Packet Number", (at + 3, at + 5), 1)
    t.field("sync.elapsed_octet_ctr", octets, "Elapsed Octet Counter", (at + 5, at + 9), 1)
    info = f"SYNC type {kind} ({TYPE_NAMES[kind]}), {number} packets, {octets} octets"
    if kind in (0, 3):
        packets = int.from_bytes(data[at + 9:at + 12], "big")
        total = int.from_bytes(data[at + 12:at + 17], "big")
        t.field("sync.total_nr_of_packet", packets, "Total Number of Packet", (at + 9, at + 12), 1)
        t.field("sync.total_nr_of_octet", total, "Total Number of Octet", (at + 12, at + 17), 1)
        t.field("sync.header_crc", data[at + 17] >> 2, "Header CRC", (at + 17, at + 18), 1,
                f"0x{data[at + 17] >> 2:02x} [correct]")
        info += f"; period so far: {packets} packets, {total} octets"
    return info


def summarize_frame(capture: int, number: int, time: float, linktype: int,
                    data: bytes) -> tuple[Dissected, list[Span | None]]:
    """The packet-list row and details of a frame, and each item's byte span.

    Never raises on frame bytes: what cannot be decoded ends the tree.
    """
    t = _Tree()
    t.node(f"Frame {number}: {len(data)} bytes captured ({LINKTYPES.get(linktype, linktype)})",
           0, (0, len(data)))
    t.field("frame.len", len(data), "Frame length", (0, len(data)), 1)
    proto, src, dst, info = LINKTYPES.get(linktype, f"link {linktype}"), "", "", ""
    off, etype = None, None
    if linktype == 1 and len(data) >= 14:
        t.node(f"Ethernet II, Src: {_mac(data[6:12])}, Dst: {_mac(data[0:6])}", 0, (0, 14))
        t.field("eth.dst", _mac(data[0:6]), "Destination", (0, 6), 1)
        t.field("eth.src", _mac(data[6:12]), "Source", (6, 12), 1)
        off, etype = 14, struct.unpack_from("!H", data, 12)[0]
        src, dst, proto = _mac(data[6:12]), _mac(data[0:6]), "Ethernet"
        for _ in range(MAX_VLAN_TAGS):
            if etype not in ETH_VLAN_TYPES or len(data) < off + 4:
                break
            vid = struct.unpack_from("!H", data, off)[0] & 0x0FFF
            t.node(f"802.1Q Virtual LAN, ID: {vid}", 0, (off - 2, off + 4))
            t.field("vlan.id", vid, "ID", (off, off + 2), 1)
            etype = struct.unpack_from("!H", data, off + 2)[0]
            off += 4
        t.field("eth.type", etype, "Type", (off - 2, off), 1,
                f"{ETHERTYPES.get(etype, 'Unknown')} (0x{etype:04x})")
    elif linktype == 113 and len(data) >= 16:
        t.node("Linux cooked capture v1", 0, (0, 16))
        off, etype = 16, struct.unpack_from("!H", data, 14)[0]
        t.field("sll.etype", etype, "Protocol", (14, 16), 1, f"0x{etype:04x}")
    elif linktype == 276 and len(data) >= 20:
        t.node("Linux cooked capture v2", 0, (0, 20))
        off, etype = 20, struct.unpack_from("!H", data, 0)[0]
        t.field("sll.etype", etype, "Protocol", (0, 2), 1, f"0x{etype:04x}")
    elif linktype in (0, 108) and len(data) >= 4:
        fam = struct.unpack_from("<I", data)[0]
        fam = struct.unpack_from(">I", data)[0] if fam > 0xFFFF else fam
        t.node(f"Null/Loopback, family {fam}", 0, (0, 4))
        off, etype = 4, 0x0800 if fam == 2 else 0x86DD
    elif linktype in (101, 12, 14, 228, 229) and data:
        off, etype = 0, 0x0800 if data[0] >> 4 == 4 else 0x86DD
    l4 = None
    if off is not None and etype == 0x0800 and len(data) >= off + 20 and data[off] >> 4 == 4:
        ihl = (data[off] & 0x0F) * 4
        ip_proto, ttl = data[off + 9], data[off + 8]
        src = socket.inet_ntoa(data[off + 12:off + 16])
        dst = socket.inet_ntoa(data[off + 16:off + 20])
        frag = struct.unpack_from("!H", data, off + 6)[0]
        t.node(f"Internet Protocol Version 4, Src: {src}, Dst: {dst}", 0, (off, off + ihl))
        t.field("ip.src", src, "Source Address", (off + 12, off + 16), 1)
        t.field("ip.dst", dst, "Destination Address", (off + 16, off + 20), 1)
        t.field("ip.ttl", ttl, "Time to Live", (off + 8, off + 9), 1)
        t.field("ip.proto", ip_proto, "Protocol", (off + 9, off + 10), 1,
                f"{IP_PROTOS.get(ip_proto, 'Unknown')} ({ip_proto})")
        t.field("ip.frag_offset", (frag & 0x1FFF) * 8, "Fragment Offset", (off + 6, off + 8), 1)
        proto = IP_PROTOS.get(ip_proto, "IPv4")
        if frag & 0x3FFF:
            proto, info = "IPv4", f"Fragmented IP protocol (proto={ip_proto}, off={(frag & 0x1FFF) * 8})"
        elif ihl >= 20:
            l4 = (ip_proto, off + ihl)
    elif off is not None and etype == 0x86DD and len(data) >= off + 40 and data[off] >> 4 == 6:
        src = socket.inet_ntop(socket.AF_INET6, data[off + 8:off + 24])
        dst = socket.inet_ntop(socket.AF_INET6, data[off + 24:off + 40])
        nxt = data[off + 6]
        t.node(f"Internet Protocol Version 6, Src: {src}, Dst: {dst}", 0, (off, off + 40))
        t.field("ipv6.src", src, "Source Address", (off + 8, off + 24), 1)
        t.field("ipv6.dst", dst, "Destination Address", (off + 24, off + 40), 1)
        t.field("ipv6.nxt", nxt, "Next Header", (off + 6, off + 7), 1,
                f"{IP_PROTOS.get(nxt, 'Unknown')} ({nxt})")
        proto = IP_PROTOS.get(nxt, "IPv6")
        l4 = (nxt, off + 40)
    elif off is not None and etype is not None:
        proto = ETHERTYPES.get(etype, f"0x{etype:04x}")
    if l4 is not None:
        kind, pos = l4
        if kind == 17 and len(data) >= pos + 8:
            sport, dport, ulen = struct.unpack_from("!HHH", data, pos)
            n = max(0, min(ulen, len(data) - pos) - 8)
            t.node(f"User Datagram Protocol, Src Port: {sport}, Dst Port: {dport}", 0,
                   (pos, pos + 8))
            t.field("udp.srcport", sport, "Source Port", (pos, pos + 2), 1)
            t.field("udp.dstport", dport, "Destination Port", (pos + 2, pos + 4), 1)
            t.field("udp.length", ulen, "Length", (pos + 4, pos + 6), 1)
            src, dst = endpoint(src, sport), endpoint(dst, dport)
            info = f"{sport} \u2192 {dport} Len={n}"
            sync = _sync(t, data, pos + 8, pos + 8 + n) if GTPU_PORT in (sport, dport) else None
            if sync is not None:
                proto, info = "SYNC", sync
            elif n:
                t.node(f"Data ({n} bytes)", 0, (pos + 8, pos + 8 + n))
        elif kind == 6 and len(data) >= pos + 20:
            sport, dport, seq, ack = struct.unpack_from("!HHII", data, pos)
            doff, flags = (data[pos + 12] >> 4) * 4, data[pos + 13]
            n = max(0, len(data) - pos - doff)
            names = [name for bit, name in TCP_FLAGS if flags & bit]
            t.node(f"Transmission Control Protocol, Src Port: {sport}, Dst Port: {dport}, "
                   f"Seq: {seq}, Len: {n}", 0, (pos, pos + max(doff, 20)))
            t.field("tcp.srcport", sport, "Source Port", (pos, pos + 2), 1)
            t.field("tcp.dstport", dport, "Destination Port", (pos + 2, pos + 4), 1)
            t.field("tcp.seq", seq, "Sequence Number (raw)", (pos + 4, pos + 8), 1)
            t.field("tcp.ack", ack, "Acknowledgment Number (raw)", (pos + 8, pos + 12), 1)
            t.field("tcp.flags", flags, "Flags", (pos + 13, pos + 14), 1,
                    f"0x{flags:03x} ({', '.join(names) or 'none'})")
            if n:
                t.node(f"TCP payload ({n} bytes)", 0, (pos + doff, len(data)))
            src, dst = endpoint(src, sport), endpoint(dst, dport)
            info = f"{sport} \u2192 {dport} [{', '.join(names)}] Seq={seq} Len={n}"
        elif not info:
            info = f"{IP_PROTOS.get(kind, 'protocol ' + str(kind))}"
    pkt = Dissected(capture, number, time, src, dst, proto.lower(), info or proto, t.items, [])
    return pkt, t.spans
