"""The capture pipeline below the dissectors: link layers, transports, carriers, parallelism."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import CookedLinux, Dot1Q, Ether

from analyzer.capture.profile import Profile
from analyzer.capture.reading import Record
from analyzer.net.decode import decode_transport
from analyzer.pipeline.build import dissect_record
from analyzer.pipeline.find import classify, mikey_payloads
from dissectors.carriers import find_embedded
from tests.conftest import ROOT
from tests.corpus import DIGEST_MSK_MESSAGE

MSG = DIGEST_MSK_MESSAGE


def _record(pkt, linktype=1) -> Record:
    return Record(1, 0.0, linktype, bytes(pkt), len(bytes(pkt)))


def test_link_layers_and_ipv6_find_the_same_message():
    frames = [
        (_record(Ether() / IP(src="10.0.0.1", dst="10.0.0.7") / UDP(sport=2269, dport=2269) / MSG)),
        (_record(Ether() / Dot1Q(vlan=5) / Dot1Q(vlan=6) / IP() / UDP(sport=1, dport=4359) / MSG)),
        (_record(CookedLinux() / IP() / UDP(sport=2269, dport=9) / MSG, linktype=113)),
        (_record(IP() / UDP(sport=7, dport=2269) / MSG, linktype=101)),
        (_record(Ether() / IPv6(src="2001:db8::1", dst="ff3e::1") / UDP(sport=2269, dport=2269) / MSG)),
        (_record(Ether() / IP() / TCP(sport=40000, dport=2269) / MSG)),
    ]
    for rec in frames:
        pkt = dissect_record(rec)
        assert pkt is not None, rec
        assert ["mikey.mbms.msk_id", "00010002"] in pkt.fields()
    v6 = dissect_record(frames[4])
    assert v6.src == "[2001:db8::1]:2269" and v6.dst == "[ff3e::1]:2269"


def test_profile_ports_and_heuristic_are_settings():
    rec = _record(Ether() / IP() / UDP(sport=40000, dport=6000) / MSG)
    assert classify(rec) is not None  # heuristic
    assert classify(rec, profile=Profile(mikey_heuristic=False)) is None
    junk = _record(Ether() / IP() / UDP(sport=40000, dport=7000) / b"\x01\x00\x05\x80garbage")
    assert classify(junk) is None
    assert classify(junk, profile=Profile(mikey_udp_ports=frozenset({7000}))) is not None


def test_tcp_port_payload_is_mikey():
    tp = decode_transport(1, bytes(Ether() / IP() / TCP(sport=2269, dport=5555) / MSG))
    assert mikey_payloads(tp, Profile()) == [("tcp", MSG, None)]


@settings(max_examples=3000, deadline=None)
@given(st.integers(0, 300), st.binary(max_size=200))
def test_random_frames_never_raise(linktype, data):
    rec = Record(1, 0.0, linktype, data, len(data))
    dissect_record(rec)
    decode_transport(1, data)
    find_embedded(data)
    find_embedded(b"HTTP/1.1 200 OK\r\nContent-Type: application/mikey\r\n\r\n" + data)


def test_parallel_output_is_identical_to_serial(corpus_pcap):
    def run(*extra):
        return subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--json",
                               "--reveal-keys", *extra, str(corpus_pcap)], cwd=ROOT,
                              capture_output=True, check=True).stdout

    serial = run("--workers", "1")
    assert run("--workers", "2") == serial
    assert len(serial.splitlines()) == 522


# ------------------------------------------------- the per-capture / global split

CAPTURES = ROOT / "captures"


@pytest.mark.parametrize("name", ["lab-interop.pcapng", "lab-download.pcapng",
                                  "mbms-chain-demo.pcap"])
def test_what_crosses_from_the_per_capture_part_pickles(name):
    """Records and candidates are plain data: a cluster can run the per-capture part
    elsewhere and ship them to the global part unchanged."""
    import pickle

    from analyzer.pipeline.session import Session

    found = []
    run = Session(reconstruct=False, on_candidate=found.append, workers=1)
    run.add_captures([CAPTURES / name])
    assert found
    again = pickle.loads(pickle.dumps(found))
    assert again == found
    kinds = {("alc" if c.alc else "http" if c.http else "mikey") for c in found}
    assert kinds & {"alc", "http", "mikey"}


def test_the_timeline_is_the_same_however_often_it_is_asked_for():
    from analyzer.keys.store import load_keys
    from analyzer.output.timeline import timeline
    from analyzer.pipeline.session import Session

    run = Session(load_keys(CAPTURES / "lab-basic.keys.toml"))
    run.add_captures([CAPTURES / "lab-basic.pcapng"])
    first = timeline(run)
    assert any(e["event"] == "last_use" for k in first["keys"] for e in k["events"])
    assert timeline(run) == first
