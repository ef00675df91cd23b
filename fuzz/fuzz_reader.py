"""Fuzz the capture reader: pcap and pcapng files of any shape, read through the
prefilter and the packet index. Only CaptureError may come out.

    python fuzz/fuzz_reader.py fuzz/corpus/reader -runs=1000000
"""

from __future__ import annotations

import os
import sys
import tempfile

import _common  # noqa: F401
import atheris

with atheris.instrument_imports(include=["dissectors", "analyzer"]):
    from analyzer.capture import reading
    from analyzer.capture.reading import CaptureError, RecordIndex, Tally, read_capture
    from analyzer.net.prefilter import Prefilter

_FD, _PATH = tempfile.mkstemp(prefix="fuzz-reader-", suffix=".pcap",
                              dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
reading.CHUNK = 61  # records across the buffer's edge, every time


def test_one_input(data: bytes) -> None:
    os.ftruncate(_FD, 0)
    os.pwrite(_FD, data, 0)
    index, tally = RecordIndex(), Tally()
    try:
        for record in read_capture(_PATH, Prefilter(srtp=True), tally, index):
            assert len(record.data) <= len(data)
    except CaptureError:
        pass
    assert tally.packets == len(index)


if __name__ == "__main__":
    _common.run(test_one_input, sys.argv)
