"""A cheap test on frame bytes: could this record matter to the MBMS analysis?

Most packets of an operator's capture are not MBMS. :class:`Prefilter` looks at
a few header bytes where the record lies in the reader's buffer (no copy, no
objects) and rejects what no later stage could use, so only the rest becomes a
:class:`~analyzer.capture.reading.Record` and goes through :mod:`analyzer.net.decode` and the
dissectors. The rules mirror :func:`analyzer.pipeline.find.mikey_payloads`, the HTTP
tracker and the SRTP finders (issue #8: "MIKEY ports and heuristic, HTTP to/from
known BM-SC addresses or with MBMS content, SRTP flows learned"):

* UDP to or from a MIKEY port (:class:`~analyzer.capture.profile.Profile`);
* other UDP whose payload starts like MIKEY (version 1) when the heuristic is
  on; text (a letter first) that names MIKEY or a key-mgmt attribute, when
  embedded MIKEY is followed (SDP, RTSP, HTTP over UDP: ``dissectors.carriers``);
* UDP to a FLUTE port, or whose payload passes the strict ALC heuristic
  (:func:`dissectors.flute.lct.looks_like_alc`) when it is on (FLUTE downloads);
* with ``srtp``, UDP that starts like RTP/RTCP version 2, except on flows the
  pipeline has found to carry nothing any key opens (:meth:`srtp_miss`), until
  keys are learned that were not tried on them (never on a FLUTE port);
* TCP to or from a host known to be a BM-SC (:meth:`learn_bmsc`), or on a
  connection one of whose segments has named MBMS, MIKEY, 3GPP or key-mgmt
  (from that segment on: a UE's first request or a BM-SC's first message
  does, in its content type or digest realm, within its first segment);
  with ``Profile.tcp_prefilter`` off, every TCP segment;
* GTP-U (UDP 2152) judged by the packet inside the tunnel, by the same rules;
* IP fragments, and frames on a link or network layer the fast path below does
  not handle, which are decoded in full and judged by the same rules.

The fast path is Ethernet (untagged) with IPv4: the common case of lab and
SGi captures.
"""

from __future__ import annotations

import re
import socket
import struct
from typing import Callable

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.capture.reading import QuickReject
from analyzer.net.decode import (
    GTPU_PORT,
    MAX_TUNNELS,
    decode_transport,
    gtpu_inner,
    network_offset,
)
from dissectors.flute.lct import looks_like_alc

_U16 = struct.Struct("!H").unpack_from
_PORTS = struct.Struct("!HH").unpack_from
_ETH_IP4 = struct.Struct("!12xHB5xHxB").unpack_from  # ethertype, ver/IHL, flags/frag, proto
_UDP_FIRST = struct.Struct("!HH4xB").unpack_from  # ports and the payload's first byte
_IP4 = struct.Struct("!B5xHxB").unpack_from  # ver/IHL, flags/frag, proto of an IPv4 header

#: words that MBMS key-management text always carries somewhere in its first segment
MARKERS = re.compile(rb"(?i)mbms|mikey|3gpp|key-?mgmt")
_LETTERS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_RTP_V2 = frozenset(range(0x80, 0xC0))

#: misses after which a UDP flow no key opens is no longer handed on (until keys change)
SRTP_MISSES = 16
MAX_FLOWS = 65536


class Prefilter:
    """``keep(linktype, buf, start, end)`` for :func:`analyzer.capture.reading.read_capture`.

    Args:
        profile: where MIKEY and HTTP are looked for.
        srtp: keep UDP that may be SRTP/SRTCP (RTP version 2).
    """

    def __init__(self, profile: Profile = DEFAULT_PROFILE, srtp: bool = False) -> None:
        self.udp_ports = profile.mikey_udp_ports
        self.tcp_ports = profile.mikey_tcp_ports
        self.heuristic = profile.mikey_heuristic
        self.text = profile.embedded_mikey
        self.tcp_all = not profile.tcp_prefilter
        self.flute_ports = profile.flute_ports
        self.alc = profile.alc_heuristic
        self.srtp = srtp
        #: packed IP addresses (4 or 16 bytes) of BM-SCs seen so far
        self.bmsc_hosts: set[bytes] = set()
        #: TCP connections (src, sport, dst, dport) that have carried MBMS words
        self.tcp_conns: set[tuple[bytes, int, bytes, int]] = set()
        #: UDP destinations (packed IP, port) where nothing decrypts: miss counts
        self._misses: dict[tuple[bytes, int], int] = {}
        #: flows written off -> how many keys had been tried on them
        self.dead: dict[tuple[bytes, int], int] = {}
        #: how many keys the pipeline knows now (set by it): a written-off flow
        #: is tried again once there are more than were tried on it
        self.key_source: Callable[[], int] = lambda: 0
        #: first UDP payload bytes that may be kept (see :meth:`_udp`): 2 for RTP-like
        self._first = bytes(2 if b in _RTP_V2 and srtp else
                            int((b == 1 and self.heuristic) or (b >> 4 == 1 and self.alc)
                                or (b in _LETTERS and self.text))
                            for b in range(256))
        #: the UDP ports whose datagrams are judged by more than their first byte
        self._named = frozenset(self.udp_ports) | frozenset(self.flute_ports) | {GTPU_PORT}

    @property
    def quick(self) -> QuickReject:
        """What the reader may reject without calling this (see :meth:`_udp`); read
        when a capture starts, so after :attr:`key_source` is set."""
        return QuickReject(self._named, self._first, dead=self.dead, keys=self.key_source)

    # ------------------------------------------------------------------ learning

    def learn_bmsc(self, packed_ip: bytes) -> None:
        """Keep every TCP segment to or from this host from now on."""
        self.bmsc_hosts.add(packed_ip)

    def srtp_miss(self, packed_ip: bytes, port: int, key_count: int) -> None:
        """A version-2 UDP packet to this destination opened with none of the first
        *key_count* keys: after :data:`SRTP_MISSES` such packets the flow is written
        off until more keys are known."""
        key = (packed_ip, port)
        if key in self.dead:
            self.dead[key] = key_count
            return
        n = self._misses.get(key, 0) + 1
        if len(self._misses) >= MAX_FLOWS:
            self._misses.clear()
        self._misses[key] = n
        if n >= SRTP_MISSES:
            if len(self.dead) >= MAX_FLOWS:
                self.dead.clear()
            self.dead[key] = key_count

    def srtp_hit(self, packed_ip: bytes, port: int) -> None:
        """A packet to this destination decrypted: it is an SRTP flow."""
        self._misses.pop((packed_ip, port), None)
        self.dead.pop((packed_ip, port), None)

    def alive(self, flow: tuple[bytes, int]) -> bool:
        """Is this UDP destination (packed address, port) still tried for SRTP: not
        written off, or written off before the keys known now?"""
        tried = self.dead.get(flow)
        return tried is None or tried < self.key_source()

    def written_off(self, flow: tuple[bytes, int]) -> bool:
        """Is an RTP-like datagram to this UDP destination (packed address, port) not
        to be tried now (written off, no key learned since; never a FLUTE port's)?
        What :meth:`_udp` decides from the frame, for a record already decoded."""
        return bool(self.dead) and flow[1] not in self.flute_ports and not self.alive(flow)

    def rtp_flow(self, linktype: int, buf: bytes, start: int, end: int) -> tuple[bytes, int] | None:
        """The destination (packed address, port) of a frame this prefilter judges by
        :meth:`alive` alone - RTP-like UDP in Ethernet/IPv4, on no port named for
        MIKEY, FLUTE or GTP-U (the frames :attr:`quick` marks 2) - else None."""
        if linktype != 1 or end - start < 43 or not self.srtp:
            return None
        etype, vihl, frag, proto = _ETH_IP4(buf, start)
        if etype != 0x0800 or vihl != 0x45 or frag & 0x3FFF or proto != 17:
            return None
        sport, dport, first = _UDP_FIRST(buf, start + 34)
        if first not in _RTP_V2 or sport in self._named or dport in self._named:
            return None
        return buf[start + 30:start + 34], dport

    def tried(self, packed_ip: bytes, port: int) -> int:
        """Keys already tried on a written-off flow (0: try them all)."""
        return self.dead.get((packed_ip, port), 0)

    # ------------------------------------------------------------------ the test

    def __call__(self, linktype: int, buf: bytes, start: int, end: int) -> bool:
        # Ethernet II, IPv4: one unpack reads type, version/IHL, flags/offset, protocol
        if linktype == 1 and end - start >= 42:
            etype, vihl, frag, proto = _ETH_IP4(buf, start)
            if etype == 0x0800:
                return self._ip4(buf, start + 14, end, vihl, frag, proto, 0)
        return self._general(linktype, bytes(buf[start:end]))

    def _ip4(self, buf: bytes, ip: int, end: int, vihl: int, frag: int, proto: int,
             depth: int) -> bool:
        """The IPv4 packet at *ip* (its first header fields already read)."""
        if vihl >> 4 != 4 or vihl & 0x0F < 5:
            return False  # not IPv4 after all: nothing the pipeline decodes
        if frag & 0x3FFF:  # a fragment (MF set or an offset)
            return True
        l4 = ip + (vihl & 0x0F) * 4
        if proto == 17:
            if l4 + 9 > end:
                return False
            sport, dport, first = _UDP_FIRST(buf, l4)
            if self._udp(sport, dport, first, buf, l4 + 8, end, buf, ip + 16, 4):
                return True
            if GTPU_PORT in (sport, dport) and depth < MAX_TUNNELS:
                return self._tunnel(buf, l4 + 8, end, depth)
            return False
        if proto == 6:
            if l4 + 20 > end:
                return False
            sport, dport = _PORTS(buf, l4)
            return self._tcp(sport, dport, buf, l4 + (buf[l4 + 12] >> 4) * 4, end,
                             buf[ip + 12:ip + 16], buf[ip + 16:ip + 20])
        return False

    def _tunnel(self, buf: bytes, pos: int, end: int, depth: int) -> bool:
        """A GTP-U G-PDU: judged by the packet it carries."""
        inner = gtpu_inner(buf, pos, end)
        if inner is None:
            return False
        if buf[inner] >> 4 == 6:
            return True  # IPv6 inside a tunnel: left to the full decoder
        if end - inner < 28:
            return False
        vihl, frag, proto = _IP4(buf, inner)
        return self._ip4(buf, inner, end, vihl, frag, proto, depth + 1)

    def _udp(self, sport: int, dport: int, first: int, buf: bytes, pos: int, end: int,
             addr: bytes, at: int, size: int) -> bool:
        """A UDP datagram whose payload is ``buf[pos:end]`` (starting with *first*) to
        the address ``addr[at:at + size]`` (read only for a written-off SRTP flow)."""
        if sport in self.udp_ports or dport in self.udp_ports:
            return True
        if first == 1:
            return self.heuristic
        if first >> 4 == 1:
            return dport in self.flute_ports or self.alc and looks_like_alc(buf, pos, end)
        if first in _RTP_V2:
            if not self.srtp:
                return False
            # (a FLUTE port's datagrams concern the FLUTE finder too: never written off)
            return not self.dead or dport in self.flute_ports \
                or self.alive((addr[at:at + size], dport))
        if first in _LETTERS and self.text and MARKERS.search(buf, pos, end) is not None:
            return True
        return dport in self.flute_ports

    def _tcp(self, sport: int, dport: int, buf: bytes, pos: int, end: int, src: bytes,
             dst: bytes) -> bool:
        if self.tcp_all or sport in self.tcp_ports or dport in self.tcp_ports:
            return True
        return self.tcp_wanted(src, sport, dst, dport,
                               lambda: pos < end and MARKERS.search(buf, pos, end) is not None)

    def tcp_wanted(self, src: bytes, sport: int, dst: bytes, dport: int,
                   marked: Callable[[], bool]) -> bool:
        """A TCP segment on no MIKEY port: to or from a BM-SC, on a followed connection,
        or naming MBMS words (``marked()``, asked last) - which follows its connection."""
        hosts = self.bmsc_hosts
        if hosts and (src in hosts or dst in hosts):
            return True
        conn = (src, sport, dst, dport)
        if conn in self.tcp_conns:
            return True
        if marked():
            # the rest of this connection follows, both ways (a message's later
            # segments need not name MBMS again)
            if len(self.tcp_conns) >= MAX_FLOWS:
                self.tcp_conns.clear()
            self.tcp_conns.add(conn)
            self.tcp_conns.add((dst, dport, src, sport))
            return True
        return False

    def tcp_segment(self, linktype: int, buf: bytes, start: int,
                    end: int) -> tuple[bytes, int, bytes, int, bool] | None:
        """(source, port, destination, port, names MBMS words) of a frame this prefilter
        judges by :meth:`tcp_wanted` alone - TCP in Ethernet/IPv4 (no fragment), on no
        MIKEY port, with the TCP prefilter on - else None."""
        if linktype != 1 or end - start < 54 or self.tcp_all:
            return None
        etype, vihl, frag, proto = _ETH_IP4(buf, start)
        if etype != 0x0800 or vihl != 0x45 or frag & 0x3FFF or proto != 6:
            return None
        l4 = start + 34
        sport, dport = _PORTS(buf, l4)
        if sport in self.tcp_ports or dport in self.tcp_ports:
            return None
        pos = l4 + (buf[l4 + 12] >> 4) * 4
        marked = pos < end and MARKERS.search(buf, pos, end) is not None
        return buf[start + 26:start + 30], sport, buf[start + 30:start + 34], dport, marked

    def _general(self, linktype: int, data: bytes) -> bool:
        tp = decode_transport(linktype, data)
        if tp is None:
            wanted = _maybe_fragment(linktype, data)
        elif tp.proto == "tcp":
            wanted = self._tcp(tp.sport, tp.dport, tp.payload, 0, len(tp.payload),
                               packed(tp.src), packed(tp.dst))
        elif tp.payload:  # GTP-U was opened by the decoder: this is what it carried
            dst = packed(tp.dst)
            wanted = self._udp(tp.sport, tp.dport, tp.payload[0], tp.payload, 0,
                               len(tp.payload), dst, 0, len(dst))
        else:
            wanted = False
        return wanted


def packed(ip: str) -> bytes:
    """An address as text back to its bytes: ``"10.0.0.7"`` -> ``b"\\n\\x00\\x00\\x07"``
    (b"" for what is no address), the form of the learned-host and flow sets."""
    try:
        return socket.inet_pton(socket.AF_INET6 if ":" in ip else socket.AF_INET, ip)
    except OSError:
        return b""


def _maybe_fragment(linktype: int, data: bytes) -> bool:
    """Frames the transport decoder gives up on are kept when they might be IP
    fragments (for reassembly) - everything else it cannot decode is dropped."""
    where = network_offset(linktype, data)
    if where is None:
        return False
    off, etype = where
    if etype == 0x0800 and len(data) >= off + 20:
        return bool(_U16(data, off + 6)[0] & 0x3FFF)
    return etype == 0x86DD  # IPv6 fragments and extension chains: let the pipeline judge
