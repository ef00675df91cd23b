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


def demo_packets():
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether

    from tests.corpus import DIGEST_MSK_MESSAGE, DIGEST_VERIFICATION_MESSAGE, generated_message

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


def main() -> None:
    from scapy.utils import wrpcap

    DEMO.parent.mkdir(exist_ok=True)
    wrpcap(str(DEMO), demo_packets())
    out = subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--json", str(DEMO)],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    GOLDEN.write_text(out.replace(str(DEMO), "captures/mikey-demo.pcap"))


if __name__ == "__main__":
    main()
