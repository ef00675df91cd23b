"""Strict heuristic: is this UDP payload a MIKEY message? (digest §6, own design).

Wireshark has no MIKEY heuristic; ours must never claim random traffic. A
payload passes only if all of these hold:

* byte 0 (version) is 1; byte 1 is a known data type; byte 2 a known payload
  type other than 0 and 20 (a message always carries payloads and Key data only
  lives inside KEMAC); the PRF func is a known one; byte 9 (CS ID map type) is
  0, 1 or 2;
* the CS ID map fits, and the payload chain, walked with each payload's own
  length rule, ends exactly at the end of the datagram, on next payload 0 or
  after SIGN, within :data:`MAX_HEURISTIC_PAYLOADS` payloads.

This is a byte walk (no Scapy objects), fast enough to run on every UDP
datagram of a capture.
"""

from __future__ import annotations

from .base import PAYLOAD_CLASSES
from .constants import DATA_TYPES, PAYLOAD_TYPES, PRF_FUNCS
from .header import HDR_LENGTH, MIKEY_GENERIC_ID

MAX_HEURISTIC_PAYLOADS = 32
_FIRST_PAYLOADS = frozenset(PAYLOAD_TYPES) - {0, 20}


def looks_like_mikey(buf: bytes) -> bool:
    """True when *buf* is, by the strict rules above, a whole MIKEY message."""
    n = len(buf)
    if n < HDR_LENGTH + 2 or buf[0] != 1:
        return False
    if buf[1] not in DATA_TYPES or buf[2] not in _FIRST_PAYLOADS:
        return False
    if (buf[3] & 0x7F) not in PRF_FUNCS or buf[9] > 2:
        return False
    off = _map_end(buf)
    if off is None:
        return False
    nxt = buf[2]
    for _ in range(MAX_HEURISTIC_PAYLOADS):
        cls = PAYLOAD_CLASSES.get(nxt)
        if cls is None:
            return False
        length = cls.wire_length(buf[off:])
        if length is None or length <= 0 or off + length > n:
            return False
        if nxt == 4:  # SIGN ends the message
            return off + length == n
        nxt = buf[off]
        off += length
        if nxt == 0:
            return off == n
        if off >= n:
            return False
    return False


def _map_end(buf: bytes) -> int | None:
    count, map_type = buf[8], buf[9]
    off = HDR_LENGTH
    if map_type == 0:
        off += 9 * count
    elif map_type == 2:
        for _ in range(count):
            length = MIKEY_GENERIC_ID.wire_length(buf[off:])
            if length is None:
                return None
            off += length
    return off if off < len(buf) else None
