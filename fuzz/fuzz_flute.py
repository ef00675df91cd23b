"""Fuzz the download path: ALC/LCT parsing, the heuristic, FDT XML, FLUTE
reassembly (a few packets of one session per input) and the DCF parse and
decryption with a fixed MTK.

    python fuzz/fuzz_flute.py fuzz/corpus/flute -runs=1000000

An input is split on ``b"\\xff\\xfe"`` into packets; the last piece is also
parsed as an FDT and as a DCF.
"""

from __future__ import annotations

import sys

import _common  # noqa: F401
import atheris

with atheris.instrument_imports(include=["dissectors", "analyzer"]):
    from analyzer.flows.observe import Where
    from analyzer.flute.receiver import FluteReceiver, Limits
    from analyzer.keys.store import KeyStore
    from analyzer.views.alc import open_object
    from dissectors.dcf import parse_dcf
    from dissectors.flute.fdt import parse_fdt
    from dissectors.flute.lct import looks_like_alc, parse_alc

_STORE = KeyStore()
_STORE.learn_mtk(bytes.fromhex("02f810"), bytes.fromhex("00010002"), bytes.fromhex("0007"),
                 bytes(range(16)), None, "fuzz", csb_id=1, rand=b"r" * 16)
_LIMITS = Limits(max_object=1 << 20, max_buffered=4 << 20, max_objects=64, max_sessions=8)


def test_one_input(data: bytes) -> None:
    pieces = data.split(b"\xff\xfe")[:32]
    rx = FluteReceiver(_LIMITS)
    done = []
    for n, piece in enumerate(pieces):
        looks_like_alc(piece)
        pkt = parse_alc(piece)
        done += rx.packet(pkt, Where(0, n + 1, float(n), "1.1.1.1:1", "2.2.2.2:2"))
    done += rx.finish()
    for obj in done:
        open_object(obj, _STORE)
    parse_fdt(pieces[-1])
    parse_dcf(pieces[-1])


if __name__ == "__main__":
    _common.run(test_one_input, sys.argv)
