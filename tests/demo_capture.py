"""The bundled demo capture ``captures/mikey-demo.pcap``: every way MIKEY is found.

``python -m tests.demo_capture`` rewrites the capture and its golden dissection
(``tests/golden/mikey-demo.dissect.jsonl``); the golden test then guards them.
Contents: the digest's MSK message (UDP 2269) and verification message, MIKEY
on the OMA BCAST port 4359, MIKEY on an unregistered UDP port (heuristic), SDP
``a=key-mgmt:mikey`` in a SIP INVITE, an RTSP ``KeyMgmt`` header, an HTTP body of
type ``application/mikey``, and a truncated message (malformed, with issues).
"""

from __future__ import annotations

import base64
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "captures" / "mikey-demo.pcap"
GOLDEN = ROOT / "tests" / "golden" / "mikey-demo.dissect.jsonl"
CHAIN = ROOT / "captures" / "mbms-chain-demo.pcap"
CHAIN_KEYS = ROOT / "captures" / "mbms-chain-demo.keys.toml"

#: The chain demo's secrets (a lab, not a network): the UE's MUK, the MSK and MTKs.
CHAIN_MUK = bytes.fromhex("8a2b4b624a039804d41c820a84a23e5a477e1ba416431bfcad1613a770afcc31")
CHAIN_MSK = bytes.fromhex("5ac0ffee5ac0ffee5ac0ffee5ac0ffee")
CHAIN_IDI, CHAIN_IDR = b"bmsc.example.org", b"c2VjcmV0cmFuZDE2Ynl0ZQ==@bsf.example.org"
CHAIN_KD, CHAIN_MSK_ID = bytes.fromhex("02f810"), bytes.fromhex("00010002")

#: One small demo capture per lab scenario (captures/lab-NAME.pcapng), with these options.
LAB_DEMOS = {
    "basic": ["--duration", "6"],
    "push": ["--duration", "6"],
    "solicited-pull": ["--duration", "8"],
    "missed-update": ["--duration", "8"],
    "reject": ["--duration", "4"],
    "attacks": ["--duration", "6"],
    "storm": ["--ues", "60"],
    "mixed": ["--duration", "3", "--ues", "2"],
    "download": ["--ues", "2"],
    "interop": ["--duration", "8"],
    # the download with this lab's first conventions: MTKs on UDP, the FDT as plain XML
    # (what tshark's FDT dissection is compared with, tests/test_conformance_alc.py)
    "download-legacy": ["--ues", "2", "--conventions", "legacy"],
}


def demo_packets():
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether

    from tests.corpus import (
        DIGEST_MSK_MESSAGE,
        DIGEST_VERIFICATION_MESSAGE,
        generated_message,
    )

    rng = random.Random(33246)
    classic = [generated_message(i, rng, classic=True) for i in range(4)]
    b64 = base64.b64encode(classic[1]).decode()
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    bmsc, ue = "10.0.0.1", "10.0.0.7"
    sdp = (f"v=0\r\no=- 1 1 IN IP4 {bmsc}\r\ns=MBMS\r\nc=IN IP4 232.0.0.1\r\nt=0 0\r\n"
           f"a=key-mgmt:mikey {b64}\r\nm=video 10000 RTP/SAVP 96\r\n")
    sip = (f"INVITE sip:ue@{ue} SIP/2.0\r\nContent-Type: application/sdp\r\n"
           f"Content-Length: {len(sdp)}\r\n\r\n{sdp}")
    rtsp = (f"RTSP/1.0 200 OK\r\nCSeq: 2\r\nKeyMgmt: prot=mikey; uri=\"rtsp://{bmsc}/tv\"; "
            f"data=\"{base64.b64encode(classic[2]).decode()}\"\r\n\r\n")
    http_body = classic[3]
    http = (f"POST /keys HTTP/1.1\r\nHost: bmsc.example.org\r\nContent-Type: application/mikey\r\n"
            f"Content-Length: {len(http_body)}\r\n\r\n").encode() + http_body
    pkts = [
        eth / IP(src=bmsc, dst=ue) / UDP(sport=2269, dport=2269) / DIGEST_MSK_MESSAGE,
        eth / IP(src=ue, dst=bmsc) / UDP(sport=2269, dport=2269) / DIGEST_VERIFICATION_MESSAGE,
        eth / IP(src=bmsc, dst="232.0.0.1") / UDP(sport=4359, dport=4359) / classic[0],
        eth / IP(src=bmsc, dst=ue) / UDP(sport=40000, dport=5000) / DIGEST_MSK_MESSAGE,
        eth / IP(src=bmsc, dst=ue) / UDP(sport=5060, dport=5060) / sip.encode(),
        eth / IP(src=bmsc, dst=ue) / TCP(sport=554, dport=50000, flags="PA", seq=1) / rtsp.encode(),
        eth / IP(src=ue, dst=bmsc) / TCP(sport=50001, dport=8080, flags="PA", seq=1) / http,
        eth / IP(src=bmsc, dst=ue) / UDP(sport=2269, dport=2269) / DIGEST_MSK_MESSAGE[:100],
        eth / IP(src=bmsc, dst=ue) / UDP(sport=40000, dport=5004) / bytes(range(64)),
    ]
    for n, pkt in enumerate(pkts):
        pkt.time = 1_700_000_000 + n * 0.25
    return pkts


def chain_packets():
    """MUK -> MSK -> MTK -> SRTP: an MSK message and its ack, two MTK messages, SRTP/SRTCP.

    Only the MUK is needed to decrypt everything (``captures/mbms-chain-demo.keys.toml``).
    """
    import struct

    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    from analyzer.crypto.srtp import SUITES, SrtpContext
    from analyzer.lab.mikey_build import key_ids_ext, psk_message, verification_message
    from dissectors.mikey import MIKEY_KeyData

    rng = random.Random(246)
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    bmsc, ue, group = "10.0.0.1", "10.0.0.7", "232.1.1.1"
    rand = rng.randbytes(16)
    msk_key = MIKEY_KeyData(next_payload=0, key_type=0, kv=2, key_data=CHAIN_MSK,
                            valid_from=b"\x00\x01", valid_to=b"\x00\x02")
    csb = int.from_bytes(CHAIN_MSK_ID, "big")
    pkts = [
        eth / IP(src=bmsc, dst=ue) / UDP(sport=2269, dport=2269) / psk_message(
            CHAIN_MUK, csb, rand, 7, [msk_key], key_ids_ext(CHAIN_KD, CHAIN_MSK_ID),
            CHAIN_IDI, CHAIN_IDR, v=1),
        eth / IP(src=ue, dst=bmsc) / UDP(sport=2269, dport=2269) / verification_message(
            CHAIN_MUK, csb, rand, 7, CHAIN_IDI, CHAIN_IDR),
    ]
    seq = 1000
    for counter, mtk_id in ((1, 1), (2, 2)):
        mtk, salt = rng.randbytes(16), rng.randbytes(14)
        mtk_key = MIKEY_KeyData(next_payload=0, key_type=3, kv=0, key_data=mtk, salt=salt)
        mtk_id_b = struct.pack("!H", mtk_id)
        pkts.append(eth / IP(src=bmsc, dst=group) / UDP(sport=2269, dport=2269) / psk_message(
            CHAIN_MSK, csb, rng.randbytes(16), counter, [mtk_key],
            key_ids_ext(CHAIN_KD, CHAIN_MSK_ID, mtk_id_b)))
        ctx = SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"], mtk, salt, mki=CHAIN_MSK_ID + mtk_id_b)
        for n in range(6):
            rtp = struct.pack("!BBHII", 0x80, 96, seq, seq * 3000, 0x4D424D53) + rng.randbytes(120)
            pkts.append(eth / IP(src=bmsc, dst=group) / UDP(sport=5004, dport=5004)
                        / ctx.protect(rtp, 12))
            seq += 1
        sr = struct.pack("!BBHI", 0x80, 200, 6, 0x4D424D53) + rng.randbytes(20)
        pkts.append(eth / IP(src=bmsc, dst=group) / UDP(sport=5005, dport=5005)
                    / ctx.protect_rtcp(sr, mtk_id))
    for n, pkt in enumerate(pkts):
        pkt.time = 1_700_000_100 + n * 0.02
    return pkts


def main() -> None:
    from scapy.utils import wrpcap

    DEMO.parent.mkdir(exist_ok=True)
    wrpcap(str(DEMO), demo_packets())
    out = subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--json", str(DEMO)],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    GOLDEN.write_text(out.replace(str(DEMO), "captures/mikey-demo.pcap"))  # rewritten below
    wrpcap(str(CHAIN), chain_packets())
    CHAIN_KEYS.write_text(
        "# MUK of the UE in captures/mbms-chain-demo.pcap: everything else is learned from MIKEY\n"
        "[[muk]]\n"
        f'idr = "{CHAIN_IDR.decode()}"\n'
        f'idi = "{CHAIN_IDI.decode()}"\n'
        f'key = "{CHAIN_MUK.hex()}"\n')
    for name, extra in LAB_DEMOS.items():
        capture = ROOT / "captures" / f"lab-{name}.pcapng"
        scenario = name.removesuffix("-legacy")
        subprocess.run([sys.executable, "-m", "analyzer", "lab", "--scenario", scenario,
                        "--seed", "7", "-o", str(capture), "--keys-out",
                        str(capture.with_suffix(".keys.toml")), *extra], check=True,
                       capture_output=True, cwd=ROOT)
    for keys in sorted((ROOT / "captures").glob("*.keys.toml")):
        _mark_public(keys)
    for capture in sorted((ROOT / "captures").glob("*.pcap*")):
        keys = capture.with_suffix(".keys.toml")
        runs = [(f"{capture.stem}.dissect.jsonl", [])]
        if keys.is_file():
            runs.append((f"{capture.stem}.dissect-keys.jsonl", ["--keys", str(keys)]))
        for name, extra in runs:
            out = subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--json", *extra,
                                  str(capture.relative_to(ROOT))], capture_output=True, text=True,
                                 check=True, cwd=ROOT).stdout
            (GOLDEN.parent / name).write_text(out)
        if keys.is_file():
            subprocess.run([sys.executable, "-m", "analyzer", "export",
                            str(capture.relative_to(ROOT)), "--keys",
                            str(keys.relative_to(ROOT)), "--reveal-keys", "-o",
                            str(GOLDEN.parent / f"{capture.stem}.timeline.json")],
                           check=True, capture_output=True, cwd=ROOT)
        if keys.is_file() and capture.stem == "lab-download":
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run([sys.executable, "-m", "analyzer", "extract",
                                str(capture.relative_to(ROOT)), "--keys",
                                str(keys.relative_to(ROOT)), "-o", tmp],
                               check=True, capture_output=True, cwd=ROOT)
                (GOLDEN.parent / f"{capture.stem}.extract.json").write_text(
                    (Path(tmp) / "index.json").read_text())


PUBLIC = ("# published demo material: checked out world-readable, so no permission warning\n"
          "[settings]\npublic = true\n\n")


def _mark_public(keys: Path) -> None:
    """Bundled key files are test material anyone may read (issue #9's warning is for
    real keys)."""
    text = keys.read_text()
    if not text.startswith(PUBLIC):
        keys.write_text(PUBLIC + text)


if __name__ == "__main__":
    main()
