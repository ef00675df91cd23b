"""Issue #9: a capture cut at any byte still gives everything before the cut.

Every byte offset of the small demo captures, and 300 offsets spread over the
lab one, pcap and pcapng: reading never raises anything but CaptureError (naming
the offset), the records read are the whole records before the cut, and the MBMS
packets dissected from them are those of the full capture up to that point.
"""

from __future__ import annotations

import random

import pytest

from analyzer.capture.reading import CaptureError, read_capture
from analyzer.pipeline.build import build
from analyzer.pipeline.find import candidates
from tests.conftest import CAPTURES


def _read(path):
    records, error = [], None
    try:
        for rec in read_capture(path):
            records.append(rec)
    except CaptureError as exc:
        error = str(exc)
    return records, error


def _mbms(records):
    # MIKEY and SRTP only: an HTTP message cut short is rightly reported differently
    return [(p.frame, p.protocol, p.summary) for p in map(build, candidates(records))
            if p.protocol in ("mikey", "srtp", "srtcp")]


@pytest.mark.parametrize("name, sample", [("mikey-demo.pcap", None),
                                          ("mbms-chain-demo.pcap", None),
                                          ("lab-push.pcapng", 300)])
def test_truncated_at_any_byte(name, sample, tmp_path):
    data = (CAPTURES / name).read_bytes()
    full, error = _read(CAPTURES / name)
    assert error is None
    full_mbms = _mbms(full)
    offsets = range(len(data)) if sample is None else \
        sorted(random.Random(9).sample(range(len(data)), sample))
    cut = tmp_path / name
    for n in offsets:
        cut.write_bytes(data[:n])
        records, error = _read(cut)
        assert [r.data for r in records] == [r.data for r in full[:len(records)]], n
        if error is None and n < len(data):  # a clean end: the cut fell between records
            assert len(records) < len(full) or n >= len(data) - 64, n  # (or in pcapng trailers)
        if error is not None:
            assert "offset" in error or "too short" in error or "not a pcap" in error, error
        got = _mbms(records)
        last = records[-1].number if records else 0
        assert got == [p for p in full_mbms if p[0] <= last], n
