"""MIKEY inside SDP, RTSP and HTTP (RFC 4567; media type application/mikey)."""

from __future__ import annotations

import base64

from dissectors.carriers import find_embedded
from tests.corpus import DIGEST_MSK_MESSAGE

B64 = base64.b64encode(DIGEST_MSK_MESSAGE)


def test_sdp_session_and_media_level_lines():
    body = b"v=0\r\na=key-mgmt:mikey " + B64 + b"\r\nm=audio 1 RTP/SAVP 0\r\na=key-mgmt:mikey " + B64 + b"\r\n"
    found = find_embedded(body)
    assert [(e.carrier, e.data) for e in found] == [("sdp", DIGEST_MSK_MESSAGE)] * 2


def test_rtsp_keymgmt_header_folded_and_with_several_specs():
    head = (b"SETUP rtsp://x/tv RTSP/1.0\r\nCSeq: 3\r\nkeymgmt: prot=mikey; uri=\"rtsp://x/tv\";\r\n"
            b" data=\"" + B64 + b"\", prot=other; data=\"AAAA\"\r\n\r\n")
    found = find_embedded(head)
    assert [(e.carrier, e.data) for e in found] == [("rtsp", DIGEST_MSK_MESSAGE)]


def test_http_body_binary_and_base64():
    raw = (b"HTTP/1.1 200 OK\r\nContent-Type: application/mikey\r\nContent-Length: "
           + str(len(DIGEST_MSK_MESSAGE)).encode() + b"\r\n\r\n" + DIGEST_MSK_MESSAGE)
    assert [(e.carrier, e.data) for e in find_embedded(raw)] == [("http", DIGEST_MSK_MESSAGE)]
    b64 = (b"POST /k HTTP/1.1\r\nContent-Type: Application/MIKEY; x=1\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + B64)
    assert [e.data for e in find_embedded(b64)] == [DIGEST_MSK_MESSAGE]


def test_bad_base64_is_an_issue_not_a_crash():
    found = find_embedded(b"a=key-mgmt:mikey AAA=A===\r\n")
    assert len(found) == 1 and found[0].issue is not None and found[0].issue.code == "mikey.base64"


def test_other_text_is_ignored():
    assert find_embedded(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == []
    assert find_embedded(b"a=key-mgmt:other Zm9v\r\n") == []
