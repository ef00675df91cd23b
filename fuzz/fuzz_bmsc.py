"""Fuzz the BM-SC HTTP path: HTTP/1.1 framing over split segments, the MBMS XML
bodies (defusedxml) and HTTP digest parameters.

    python fuzz/fuzz_bmsc.py fuzz/corpus/bmsc -runs=1000000
"""

from __future__ import annotations

import sys

import _common  # noqa: F401
import atheris

with atheris.instrument_imports(include=["dissectors", "analyzer"]):
    from dissectors.bmsc import MEDIA_TYPES, parse_body
    from dissectors.digest import parse_params
    from dissectors.http import HttpStream

_TYPES = sorted(MEDIA_TYPES)


def test_one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    cut, kind, rest = data[0], data[1], data[2:]
    stream = HttpStream(is_server_side=bool(kind & 1))
    at = min(cut, len(rest))
    msgs = stream.feed(rest[:at], (0, 1), 0.0) + stream.feed(rest[at:], (0, 2), 1.0)
    msgs += stream.close((0, 3), 2.0)
    for msg in msgs:
        for value in msg.headers_named("authorization") + msg.headers_named("www-authenticate"):
            parse_params(value, True)
        parse_body(msg.content_type or _TYPES[kind % len(_TYPES)], msg.body)
    parse_body(_TYPES[kind % len(_TYPES)], rest)
    parse_params(rest.decode("latin-1"), bool(kind & 2))


if __name__ == "__main__":
    _common.run(test_one_input, sys.argv)
