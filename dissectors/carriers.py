"""MIKEY carried inside text protocols: SDP, RTSP and HTTP.

* SDP ``a=key-mgmt:mikey <base64>`` (RFC 4567 §3.1), at session or media level,
  in SIP, RTSP DESCRIBE answers or any other body;
* RTSP ``KeyMgmt: prot=mikey; [uri="..";] data="<base64>"`` (RFC 4567 §3.2, §5.3),
  several key-mgmt-specs separated by commas, possibly folded over lines;
* HTTP messages whose ``Content-Type`` is ``application/mikey`` (the media type
  Wireshark's HTTP dissector hands to MIKEY); the body is the binary message
  (or base64 with ``Content-Transfer-Encoding: base64``).

Everything here works on one transport payload; HTTP bodies split over TCP
segments need the reassembly of :mod:`analyzer.reading` (issue 4). Every scan
is bounded: at most :data:`MAX_BLOBS` blobs per payload, each at most
:data:`MAX_BLOB` bytes of base64.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from dissectors.issues import Issue

MAX_BLOBS = 16
MAX_BLOB = 65536 * 4 // 3 + 4
MAX_HEADER_BYTES = 16384

_SDP_RE = re.compile(rb"(?m)^a=key-mgmt:[ ]?mikey[ ]+([A-Za-z0-9+/=]{4,%d})[ \t]*\r?$" % MAX_BLOB)
_RTSP_HDR_RE = re.compile(rb"(?im)^keymgmt[ \t]*:((?:[^\r\n]|\r?\n[ \t])*)")
_RTSP_SPEC_RE = re.compile(rb'(?i)prot[ \t]*=[ \t]*mikey[ \t]*;(?:[^,]*?;)?[^,]*?data[ \t]*=[ \t]*"([^"]{4,%d})"' % MAX_BLOB)
_START_RE = re.compile(rb"^(?:[A-Z]{3,10} \S+ (?:HTTP|RTSP)/\d\.\d|(?:HTTP|RTSP)/\d\.\d \d{3})")


@dataclass(frozen=True, slots=True)
class Embedded:
    """A MIKEY message found inside a text carrier.

    Attributes:
        carrier: ``sdp``, ``rtsp`` or ``http``.
        data: the MIKEY message bytes (decoded from base64 where needed).
        issue: a problem with the carrier (undecodable base64), else None.
    """

    carrier: str
    data: bytes
    issue: Issue | None = None


def _b64(carrier: str, blob: bytes) -> Embedded:
    compact = re.sub(rb"\s+", b"", blob)
    try:
        return Embedded(carrier, base64.b64decode(compact, validate=True))
    except (binascii.Error, ValueError):
        return Embedded(carrier, b"", Issue("mikey.base64",
                                            f"{carrier} key-mgmt data is not valid base64"))


def find_embedded(payload: bytes) -> list[Embedded]:
    """Every MIKEY message carried as text or HTTP body in *payload*."""
    found: list[Embedded] = []
    if b"key-mgmt" in payload:
        for m in _SDP_RE.finditer(payload):
            found.append(_b64("sdp", m.group(1)))
            if len(found) >= MAX_BLOBS:
                return found
    if _START_RE.match(payload):
        head_end = payload.find(b"\r\n\r\n", 0, MAX_HEADER_BYTES)
        head = payload[:head_end] if head_end >= 0 else payload[:MAX_HEADER_BYTES]
        if b"keymgmt" in head.lower():
            for hm in _RTSP_HDR_RE.finditer(head):
                for sm in _RTSP_SPEC_RE.finditer(hm.group(1)):
                    found.append(_b64("rtsp", sm.group(1)))
                    if len(found) >= MAX_BLOBS:
                        return found
        if head_end >= 0:
            body = _http_mikey_body(head, payload[head_end + 4:])
            if body is not None:
                found.append(body)
    return found


def _header(head: bytes, name: bytes) -> bytes | None:
    m = re.search(rb"(?im)^" + name + rb"[ \t]*:[ \t]*([^\r\n]*)", head)
    return m.group(1).strip() if m else None


def _http_mikey_body(head: bytes, rest: bytes) -> Embedded | None:
    ctype = _header(head, b"content-type")
    if ctype is None or ctype.split(b";")[0].strip().lower() != b"application/mikey":
        return None
    length = _header(head, b"content-length")
    body = rest
    if length is not None and length.isdigit():
        body = rest[:int(length)]
    cte = _header(head, b"content-transfer-encoding")
    if cte is not None and cte.lower() == b"base64":
        return _b64("http", body)
    return Embedded("http", body)
