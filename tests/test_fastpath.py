"""The fast path (issue #8): the chunked record walk and the prefilter change nothing."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import CookedLinux, Dot1Q, Ether
from scapy.utils import PcapNgWriter, PcapWriter

from analyzer.capture import reading
from analyzer.capture.reading import Tally, read_capture
from analyzer.net.prefilter import Prefilter
from analyzer.pipeline.find import CandidateFinder
from analyzer.views.srtp import SrtpFinder
from tests.conftest import CAPTURES, SHARED_CAPTURES
from tests.corpus import DIGEST_MSK_MESSAGE

ALL_CAPTURES = sorted(CAPTURES.glob("*.pcap*")) + sorted(SHARED_CAPTURES.glob("*.pcap*"))


def _records(path, **kw):
    return [(r.number, r.time, r.linktype, r.data, r.orig_len) for r in read_capture(path, **kw)]


@pytest.mark.parametrize("path", ALL_CAPTURES, ids=lambda p: p.name)
def test_small_chunks_read_the_same_records(path, monkeypatch):
    """Records that straddle the read buffer's edge come out whole and equal."""
    whole = _records(path)
    monkeypatch.setattr(reading, "CHUNK", 97)
    assert _records(path) == whole and whole


def _mixed_frames(seed: int) -> list:
    """Every kind of frame the prefilter must judge: MIKEY on and off its ports,
    SDP, RTP-like, DNS-like, HTTP, fragments, VLANs, cooked, IPv6, junk."""
    rng = random.Random(seed)
    frames = []
    for n in range(400):
        kind = n % 10
        payload = rng.randbytes(rng.randint(0, 60))
        if kind == 0:
            pkt = Ether() / IP() / UDP(sport=2269, dport=2269) / DIGEST_MSK_MESSAGE
        elif kind == 1:
            pkt = Ether() / IP() / UDP(sport=5000, dport=5001) / DIGEST_MSK_MESSAGE  # heuristic
        elif kind == 2:
            pkt = Ether() / IP() / UDP(sport=9, dport=9) / (bytes([0x80, 96]) + payload)
        elif kind == 3:
            pkt = Ether() / IP() / UDP(sport=3000, dport=53) / payload
        elif kind == 4:
            pkt = Ether() / IP() / TCP(sport=80, dport=40000 + n) / b"HTTP/1.1 200 OK\r\n\r\n"
        elif kind == 5:
            pkt = Ether() / IP(flags="MF") / UDP(sport=2269, dport=2269) / DIGEST_MSK_MESSAGE[:20]
        elif kind == 6:
            pkt = Ether() / Dot1Q(vlan=3) / IP() / UDP(sport=1, dport=4359) / DIGEST_MSK_MESSAGE
        elif kind == 7:
            pkt = Ether() / IPv6() / UDP(sport=7, dport=2269) / DIGEST_MSK_MESSAGE
        elif kind == 8:
            pkt = Ether() / IP() / UDP(sport=4, dport=4) / b"v=0\r\na=key-mgmt:mikey AQ==\r\n"
        else:
            pkt = Ether(bytes(Ether() / IP() / UDP()) [:14 + rng.randint(0, 27)] + payload)
        frames.append(pkt)
    return frames


def _candidates(path, keep, srtp):
    finder = CandidateFinder(0, srtp=SrtpFinder(None) if srtp else None, prefilter=keep)
    out = []
    for rec in read_capture(path, keep):
        out.extend(finder.record(rec))
    out.extend(finder.finish())
    return [(c.frame, c.src, c.dst, c.found, c.srtp is not None, c.http is not None) for c in out]


@pytest.mark.parametrize("srtp", [False, True])
def test_prefilter_drops_nothing_the_pipeline_uses(tmp_path, srtp):
    cap = tmp_path / "mixed.pcap"
    PcapWriter(str(cap)).write(_mixed_frames(8))
    ng = tmp_path / "cooked.pcapng"
    PcapNgWriter(str(ng)).write([CookedLinux() / IP() / UDP(sport=2269, dport=1) / DIGEST_MSK_MESSAGE,
                                 CookedLinux() / IP() / UDP(sport=5, dport=6) / b"\x00junk"])
    for path in ALL_CAPTURES + [cap, ng]:
        keep = Prefilter(srtp=srtp)
        assert _candidates(path, keep, srtp) == _candidates(path, None, srtp), path.name
    kept = [keep(113, f, 0, len(f)) for f in (bytes(CookedLinux() / IP() / UDP(sport=2269, dport=1)
                                                 / DIGEST_MSK_MESSAGE),
                                           bytes(CookedLinux() / IP() / UDP(sport=5, dport=6) / b"\x00junk"))]
    assert kept == [True, False]


def test_tally_counts_every_record_even_those_not_kept():
    path = CAPTURES / "lab-mixed.pcapng"
    tally = Tally()
    kept = _records(path, keep=lambda *_: False, tally=tally)
    everything = _records(path)
    assert kept == [] and tally.packets == len(everything) > 1000
    assert (tally.start, tally.end) == (min(r[1] for r in everything), max(r[1] for r in everything))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.sampled_from([1, 113, 276, 101, 0, 12, 228, 229, 147]))
def test_prefilter_never_raises_and_keeps_what_decodes_as_mikey(data, linktype):
    keep = Prefilter(srtp=True)
    assert keep(linktype, b"xx" + data + b"yy", 2, 2 + len(data)) in (True, False)


def _peak_rss_mb(cmd: list[str]) -> float:
    import os
    import subprocess

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read()
    return usage.ru_maxrss / 1024


def test_memory_grows_with_keys_not_with_packets(tmp_path):
    """Issue #8: ten times the packets with the same keys, peak RSS within 10 %."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    peaks = []
    for rate in (40, 400):
        cap, keys = tmp_path / f"r{rate}.pcapng", tmp_path / f"r{rate}.toml"
        subprocess.run([sys.executable, "-m", "analyzer", "lab", "--scenario", "basic",
                        "--duration", "40", "--rate", str(rate), "--seed", "3", "-o", str(cap),
                        "--keys-out", str(keys)], check=True, cwd=ROOT, capture_output=True)
        packets = sum(1 for _ in read_capture(cap))
        peaks.append((packets, _peak_rss_mb([sys.executable, "-m", "analyzer", "export", str(cap),
                                             "--keys", str(keys), "-o", str(tmp_path / "t.json")])))
    (small, small_rss), (big, big_rss) = peaks
    assert big >= 8 * small
    assert big_rss <= small_rss * 1.10, peaks
    print(f"packets {small} -> {big}, peak RSS {small_rss:.1f} -> {big_rss:.1f} MB")
