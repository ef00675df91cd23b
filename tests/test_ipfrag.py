"""IP fragment reassembly (analyzer/net/ipfrag.py): order, overlaps, holes, bounds."""

from __future__ import annotations

import random

from scapy.layers.inet import IP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, fragment6
from scapy.layers.l2 import Ether

from analyzer.capture.reading import Record
from analyzer.net import ipfrag
from analyzer.net.decode import decode_transport
from analyzer.net.ipfrag import Defragmenter, fragment_of

PAYLOAD = bytes(range(256)) * 6


def _records(pieces, start=0.0):
    return [Record(n + 1, start + n * 0.001, 1, bytes(Ether() / p), 0) for n, p in enumerate(pieces)]


def _run(records, defrag=None):
    defrag = defrag or Defragmenter()
    out = []
    for rec in records:
        frag = fragment_of(rec.linktype, rec.data)
        assert frag is not None
        whole = defrag.add(rec, frag)
        if whole is not None:
            out.append(whole)
    return out, defrag


def test_ipv4_any_order_with_duplicates_and_overlaps():
    dgram = IP(src="10.0.0.1", dst="10.0.0.2", id=9) / UDP(sport=1, dport=2269) / PAYLOAD
    pieces = fragment(dgram, fragsize=200)
    overlap = IP(bytes(pieces[1]))
    overlap.frag -= 5  # 40 bytes earlier than it belongs, with the wrong bytes there
    rng = random.Random(3)
    for _ in range(20):
        order = pieces + rng.sample(pieces, 3)  # retransmitted fragments
        rng.shuffle(order)
        out, _ = _run(_records(order + [IP(bytes(overlap))]))  # the liar comes last
        assert len(out) == 1
        tp = decode_transport(1, out[0].data)
        assert tp.payload == PAYLOAD and tp.dport == 2269
    # the liar first: its bytes stay where nothing was yet (first arrival wins)
    defrag = Defragmenter()
    out, defrag = _run(_records([IP(bytes(overlap))] + pieces), defrag)
    got = decode_transport(1, out[0].data).payload
    assert got != PAYLOAD and len(got) == len(PAYLOAD)


def test_ipv6_with_an_extension_header_before_the_fragment_header():
    dgram = IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrHopByHop() / \
        IPv6ExtHdrFragment() / UDP(sport=1, dport=2269) / PAYLOAD
    out, _ = _run(_records(list(reversed(fragment6(dgram, 400)))))
    tp = decode_transport(1, out[0].data)
    assert tp.payload == PAYLOAD and tp.src == "2001:db8::1"


def test_holes_never_complete_and_everything_is_bounded(monkeypatch):
    pieces = fragment(IP(id=1) / UDP() / PAYLOAD, fragsize=200)
    out, defrag = _run(_records(pieces[:2] + pieces[3:]))  # one missing
    assert out == [] and len(defrag._pending) == 1
    late = _records([pieces[2]], start=1000.0)  # after the reassembly timer
    out, defrag = _run(late, defrag)
    assert out == [] and defrag.dropped == 1
    monkeypatch.setattr(ipfrag, "MAX_DATAGRAMS", 8)
    many = [fragment(IP(id=n) / UDP() / PAYLOAD, fragsize=200)[0] for n in range(50)]
    out, defrag = _run(_records(many))
    assert out == [] and len(defrag._pending) <= 8 and defrag.dropped == 42
    huge = IP(bytes(pieces[-1]))
    huge.frag = 8180  # 65,440 bytes in: past the largest datagram
    out, defrag = _run(_records([huge]))
    assert out == [] and not defrag._pending
