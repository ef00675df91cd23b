"""BM-SC key requests over real TCP: reassembly, XML bodies, digest, hostile input.

The live tests run a small HTTP server (Python's ``http.server``) and client
(``urllib`` with its own digest handler: an independent digest implementation)
on 127.0.0.1 with a small MSS, capture them with dumpcap on ``lo``, then also
cut the captured segments smaller, reorder and duplicate them.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from analyzer.capture.reading import Record, read_capture
from analyzer.net.decode import decode_transport
from analyzer.net.http_flow import HttpTracker
from analyzer.pipeline.build import build
from analyzer.pipeline.find import candidates
from dissectors.bmsc import parse_body
from tests import livecap
from tests.conftest import ROOT

REALM = "3GPP-bootstrapping@bmsc.example.org"
BTID = "Y2Vyb2Vyb2Vyb2Vyb2Vy@bsf.example.org"
PASSWORD = "bWFkZSB1cCBrc19uYWYga2V5"
KEYS = [(bytes.fromhex("02f810"), (0x00010000 + n).to_bytes(4, "big")) for n in range(120)]
REQUEST = ("<?xml version='1.0' encoding='UTF-8'?>\n<mbmsMSKRequest>\n" + "".join(
    f"  <MSK><keyDomainID>{kd.hex()}</keyDomainID><MSKID>{msk.hex()}</MSKID></MSK>\n"
    for kd, msk in KEYS) + "</mbmsMSKRequest>\n").encode()
RESPONSE = ("<?xml version='1.0'?>\n<mbmsMSKResponse xmlns='urn:3GPP:metadata:2005:MBMS:"
            "mskResponse'>\n" + "".join(
                f"  <MSKResponse keyDomainID='{kd.hex()}' MSKID='{msk.hex()}'>"
                f"<status>{200 if n % 7 else 404}</status></MSKResponse>\n"
                for n, (kd, msk) in enumerate(KEYS)) + "</mbmsMSKResponse>\n").encode()
MSS = 536

# Under CI=true (root, tshark installed by .ci/run) these must run, not skip.
needs_capture = pytest.mark.skipif(not livecap.available() and os.environ.get("CI") != "true",
                                   reason="live capture needs root and dumpcap")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.bodies.append(body)
        if "Authorization" not in self.headers:
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Digest realm="{REALM}", nonce="bm9uY2Ux", '
                                                 'qop="auth", algorithm=MD5, opaque="b3BhcXVl"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/mbms-msk-response+xml")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Authentication-Info", 'qop=auth, rspauth="0123456789abcdef"')
        self.end_headers()
        for start in range(0, len(RESPONSE), 700):
            piece = RESPONSE[start:start + 700]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, MSS)
        super().server_bind()


class _SmallMssConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, MSS)
        self.sock.connect((self.host, self.port))


class _SmallMssHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_SmallMssConnection, req)


@pytest.fixture(scope="module")
def live_capture(tmp_path_factory) -> tuple[Path, list[bytes]]:
    """A capture of: POST (401 digest challenge), POST with digest (chunked 200)."""
    if not livecap.available() and os.environ.get("CI") != "true":
        pytest.skip("live capture needs root and dumpcap")
    server = _Server(("127.0.0.1", 0), _Handler)
    server.bodies = []
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    pcap = tmp_path_factory.mktemp("live") / "bmsc.pcap"
    try:
        with livecap.capture_loopback(pcap, f"tcp port {port}"):
            auth = urllib.request.HTTPDigestAuthHandler()
            auth.add_password(REALM, f"http://127.0.0.1:{port}/", BTID, PASSWORD)
            opener = urllib.request.build_opener(_SmallMssHandler, auth)
            req = urllib.request.Request(f"http://127.0.0.1:{port}/keymanagement?requesttype=msk",
                                         data=REQUEST, headers={
                                             "Content-Type": "application/mbms-msk+xml",
                                             "User-Agent": "mbms-test; Release-6 3gpp-gba"})
            with opener.open(req, timeout=10) as resp:
                assert resp.read() == RESPONSE
    finally:
        server.shutdown()
        server.server_close()
    return pcap, list(server.bodies)


def _messages(records):
    tracker = HttpTracker()
    msgs = []
    last = (0, 0)
    for rec in records:
        tp = decode_transport(rec.linktype, rec.data)
        if tp is not None and tp.proto == "tcp":
            last = (0, rec.number)
            msgs.extend(e.message for e in tracker.segment(tp, last, rec.time)[1])
    msgs.extend(e.message for e in tracker.finish(last, 0.0))
    return [m for m in msgs if m.method or m.status]


def _check_exchange(msgs, bodies):
    requests = [m for m in msgs if m.is_request]
    responses = [m for m in msgs if not m.is_request]
    assert [m.body for m in requests] == bodies == [REQUEST, REQUEST]
    assert [m.status for m in responses] == [401, 200]
    assert responses[1].body == RESPONSE and responses[1].complete
    assert all(m.complete and not m.issues for m in msgs)


@needs_capture
def test_live_exchange_reassembles_whole(live_capture):
    pcap, bodies = live_capture
    records = list(read_capture(pcap))
    client_data = [r for r in records if decode_transport(r.linktype, r.data).payload
                   and decode_transport(r.linktype, r.data).dport != 0
                   and b"HTTP/1.1 " not in r.data[:120]]
    # the bodies really were split (loopback segmentation offload merges some MSS-sized pieces)
    assert len(client_data) >= 6
    _check_exchange(_messages(records), bodies)


@needs_capture
def test_resegmented_reordered_and_retransmitted_stream_comes_out_whole(live_capture):
    pcap, bodies = live_capture
    rng = random.Random(793)
    frames = []
    for rec in read_capture(pcap):
        pkt = Ether(rec.data)
        payload = bytes(pkt[TCP].payload) if pkt.haslayer(TCP) else b""
        if not payload:
            frames.append(rec.data)
            continue
        seq = pkt[TCP].seq
        pieces = []
        for start in range(0, len(payload), 97):  # cut into 97-byte segments
            seg = pkt.copy()
            seg[TCP].remove_payload()
            seg[TCP].seq = (seq + start) % (1 << 32)
            seg[TCP].flags = "A" if start + 97 < len(payload) else pkt[TCP].flags
            del seg[IP].len, seg[IP].chksum, seg[TCP].chksum
            pieces.append(bytes(seg / payload[start:start + 97]))
        rng.shuffle(pieces)  # out of order
        pieces += rng.sample(pieces, k=max(1, len(pieces) // 4))  # retransmissions
        overlap = pkt.copy()  # one segment overlapping two others
        overlap[TCP].remove_payload()
        overlap[TCP].seq = (seq + 50) % (1 << 32)
        overlap[TCP].flags = "A"
        del overlap[IP].len, overlap[IP].chksum, overlap[TCP].chksum
        pieces.append(bytes(overlap / payload[50:250]))
        frames.extend(pieces)
    records = [Record(n + 1, 1_700_000_000 + n / 1000, 1, f, len(f)) for n, f in enumerate(frames)]
    _check_exchange(_messages(records), bodies)


@needs_capture
def test_dissect_shows_keys_statuses_and_verifies_digest(live_capture, tmp_path):
    pcap, _ = live_capture
    keys = tmp_path / "keys.toml"
    for password, verdict in ((PASSWORD, "good"), ("wrong", "bad")):
        keys.write_text(f'[[digest]]\nbtid = "{BTID}"\npassword = "{password}"\n')
        out = subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--json", "--keys",
                              str(keys), str(pcap)], capture_output=True, text=True, cwd=ROOT,
                             check=True).stdout
        objs = [json.loads(line) for line in out.splitlines()]
        assert [o["protocol"] for o in objs] == ["bmsc"] * 4
        retry = dict((k, v) for k, v in objs[2]["fields"])
        assert retry["bmsc.btid"] == BTID and retry["bmsc.digest.verified"] == verdict
        requested = [v for k, v in objs[2]["fields"] if k == "bmsc.key.msk_id"]
        assert requested == [msk.hex() for _, msk in KEYS]
        assert dict(objs[1]["fields"])["bmsc.digest.challenge.realm"] == REALM
        statuses = [v for k, v in objs[3]["fields"] if k == "bmsc.key.status"]
        assert statuses == [200 if n % 7 else 404 for n in range(len(KEYS))]
        assert ("bmsc.digest_bad" in {e["code"] for e in objs[2]["errors"]}) == (verdict == "bad")


# ---------------------------------------------------------------- hostile input

def _conversation(requests: list[bytes], dport: int = 8080) -> list[Record]:
    """Client -> server TCP segments (SYN, data in 1000-byte pieces, FIN) as records."""
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    ip = IP(src="10.0.0.7", dst="10.0.0.1")
    seq = 1000
    frames = [eth / ip / TCP(sport=40000, dport=dport, flags="S", seq=seq)]
    seq += 1
    for data in requests:
        for start in range(0, len(data), 1000):
            piece = data[start:start + 1000]
            frames.append(eth / ip / TCP(sport=40000, dport=dport, flags="PA", seq=seq) / piece)
            seq += len(piece)
    frames.append(eth / ip / TCP(sport=40000, dport=dport, flags="FA", seq=seq))
    return [Record(n + 1, 1_700_000_000.0 + n, 1, bytes(f), len(bytes(f)))
            for n, f in enumerate(frames)]


def _post(body: bytes, ctype: str = "application/mbms-msk+xml", length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return (f"POST /keymanagement HTTP/1.1\r\nHost: bmsc\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {n}\r\n\r\n").encode() + body


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10 if i > 1
                                                        else b"&lol;" * 10) for i in range(1, 10))
                  + b"]><lolz>&lol9;</lolz>")
EXTERNAL = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'


@pytest.mark.parametrize("name, stream, code", [
    ("billion laughs", _post(BILLION_LAUGHS), "bmsc.xml_refused"),
    ("external entity", _post(EXTERNAL), "bmsc.xml_refused"),
    ("100 MB Content-Length, short body", _post(b"<a/>" * 100, length=100_000_000),
     "http.incomplete"),
    ("random bytes on port 80", random.Random(80).randbytes(5000), "http.incomplete"),
])
def test_hostile_input_is_a_finding_in_bounded_time_and_memory(name, stream, code):
    records = _conversation([stream], dport=80 if "random" in name else 8080)
    tracemalloc.start()
    start = time.perf_counter()
    out = [build(c) for c in candidates(records)]
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 2.0 and peak < 20 * 1024 * 1024, (elapsed, peak)
    codes = {e.code for pkt in out for e in pkt.errors}
    assert code in codes, (name, codes)


def test_gap_in_the_stream_is_reported_and_the_rest_kept():
    first = _post(REQUEST)
    second = _post(REQUEST)
    records = _conversation([first, second])
    del records[3]  # a data segment of the first request is lost
    out = [build(c) for c in candidates(records)]
    codes = [e.code for pkt in out for e in pkt.errors]
    assert "tcp.missing_segment" in codes
    whole = [p for p in out if p.protocol == "bmsc" and not p.errors]
    assert len(whole) == 1  # the second request survives whole
    assert [v for k, v in whole[0].fields() if k == "bmsc.key.msk_id"] == [m.hex() for _, m in KEYS]


def test_pipelined_keepalive_requests_and_head_response():
    from dissectors.http import HttpStream
    client = HttpStream(False)
    msgs = client.feed(_post(b"<a/>") + _post(b"<b/>") + b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
                       (0, 1), 0.0)
    assert [m.method for m in msgs] == ["POST", "POST", "HEAD"]
    server = HttpStream(True)
    server.pending_methods = ["POST", "POST", "HEAD"]
    resp = (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n")
    out = server.feed(resp, (0, 2), 0.0)
    assert [(m.status, m.body) for m in out] == [(200, b"ok"), (100, b""), (200, b"ok"), (200, b"")]


def test_digest_against_rfc7616_example():
    """RFC 7616 §3.9.1 (SHA-256, qop=auth): the documented response value."""
    from dissectors.digest import parse_params, verify
    creds = parse_params('Digest username="Mufasa", realm="http-auth@example.org", '
                         'uri="/dir/index.html", algorithm=SHA-256, '
                         'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, '
                         'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, '
                         'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", '
                         'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"')
    assert verify(creds, "Circle of Life", "GET") is True
    assert verify(creds, "circle of life", "GET") is False
    md5 = parse_params('Digest username="Mufasa", realm="http-auth@example.org", '
                       'uri="/dir/index.html", algorithm=MD5, '
                       'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, '
                       'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, '
                       'response="8ca523f5e9506fed4657c9700eebdbec", '
                       'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"')
    assert verify(md5, "Circle of Life", "GET") is True


def test_stale_challenge_is_recognised():
    from dissectors.digest import parse_params
    challenge = parse_params('Digest realm="3GPP-bootstrapping@bmsc", nonce="abc", stale=TRUE, '
                             'qop="auth,auth-int"')
    assert challenge.stale and challenge.get("qop") == "auth,auth-int"


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_VALID = (_post(REQUEST[:900]) + b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
          + b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n")


@settings(max_examples=500, deadline=None, database=None)
@given(st.lists(st.integers(1, 400), max_size=30))
def test_any_segmentation_gives_the_same_messages(cuts):
    from dissectors.http import HttpStream
    whole = HttpStream(False).feed(_VALID, (0, 1), 0.0)
    stream, pos, got = HttpStream(False), 0, []
    for n, cut in enumerate(cuts):
        got += stream.feed(_VALID[pos:pos + cut], (0, n), 0.0)
        pos += cut
    got += stream.feed(_VALID[pos:], (0, 99), 0.0)
    assert [(m.method, m.uri, m.body) for m in got] == [(m.method, m.uri, m.body) for m in whole]
    assert [m.body for m in whole] == [REQUEST[:900], b"", b"abcd"]


@settings(max_examples=1500, deadline=None, database=None)
@given(st.binary(max_size=3000), st.booleans(), st.integers(1, 500))
def test_random_streams_never_raise(data, responses, step):
    from dissectors.http import HttpStream
    stream = HttpStream(responses)
    for start in range(0, len(data), step):
        stream.feed(data[start:start + step], (0, start), 0.0)
    stream.gap(10, (0, 1), 0.0)
    stream.feed(b"HTTP/1.1 200 OK\r\n\r\n" if responses else b"GET / HTTP/1.1\r\n\r\n", (0, 2), 0.0)
    stream.close((0, 3), 0.0)


# ---------------------------------------------------------------- TS 26.346 §11 as written

SPEC_REQUEST = b"""<?xml version="1.0" encoding="UTF-8"?>
<mbmsMSKRequest xmlns="urn:3GPP:metadata:2005:MBMS:mskRequest">
  <MSK><keyDomainID>uHCd</keyDomainID><MSKID>aMkAAA==</MSKID></MSK>
  <MSK><keyDomainID>uHCd</keyDomainID><MSKID>aMkAAQ==</MSKID></MSK>
</mbmsMSKRequest>"""
SPEC_RESPONSE = b"""<?xml version="1.0" encoding="UTF-8"?>
<mbmsMSKResponse xmlns="urn:3GPP:metadata:2005:MBMS:mskResponse">
  <Response><MSK><keyDomainID>uHCd</keyDomainID><MSKID>aMkAAA==</MSKID></MSK>
    <ResponseCode>200 OK</ResponseCode></Response>
  <Response><MSK><keyDomainID>uHCd</keyDomainID><MSKID>aMkAAQ==</MSKID></MSK>
    <ResponseCode>403 Forbidden</ResponseCode></Response>
</mbmsMSKResponse>"""
HEX_RESPONSE = b"""<mskResponse><keyDomainID>b8709d</keyDomainID>
  <mskStatus><MSKID>68c90000</MSKID><statusCode>200</statusCode></mskStatus>
  <mskStatus><MSKID>68c90001</MSKID><statusCode>403</statusCode></mskStatus></mskResponse>"""


def test_ts26346_bodies_with_base64_ids_read_as_the_hex_dialects_do():
    """TS 26.346 §11.6/§11.8: the examples' keyDomainID uHCd = b8709d, MSKID aMkAAA== =
    68c90000; ResponseCode is a string like '200 OK'. The reference capture set's hex
    dialect (mskStatus/statusCode) gives the same keys and statuses."""
    request = parse_body("application/mbms-msk+xml", SPEC_REQUEST)
    assert [(k.key_domain.hex(), k.msk_id.hex(), k.status) for k in request.keys] == \
        [("b8709d", "68c90000", None), ("b8709d", "68c90001", None)]
    spec = parse_body("application/mbms-msk-response+xml", SPEC_RESPONSE)
    dialect = parse_body("application/mbms-msk-response+xml", HEX_RESPONSE)
    want = [("b8709d", "68c90000", 200), ("b8709d", "68c90001", 403)]
    assert [(k.key_domain.hex(), k.msk_id.hex(), k.status) for k in spec.keys] == want
    assert [(k.key_domain.hex(), k.msk_id.hex(), k.status) for k in dialect.keys] == want
    register = parse_body("application/mbms-register-response+xml", b"""
<mbmsSecurityRegisterResponse xmlns="urn:3GPP:metadata:2005:MBMS:securityRegistrationResponse">
  <Response><serviceID>urn:a</serviceID><ResponseCode>200 OK</ResponseCode></Response>
  <Response><serviceID>urn:b</serviceID><ResponseCode>403 Forbidden</ResponseCode></Response>
</mbmsSecurityRegisterResponse>""")
    assert register.service_ids == ["urn:a", "urn:b"]
    assert [(sid, code) for sid, code, _ in register.statuses] == [("urn:a", 200),
                                                                    ("urn:b", 403)]


def test_auth_int_digests_verify_and_a_gba_only_key_file_verifies_them(tmp_path):
    """The lab speaks H.2.1: qop auth-int over the body, password base64(MRK). A key file
    with only the UEs' GBA inputs (no [[digest]]) derives the MRK (Annex F) and verifies."""
    capture, keys = tmp_path / "basic.pcapng", tmp_path / "basic.keys.toml"
    subprocess.run([sys.executable, "-m", "analyzer", "lab", "--scenario", "basic", "--duration",
                    "1", "-o", str(capture), "--keys-out", str(keys)], check=True, cwd=ROOT,
                   capture_output=True)
    truth = json.loads(keys.with_suffix(".truth.json").read_text())
    gba = tmp_path / "gba.toml"
    gba.write_text("".join(
        f'[[muk]]\nidr = "{u["btid"]}"\nidi = "{truth["bmsc"]["fqdn"]}"\nks = "{u["ks"]}"\n'
        f'rand = "{u["gba_rand"]}"\nimpi = "{u["impi"]}"\nnaf = "{truth["bmsc"]["fqdn"]}"\n\n'
        for u in truth["ues"]))
    gba.chmod(0o600)
    for key_file in (keys, gba):
        out = subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--json", "--keys",
                              str(key_file), str(capture)], capture_output=True, text=True,
                             cwd=ROOT, check=True).stdout
        fields = [dict(map(tuple, o["fields"])) for o in map(json.loads, out.splitlines())
                  if o["protocol"] == "bmsc"]
        authed = [f for f in fields if "bmsc.digest.response" in f]
        assert authed and all(f["bmsc.digest.qop"] == "auth-int" for f in authed)
        assert all(f["bmsc.digest.verified"] == "good" for f in authed), key_file.name


def test_the_digest_realm_must_name_the_bm_sc():
    """TS 33.246 H.2.1: realm = 3GPP-bootstrapping@<BM-SC FQDN>; another host (a BSF's) is a
    tolerated variant, reported as a warning."""
    from analyzer.views.bmsc import _realm_issue

    assert _realm_issue("3GPP-bootstrapping@bmsc.example.org", "bmsc.example.org:1234") is None
    issue = _realm_issue("3GPP-bootstrapping@bsf.example.org", "bmsc.example.org")
    assert issue.code == "bmsc.digest_realm" and issue.severity == "warning"
    assert _realm_issue("other realm", "bmsc.example.org") is None
