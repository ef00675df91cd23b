"""Fuzz SRTP/SRTCP framing and unprotect (with a fixed key), the light frame
summary, the transport decoder and the prefilter.

    python fuzz/fuzz_srtp.py fuzz/corpus/srtp -runs=1000000
"""

from __future__ import annotations

import sys

import _common  # noqa: F401
import atheris

with atheris.instrument_imports(include=["dissectors", "analyzer"]):
    from analyzer.crypto.srtp import SUITES, SrtpContext
    from analyzer.net.decode import decode_transport
    from analyzer.net.prefilter import Prefilter
    from analyzer.views.frame import summarize_frame
    from dissectors.srtp import is_rtcp, rtp_header, split_srtcp, split_srtp

_KEY, _SALT = bytes(range(16)), bytes(range(16, 30))
_LINKS = (1, 113, 276, 101, 0, 108, 228, 229, 147)
_KEEP = Prefilter(srtp=True)


def test_one_input(data: bytes) -> None:
    if not data:
        return
    hdr = rtp_header(data)
    if hdr is not None:
        split_srtp(data, hdr.header_len, data[0] % 5, 10)
    is_rtcp(data)
    split_srtcp(data, data[-1] % 5, 10)
    ctx = SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"], _KEY, _SALT, mki=data[:data[0] % 3])
    ctx.unprotect(data, hdr.header_len if hdr is not None else 12)
    ctx.unprotect_rtcp(data)
    link = _LINKS[data[0] % len(_LINKS)]
    frame = data[1:]
    decode_transport(link, frame)
    summarize_frame(0, 1, 0.0, link, frame)
    _KEEP(link, b"\x00" + frame, 1, len(frame) + 1)


if __name__ == "__main__":
    _common.run(test_one_input, sys.argv)
