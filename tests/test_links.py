"""Issue #9: the same traffic in every link type and tunnel gives the same timeline.

The lab's plain-Ethernet capture is rewritten record by record into 802.1Q, QinQ,
Linux cooked v1 and v2, raw IP, BSD loopback, GTP-U (with and without an extension
header) and IPv6 (addresses mapped); each is checked by tshark (it finds the same
MIKEY messages) and exported: keys, procedures and findings are those of the
original, and so are the packet counts and times.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import struct
import subprocess
import sys

import pytest
from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw

from analyzer.capture.reading import read_capture
from analyzer.keys.store import load_keys
from analyzer.output.timeline import timeline
from analyzer.pipeline.session import Session
from tests.conftest import CAPTURES, ROOT

SOURCE = CAPTURES / "lab-basic.pcapng"


def _v6(addr: str) -> str:
    return str(ipaddress.IPv6Address(b"\x20\x01\x0d\xb8" + bytes(8) + ipaddress.IPv4Address(addr).packed))


def _to_v6(ip: bytes) -> bytes:
    pkt = IP(ip)
    l4 = bytes(pkt.payload)
    return bytes(IPv6(src=_v6(pkt.src), dst=_v6(pkt.dst), nh=pkt.proto, hlim=pkt.ttl) / Raw(l4))


def _gtp(ip: bytes, ext: bool) -> bytes:
    gtp = GTP_U_Header(teid=0x1234, gtp_type=255, E=1, next_ex=0x85) / GTPPDUSessionContainer(QFI=9) if ext \
        else GTP_U_Header(teid=0x1234, gtp_type=255)
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                 IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=2152, dport=2152) / gtp / Raw(ip))


VARIANTS = {
    "vlan": (1, lambda ip: bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                                 Dot1Q(vlan=100, type=0x0800) / Raw(ip))),
    "qinq": (1, lambda ip: bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02",
                                       type=0x88A8) / Dot1Q(vlan=10, type=0x8100) /
                                 Dot1Q(vlan=20, type=0x0800) / Raw(ip))),
    "sll": (113, lambda ip: struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 6 + b"\0\0", 0x0800) + ip),
    "sll2": (276, lambda ip: struct.pack("!HHIHBB8s", 0x0800, 0, 1, 1, 0, 6, b"\x02" * 6 + b"\0\0")
             + ip),
    "raw": (101, lambda ip: ip),
    "null": (0, lambda ip: struct.pack("<I", 2) + ip),
    "gtpu": (1, lambda ip: _gtp(ip, False)),
    "gtpu-ext": (1, lambda ip: _gtp(ip, True)),
    "ipv6": (1, lambda ip: bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02",
                                       type=0x86DD) / Raw(_to_v6(ip)))),
}


def _write_pcap(path, linktype: int, records) -> None:
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, linktype))
        for rec, data in records:
            sec = int(rec.time)
            nsec = round((rec.time - sec) * 1e9)
            if nsec >= 10**9:
                sec, nsec = sec + 1, nsec - 10**9
            fh.write(struct.pack("<IIII", sec, nsec, len(data), len(data)) + data)


def _timeline(path) -> dict:
    run = Session(load_keys(SOURCE.with_suffix(".keys.toml")))
    assert run.add_captures([path]) == []
    doc = timeline(run)
    for cap in doc["captures"]:
        cap.pop("file")
    return doc


def _mikey_frames(path) -> int:
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "mikey", "-T", "fields", "-e",
                          "frame.number"], capture_output=True, text=True, check=True).stdout
    return len(out.split())


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    records = [(r, r.data) for r in read_capture(SOURCE)]
    assert all(r.linktype == 1 and data[12:14] == b"\x08\x00" for r, data in records)
    path = tmp_path_factory.mktemp("links") / "plain.pcap"
    _write_pcap(path, 1, records)
    return records, path, _timeline(path)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_link_type_and_tunnel_gives_the_same_timeline(name, original, tmp_path):
    records, plain, want = original
    linktype, wrap = VARIANTS[name]
    path = tmp_path / f"{name}.pcap"
    _write_pcap(path, linktype, [(r, wrap(data[14:])) for r, data in records])
    if shutil.which("tshark"):
        assert _mikey_frames(path) == _mikey_frames(plain) > 5  # tshark reads it the same
    got = _timeline(path)
    if name == "ipv6":  # the same traffic, with IPv6 addresses
        text = json.dumps(want)
        for addr in sorted({a for r, d in records for a in (IP(d[14:]).src, IP(d[14:]).dst)},
                           key=len, reverse=True):
            text = text.replace(f'"{addr}"', f'"{_v6(addr)}"').replace(
                f'"{addr}:', f'"[{_v6(addr)}]:')
        want = json.loads(text)
    assert got == want


def _frag_records(records, size: int):
    """Every IPv4 packet longer than *size* bytes cut into fragments (their order
    within a datagram reversed, as some stacks send them)."""
    from scapy.layers.inet import fragment

    out = []
    for rec, data in records:
        ip = IP(data[14:])
        if len(data) - 14 <= size:
            out.append((rec, data))
            continue
        pieces = fragment(ip, fragsize=(size - 20) // 8 * 8)
        for piece in reversed(pieces):
            out.append((rec, bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                                   piece)))
    return out


def _shape(doc: dict) -> dict:
    """A timeline without frame numbers and packet counts (fragmenting changes both)."""
    return {
        "keys": sorted((k["kind"], k["key_domain"], k["msk_id"], k["mtk_id"], k["state"],
                        tuple((e["event"], e["ue"], round(e["time"], 6)) for e in k["events"]))
                       for k in doc["keys"]),
        "procedures": sorted((p["procedure"], p["ue"], p["outcome"], round(p["start"], 6))
                             for p in doc["procedures"]),
        "findings": sorted((f["code"], round(f["time"], 6)) for f in doc["findings"]),
        "ues": doc["ues"],
    }


def test_fragmented_mikey_and_http_give_the_same_timeline(original, tmp_path):
    records, plain, want = original
    frag = _frag_records(records, 120)
    path = tmp_path / "fragments.pcap"
    _write_pcap(path, 1, frag)
    assert len(frag) > len(records) + 50
    if shutil.which("tshark"):
        assert _mikey_frames(path) == _mikey_frames(plain)  # tshark reassembles them too
    assert _shape(_timeline(path)) == _shape(want)


def _block(btype: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + bytes(-len(value) % 4)


def test_pcapng_interfaces_comments_unknown_blocks_and_secrets(original, tmp_path):
    """Two interfaces (Ethernet in µs, raw IP in ns), comments, a custom block and a
    Decryption Secrets Block: read as the plain capture; the secrets never shown."""
    records, plain, want = original
    secret = b"CLIENT_RANDOM 00112233 5ec2e75ec2e75ec2e7"
    out = [_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) +
                  _option(1, b"written by tests/test_links.py") + _option(0, b"")),
           _block(1, struct.pack("<HHI", 1, 0, 65535) + _option(9, b"\x06") + _option(0, b"")),
           _block(1, struct.pack("<HHI", 101, 0, 65535) + _option(9, b"\x09") + _option(0, b"")),
           _block(0x0000000A, struct.pack("<II", 0x544C534B, len(secret)) + secret),
           _block(0x00000BAD, b"an unknown block type, to be skipped"),
           _block(0x40000BAD, b"a custom block")]
    for n, (rec, data) in enumerate(records):
        iface = n % 2
        ts = round(rec.time * (1e6 if iface == 0 else 1e9))
        frame = data if iface == 0 else data[14:]
        opts = _option(1, f"comment on frame {n + 1}".encode()) + _option(0, b"") if n % 7 == 0 else b""
        out.append(_block(6, struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(frame),
                                         len(frame)) + frame + bytes(-len(frame) % 4) + opts))
    path = tmp_path / "rich.pcapng"
    path.write_bytes(b"".join(out))
    if shutil.which("tshark"):
        assert _mikey_frames(path) == _mikey_frames(plain)
    got = _timeline(path)
    assert _shape(got) == _shape(want) and got["captures"][0]["packets"] == len(records)
    for command in (["dissect", "--json"], ["dissect"]):
        shown = subprocess.run([sys.executable, "-m", "analyzer", *command, str(path)],
                               capture_output=True, text=True, cwd=ROOT)
        assert shown.returncode == 0 and shown.stdout
        assert "5ec2e7" not in shown.stdout + shown.stderr and "CLIENT_RANDOM" not in shown.stdout


def test_an_m1_tap_gives_the_same_timeline(original, tmp_path):
    """The traffic as an M1 tap sees it (issue #19): every IP packet in a SYNC type 1 PDU
    (TS 25.446, both CRCs) in GTP-U, type 0 PDUs closing each synchronisation sequence.
    tshark (told that GTP-U carries SYNC) finds the same MIKEY messages inside
    gtp:sync; the timeline is the original's (frame numbers move: type 0 PDUs come
    between)."""
    from analyzer.capture.reading import Record
    from analyzer.lab.m1 import m1_frames
    from analyzer.lab.world import Frame
    from analyzer.net.sync import crc6, crc10, sync_pdu

    records, plain, want = original
    frames = m1_frames([Frame(r.time, data) for r, data in records])
    types = [sync_pdu(f.data, 42 + 8, len(f.data)) for f in frames]
    assert all(t is not None for t in types)
    assert sum(t[0] == 1 for t in types) == len(records)
    assert sum(t[0] == 0 for t in types) >= 10
    for f, (kind, inner) in zip(frames, types):  # both CRCs as TS 25.446 places them
        pdu = f.data[50:]
        if kind == 1:
            word = struct.unpack_from("!H", pdu, 9)[0]
            assert word >> 10 == crc6(pdu[:9]) and word & 0x3FF == crc10(pdu[11:])
        else:
            assert pdu[17] >> 2 == crc6(pdu[:17])
    path = tmp_path / "m1.pcap"
    _write_pcap(path, 1, [(Record(n, f.time, 1, f.data, len(f.data)), f.data)
                          for n, f in enumerate(frames, 1)])
    if shutil.which("tshark"):
        out = subprocess.run(["tshark", "-n", "-r", str(path), "-o", "gtp.dissect_tpdu_as:sync",
                              "-Y", "mikey", "-T", "fields", "-e", "frame.protocols"],
                             capture_output=True, text=True, check=True).stdout.split()
        assert out and all(":gtp:sync:ip:udp:mikey" in p for p in out)  # the setting took
        assert len(out) == _mikey_frames(plain)
    assert _shape(_timeline(path)) == _shape(want)
    # the type 0 PDUs are recognised (the packet list's summary, tshark's field names)
    from analyzer.views.frame import summarize_frame

    zero = next(f for f, (kind, _i) in zip(frames, types) if kind == 0)
    pkt, _spans = summarize_frame(0, 1, zero.time, 1, zero.data)
    fields = dict(pkt.fields())
    assert pkt.protocol.lower() == "sync" and fields["sync.type"] == 0
    assert fields["sync.total_nr_of_packet"] >= fields["sync.packet_nr"] > 0
