"""SRTP and SRTCP framing - RFC 3711 §3.1, §3.4 (no cryptography here).

The light path for statistics and decryption: header fields by ``struct`` and
slices, no Scapy object per packet.

SRTP:  ``RTP header | encrypted payload | [MKI] | auth tag``
SRTCP: ``RTCP header (8) | encrypted part | E:1 SRTCP index:31 | [MKI] | auth tag``

MKI and tag lengths are not on the wire; the caller gives them (from the key
that is tried). Functions return None for bytes that cannot be such a packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
RTCP_TYPES = range(192, 224)  # SR 200, RR 201, SDES 202, BYE 203, APP 204, ... (RFC 5761 §4)


@dataclass(frozen=True, slots=True)
class RtpHeader:
    """Fields of an RTP header (RFC 3550 §5.1) and its length with CSRCs and extension."""

    marker: int
    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    header_len: int
    padding: int


def rtp_header(data: bytes) -> RtpHeader | None:
    """The RTP header at the start of *data*, or None if it cannot be one."""
    if len(data) < 12 or data[0] >> 6 != RTP_VERSION:
        return None
    b0, b1, seq, ts, ssrc = struct.unpack_from("!BBHII", data)
    if b1 & 0x7F in range(72, 77):  # RTCP SR/RR/SDES/BYE/APP with the marker bit
        return None
    n = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:  # header extension: profile (2) | length in 32-bit words (2)
        if len(data) < n + 4:
            return None
        n += 4 + 4 * struct.unpack_from("!H", data, n + 2)[0]
    if n > len(data):
        return None
    return RtpHeader(b1 >> 7, b1 & 0x7F, seq, ts, ssrc, n, (b0 >> 5) & 1)


_RTP_FIXED = struct.Struct("!BBxxxxxxI").unpack_from  # V/P/X/CC, M/PT, SSRC


def rtp_fields(data: bytes) -> tuple[int, int] | None:
    """(SSRC, header length) of the RTP header at the start of *data*, or None: what
    :func:`rtp_header` finds, without building it (the per-packet SRTP path)."""
    if len(data) < 12:
        return None
    b0, b1, ssrc = _RTP_FIXED(data)
    if b0 >> 6 != RTP_VERSION or 72 <= b1 & 0x7F <= 76:
        return None
    n = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        if len(data) < n + 4:
            return None
        n += 4 + 4 * struct.unpack_from("!H", data, n + 2)[0]
    return None if n > len(data) else (ssrc, n)


@dataclass(frozen=True, slots=True)
class SrtpParts:
    """An SRTP packet cut into its parts for a given MKI and tag length."""

    header: bytes
    payload: bytes
    mki: bytes
    tag: bytes


def split_srtp(data: bytes, header_len: int, mki_len: int, tag_len: int) -> SrtpParts | None:
    """Cut *data* into header, encrypted payload, MKI and tag (RFC 3711 §3.1)."""
    end = len(data) - mki_len - tag_len
    if end < header_len:
        return None
    return SrtpParts(data[:header_len], data[header_len:end], data[end:end + mki_len],
                     data[end + mki_len:])


def is_rtcp(data: bytes) -> bool:
    """True when *data* starts like an RTCP packet (version 2, type 192..223)."""
    return len(data) >= 8 and data[0] >> 6 == RTP_VERSION and data[1] in RTCP_TYPES


@dataclass(frozen=True, slots=True)
class SrtcpParts:
    """An SRTCP packet cut into its parts (RFC 3711 §3.4)."""

    header: bytes          # the first 8 bytes (V/P/RC, PT, length, SSRC)
    payload: bytes         # the rest of the compound packet, encrypted when E=1
    encrypted: bool        # the E flag
    index: int             # the 31-bit SRTCP index
    mki: bytes
    tag: bytes
    ssrc: int


def split_srtcp(data: bytes, mki_len: int, tag_len: int) -> SrtcpParts | None:
    """Cut *data* into the SRTCP parts for the given MKI and tag lengths."""
    end = len(data) - mki_len - tag_len - 4
    if end < 8 or not is_rtcp(data):
        return None
    word = struct.unpack_from("!I", data, end)[0]
    return SrtcpParts(data[:8], data[8:end], bool(word >> 31), word & 0x7FFFFFFF,
                      data[end + 4:end + 4 + mki_len], data[end + 4 + mki_len:],
                      struct.unpack_from("!I", data, 4)[0])
