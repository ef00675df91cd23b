"""A cheap test on frame bytes: could this record matter to the MBMS analysis?

Most packets of an operator's capture are not MBMS. :class:`Prefilter` looks at
a few header bytes where the record lies in the reader's buffer (no copy, no
objects) and rejects what no later stage could use, so only the rest becomes a
:class:`~analyzer.reading.Record` and goes through :mod:`analyzer.decode` and the
dissectors. It must never reject what the full pipeline would have used; the
rules mirror :func:`analyzer.dissect.mikey_payloads`, the HTTP tracker and the
SRTP finders:

* UDP to or from a MIKEY port (:class:`~analyzer.profile.Profile`);
* other UDP whose payload starts like MIKEY (version 1) when the heuristic is
  on, like SDP/RTSP text (a letter) when embedded MIKEY is followed, or like
  RTP/RTCP version 2 when SRTP is wanted (keys, or MKIs learned from MIKEY);
* every TCP segment (HTTP is followed over reassembled TCP, on any port);
* every IP fragment but the first of an unfragmented datagram (left to the
  full decoder), and any frame on a link or network layer not handled by the
  fast path below, which is decoded in full and judged by the same rules.

The fast path is Ethernet (untagged) with IPv4: the common case of lab and
SGi captures.
"""

from __future__ import annotations

import string
import struct

from .decode import decode_transport
from .profile import DEFAULT_PROFILE, Profile

_U16 = struct.Struct("!H").unpack_from
_PORTS = struct.Struct("!HH").unpack_from


class Prefilter:
    """``keep(linktype, buf, start, end)`` for :func:`analyzer.reading.read_capture`.

    Args:
        profile: where MIKEY is looked for.
        srtp: keep UDP that may be SRTP/SRTCP (RTP version 2).
    """

    def __init__(self, profile: Profile = DEFAULT_PROFILE, srtp: bool = False) -> None:
        self.udp_ports = profile.mikey_udp_ports
        first: set[int] = set()
        if profile.mikey_heuristic:
            first.add(1)  # MIKEY version 1 (RFC 3830 §6.1)
        if profile.embedded_mikey:
            first.update(string.ascii_letters.encode())  # SDP, RTSP (dissectors.carriers)
        if srtp:
            first.update(range(0x80, 0xC0))  # RTP/RTCP version 2 (RFC 3550 §5.1)
        self.first_bytes = frozenset(first)
        self.kept = 0
        self.rejected = 0

    def __call__(self, linktype: int, buf: bytes, start: int, end: int) -> bool:
        if linktype == 1 and end - start >= 34 and buf[start + 12] == 8 and buf[start + 13] == 0:
            ip = start + 14
            vihl = buf[ip]
            if vihl >> 4 != 4 or vihl & 0x0F < 5:
                self.rejected += 1
                return False
            if _U16(buf, ip + 6)[0] & 0x3FFF:  # a fragment (MF set or an offset)
                self.kept += 1
                return True
            proto = buf[ip + 9]
            l4 = ip + (vihl & 0x0F) * 4
            if proto == 6:
                self.kept += 1
                return True
            if proto != 17 or l4 + 8 >= end:
                self.rejected += 1
                return False
            sport, dport = _PORTS(buf, l4)
            if sport in self.udp_ports or dport in self.udp_ports or buf[l4 + 8] in self.first_bytes:
                self.kept += 1
                return True
            self.rejected += 1
            return False
        return self._general(linktype, bytes(buf[start:end]))

    def _general(self, linktype: int, data: bytes) -> bool:
        tp = decode_transport(linktype, data)
        if tp is None:
            wanted = _maybe_fragment(linktype, data)
        elif tp.proto == "tcp":
            wanted = True
        else:
            wanted = bool(tp.payload) and (tp.sport in self.udp_ports or tp.dport in self.udp_ports
                                           or tp.payload[0] in self.first_bytes)
        if wanted:
            self.kept += 1
        else:
            self.rejected += 1
        return wanted


def _maybe_fragment(linktype: int, data: bytes) -> bool:
    """Frames the transport decoder gives up on are kept when they might be IP
    fragments (for reassembly) - everything else it cannot decode is dropped."""
    from .decode import network_offset

    where = network_offset(linktype, data)
    if where is None:
        return False
    off, etype = where
    if etype == 0x0800 and len(data) >= off + 20:
        return bool(_U16(data, off + 6)[0] & 0x3FFF)
    return etype == 0x86DD  # IPv6 fragments and extension chains: let the pipeline judge
