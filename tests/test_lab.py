"""The lab simulator: determinism, every scenario recognisable, peers agree with its traffic."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections import Counter

import pytest

from analyzer.capture.reading import read_capture
from analyzer.keys.hierarchy import KeyHierarchy
from analyzer.keys.store import load_keys
from analyzer.lab.scenarios import SCENARIOS, Options, run
from analyzer.lab.world import RTP_PORT
from analyzer.net.decode import decode_transport
from analyzer.pipeline.build import build
from analyzer.pipeline.find import candidates
from tests import livecap
from tests.conftest import ROOT


def lab(tmp_path, scenario, *extra, seed="3"):
    out = tmp_path / f"{scenario}-{seed}.pcapng"
    keys = tmp_path / f"{scenario}-{seed}.keys.toml"
    proc = subprocess.run([sys.executable, "-m", "analyzer", "lab", "--scenario", scenario,
                           "--seed", seed, "-o", str(out), "--keys-out", str(keys), *extra],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return out, keys


def summaries(capture, keys):
    hierarchy = KeyHierarchy(load_keys(keys))
    return [build(c, hierarchy) for c in candidates(read_capture(capture))]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a, _ = lab(tmp_path, "basic", "--duration", "2")
    b, _ = lab(tmp_path, "basic", "--duration", "2", "--ues", "3")
    (tmp_path / "second").mkdir()
    c, _ = lab(tmp_path / "second", "basic", "--duration", "2")
    d, _ = lab(tmp_path, "basic", "--duration", "2", seed="4")
    assert a.read_bytes() == b.read_bytes() == c.read_bytes()
    assert a.read_bytes() != d.read_bytes()


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_scenario_is_recognisable(tmp_path, scenario):
    extra = ["--ues", "30"] if scenario == "storm" else ["--duration", "6"]
    capture, keys = lab(tmp_path, scenario, *extra)
    pkts = summaries(capture, keys)
    text = [p.summary for p in pkts]
    count = Counter()
    for s in text:
        for pattern in ("MSK 02f810", "PSK ver msg", "MTK 02f810", "solicited pull", "stale nonce",
                        "digest good", "digest bad", ": 403", "deregistration", "MAC bad",
                        "MAC good", "registration response"):
            count[pattern] += pattern in s
    errors = Counter(e.code for p in pkts for e in p.errors)
    assert count["digest bad"] == 0 and count["MAC good"] > 0
    if scenario in ("basic", "mixed", "reject", "attacks", "push", "missed-update",
                    "solicited-pull"):
        assert count["registration response"] >= 2
    if scenario == "push":  # 2 MSK deliveries per UE, one ack missing
        assert count["MSK 02f810"] == 6 and count["PSK ver msg"] == 5
    if scenario == "solicited-pull":
        assert count["solicited pull"] == 3 and count["stale nonce"] == 1
    if scenario == "missed-update":  # the missed push, then the UE's own request
        assert count["MSK 02f810"] == 7 and count["PSK ver msg"] == 6
    if scenario == "reject":
        assert count[": 403"] == 1 and count["deregistration"] >= 1
        assert count["MSK 02f810"] == 2
    if scenario == "attacks":
        assert errors["mikey.mac_bad"] == 1 and errors["mikey.malformed"] >= 1
    if scenario == "storm":
        assert count["solicited pull"] == 30 and count["PSK ver msg"] == 30
    if scenario == "mixed":
        assert sum(1 for _ in read_capture(capture)) > 10 * len(pkts)


@pytest.mark.tshark
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_tshark_dissects_every_mikey_message_without_malformed(tmp_path, scenario):
    extra = ["--ues", "20"] if scenario == "storm" else ["--duration", "4"]
    capture, _ = lab(tmp_path, scenario, *extra)
    world = run(scenario, 3, Options(ues=20) if scenario == "storm" else Options(duration=4.0))
    attacked = {n + 1 for n, f in enumerate(world.sorted_frames())
                if f.note in ("attack: truncated mikey", "attack: garbage on the mikey port")
                or f.note.endswith("(damaged)")}
    out = subprocess.run(["tshark", "-r", str(capture), "-d", "udp.port==2269,mikey", "-T",
                          "fields", "-e", "frame.number", "-e", "_ws.malformed",
                          "-e", "_ws.expert.severity", "-Y", "mikey"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    ours = sum(1 for p in summaries(capture, capture.with_suffix(".keys.toml"))
               if p.protocol == "mikey")
    assert len(out) == ours
    for line in out:
        frame, malformed, severity = (line.split("\t") + ["", ""])[:3]
        if int(frame) in attacked:
            continue
        assert not malformed and "warning" not in severity.lower() and "error" not in severity.lower(), line


def test_libsrtp_decrypts_the_basic_stream_with_the_ground_truth(tmp_path):
    pylibsrtp = pytest.importorskip("pylibsrtp")
    capture, keys = lab(tmp_path, "basic", "--duration", "6")
    truth = json.loads(keys.with_suffix(".truth.json").read_text())
    mtks = {}
    for msk in truth["msks"]:
        for mtk in msk["mtks"]:
            mtks[bytes.fromhex(msk["msk_id"] + mtk["mtk_id"])] = bytes.fromhex(mtk["key"] + mtk["salt"])
    ours_out = tmp_path / "ours.pcap"  # our decryption with only the MUKs in the key file
    subprocess.run([sys.executable, "-m", "analyzer", "decrypt", str(capture), "--keys", str(keys),
                    "-o", str(ours_out)], check=True, capture_output=True, cwd=ROOT)
    ours = iter(read_capture(ours_out))
    sessions = {}
    decrypted = total = 0
    for rec in read_capture(capture):
        mine = next(ours)
        tp = decode_transport(rec.linktype, rec.data)
        if tp is None or tp.dport != RTP_PORT:
            continue
        total += 1
        pkt = tp.payload
        mki, tag = pkt[-16:-10], pkt[-10:]
        if mki not in sessions:
            sessions[mki] = pylibsrtp.Session(pylibsrtp.Policy(
                key=mtks[mki], ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND,
                srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80))
        plain = sessions[mki].unprotect(pkt[:-16] + tag)  # libsrtp: no MKI (not authenticated)
        assert len(plain) == 12 + 160 and plain[1] == 0  # PCMU, 20 ms
        assert decode_transport(mine.linktype, mine.data).payload == plain
        decrypted += 1
    assert decrypted == total > 250  # every packet, unprotect raises on any failure


def test_only_the_muks_decrypt_every_srtp_packet_of_basic(tmp_path):
    capture, keys = lab(tmp_path, "basic", "--duration", "6")
    out = tmp_path / "plain.pcap"
    proc = subprocess.run([sys.executable, "-m", "analyzer", "decrypt", str(capture), "--keys",
                           str(keys), "-o", str(out)], capture_output=True, text=True, cwd=ROOT)
    srtp = sum(1 for r in read_capture(capture)
               if (tp := decode_transport(r.linktype, r.data)) and tp.dport == RTP_PORT)
    assert f"{srtp} SRTP and 0 SRTCP packets decrypted, 0 authentication failures" in proc.stdout


def test_digest_agrees_with_pythons_own_implementation():
    """qop=auth against urllib's digest (which has no auth-int: the legacy conventions)."""
    world = run("basic", 5, Options(ues=1, duration=1.0, conventions="legacy"))
    exchanges = [pairs for _, _, pairs in world.exchanges]
    request = exchanges[0][1][0].decode("latin-1")
    challenge = exchanges[0][0][1].decode("latin-1")
    auth = re.search(r"Authorization: Digest (.*)\r\n", request).group(1)
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', auth))
    header = re.search(r"WWW-Authenticate: Digest (.*)\r\n", challenge).group(1)
    chal = dict(re.findall(r'(\w+)="?([^",]*)"?', header))
    mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    mgr.add_password(None, "http://bmsc.example.org/", params["username"], world.ues[0].password)
    handler = urllib.request.HTTPDigestAuthHandler(mgr)
    handler.get_cnonce = lambda nonce: params["cnonce"]
    req = urllib.request.Request("http://bmsc.example.org" + params["uri"], data=b"x", method="POST")
    theirs = handler.get_authorization(req, chal)
    assert re.search(r'response="([0-9a-f]+)"', theirs).group(1) == params["response"]


def test_auth_int_digest_follows_rfc2617_and_the_password_is_the_mrk():
    """The spec conventions: qop=auth-int (TS 33.246 H.2.1), HA2 = MD5(method:uri:MD5(body))
    (RFC 2617 §3.2.2.3), the password base64(MRK) = base64(Ks_ext_NAF) for a GBA_U UICC
    (Annex F), computed here with hashlib/hmac from the UE's GBA inputs."""
    import base64
    import hashlib
    import hmac
    import struct

    world = run("basic", 5, Options(ues=1, duration=1.0))
    ue = world.ues[0]
    nafid = world.fqdn.encode() + bytes.fromhex("0100000001")
    s = b"\x01" + b"".join(p + struct.pack("!H", len(p)) for p in
                           (b"gba-me", ue.gba_rand, ue.impi.encode(), nafid))
    assert ue.password == base64.b64encode(hmac.digest(ue.ks, s, hashlib.sha256)).decode()
    request = world.exchanges[0][2][1][0]  # (time, UE, [(request, response), ...])
    head, body = request.split(b"\r\n\r\n", 1)
    auth = re.search(r"Authorization: Digest (.*)\r\n", head.decode() + "\r\n").group(1)
    p = dict(re.findall(r'(\w+)="?([^",]*)"?', auth))
    assert p["qop"] == "auth-int"
    md5 = lambda text: hashlib.md5(text.encode() if isinstance(text, str) else text).hexdigest()
    ha1 = md5(f"{p['username']}:{p['realm']}:{ue.password}")
    ha2 = md5(f"POST:{p['uri']}:{md5(body)}")
    assert p["response"] == md5(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:auth-int:{ha2}")


@pytest.mark.skipif(not livecap.available() and os.environ.get("CI") != "true",
                    reason="live capture needs root and dumpcap")
def test_send_live_on_loopback_is_captured_and_dissected(tmp_path):
    capture = tmp_path / "live.pcap"
    keys = tmp_path / "live.keys.toml"
    with livecap.capture_loopback(capture, "udp port 2269 or udp port 5004 or tcp port 80"):
        proc = subprocess.run([sys.executable, "-m", "analyzer", "lab", "--scenario", "basic",
                               "--duration", "1", "--send", "127.0.0.1", "--speed", "25",
                               "--keys-out", str(keys)], capture_output=True, text=True,
                              cwd=ROOT, timeout=120)
        assert proc.returncode == 0, proc.stderr
    text = [p.summary for p in summaries(capture, keys)]
    assert sum("digest good" in s for s in text) == 6  # 3 UEs x (registration + MSK request)
    assert sum(s.endswith("MAC good") and "MSK 02f810" in s for s in text) == 3
    assert sum("PSK ver msg, MAC good" in s for s in text) == 3


@pytest.mark.skipif(not livecap.available() and os.environ.get("CI") != "true",
                    reason="live capture needs root and dumpcap")
def test_headless_sniff_on_loopback_exports_the_timeline(tmp_path):
    """Issue #7: ``sniff --headless`` during ``lab --send`` gives the timeline of the
    lab's own capture of the same run: same keys, procedures and findings."""
    import time

    keys, timeline, capture = (tmp_path / "k.toml", tmp_path / "t.json", tmp_path / "s.pcapng")
    own, own_timeline = tmp_path / "own.pcapng", tmp_path / "own.json"
    run("basic", 1, Options(ues=1))  # warm the imports of this process
    lab = [sys.executable, "-m", "analyzer", "lab", "--scenario", "basic", "--ues", "2",
           "--duration", "1", "--seed", "5"]
    subprocess.run(lab + ["-o", str(own), "--keys-out", str(keys)], check=True, cwd=ROOT,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "analyzer", "export", str(own), "--keys", str(keys),
                    "-o", str(own_timeline)], check=True, cwd=ROOT, capture_output=True)
    sniff = subprocess.Popen([sys.executable, "-m", "analyzer", "sniff", "-i", "lo", "--headless",
                              "--duration", "7", "--keys", str(keys), "--export", str(timeline),
                              "-w", str(capture), "--filter",
                              "udp port 2269 or udp port 5004 or udp port 5005 or tcp port 80"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)
    subprocess.run(lab + ["--send", "127.0.0.1", "--speed", "20"], check=True, cwd=ROOT,
                   capture_output=True)
    out, err = sniff.communicate(timeout=60)
    assert sniff.returncode == 0, err
    assert "captured" in out and capture.stat().st_size > 0
    live, lab_doc = json.loads(timeline.read_text()), json.loads(own_timeline.read_text())

    def keys_of(doc):
        return sorted((k["kind"], k["key_domain"], k["msk_id"], k["mtk_id"], k["state"],
                       tuple(sorted({e["event"] for e in k["events"]}))) for k in doc["keys"])

    def procedures_of(doc):  # addresses differ (all of loopback), the exchanges do not
        return sorted((p["procedure"], p["outcome"]) for p in doc["procedures"])

    assert keys_of(live) == keys_of(lab_doc) and len(lab_doc["keys"]) >= 4
    assert procedures_of(live) == procedures_of(lab_doc)
    assert sorted(f["code"] for f in live["findings"]) == sorted(f["code"] for f in lab_doc["findings"])
    assert ("msk_request", "success") in procedures_of(live)


def test_sniff_says_in_one_line_what_it_needs(tmp_path):
    from analyzer.capture.sniff import LiveCapture

    if shutil.which("dumpcap") is None:
        pytest.skip("needs dumpcap")
    proc = subprocess.run([sys.executable, "-m", "analyzer", "sniff", "-i", "nosuch0", "--headless",
                           "--export", str(tmp_path / "t.json")], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("mbms-analyzer: dumpcap could not capture on nosuch0")
    denied = LiveCapture("eth0")
    denied.error = "dumpcap: You don't have permission to capture on that device"
    assert "run as root" in denied._why() and "setcap" in denied._why()


@pytest.mark.skipif(not livecap.available() and os.environ.get("CI") != "true",
                    reason="live capture needs root and dumpcap")
def test_sniff_killed_mid_capture_leaves_a_whole_pcapng(tmp_path):
    """Issue #9: SIGKILL to sniff: dumpcap stops too, and tshark reads every packet."""
    import signal
    import socket
    import time

    capture = tmp_path / "killed.pcapng"
    sniff = subprocess.Popen([sys.executable, "-m", "analyzer", "sniff", "-i", "lo", "--headless",
                              "--export", str(tmp_path / "t.json"), "-w", str(capture),
                              "--filter", "udp port 47999"], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (capture.exists() and capture.stat().st_size):
        time.sleep(0.1)
    time.sleep(0.5)
    sent = 200
    for n in range(sent):
        sock.sendto(n.to_bytes(4, "big") * 8, ("127.0.0.1", 47999))
        time.sleep(0.002)
    time.sleep(1.5)  # dumpcap writes each packet as it comes; give it its flush
    sniff.send_signal(signal.SIGKILL)
    sniff.wait(timeout=10)
    for _ in range(100):  # dumpcap follows its parent down (SIGTERM), closing the file
        if subprocess.run(["pgrep", "-f", str(capture)], capture_output=True).returncode:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("dumpcap outlived sniff")
    out = subprocess.run(["tshark", "-r", str(capture), "-Y", "udp.port == 47999", "-T", "fields",
                          "-e", "data.data"], capture_output=True, text=True, check=True)
    payloads = out.stdout.split()
    assert len(payloads) == sent  # every packet, whole
    assert payloads[0] == (bytes(4) * 8).hex() and payloads[-1] == ((sent - 1).to_bytes(4, "big") * 8).hex()


#: what the legacy conventions do otherwise than TS 33.246, each a warning of its own
LEGACY_DEVIATIONS = {"mikey.mtk_rand", "mikey.ack_no_idr", "mikey.mtk_window"}


@pytest.mark.parametrize("scenario", ["basic", "push", "solicited-pull", "download", "interop"])
def test_spec_and_legacy_conventions_tell_the_same_story(tmp_path, scenario):
    """The lab speaks TS 33.246 by default; its first conventions stay a named variant
    (``--conventions legacy``): the same keys, procedures and decryption, and the
    variant's deviations reported as warnings only."""
    from analyzer.keys.store import load_keys
    from analyzer.output.timeline import timeline
    from analyzer.pipeline.session import Session

    stories = {}
    for conventions in ("spec", "legacy"):
        out = tmp_path / conventions
        out.mkdir()
        capture, keys = lab(out, scenario, "--duration", "5", "--conventions", conventions)
        run = Session(load_keys(keys))
        assert run.add_captures([capture]) == []
        doc = timeline(run)
        stories[conventions] = (
            sorted((p["procedure"], p["ue"], p["outcome"]) for p in doc["procedures"]),
            sorted((k["kind"], k["msk_id"], k["mtk_id"], k["state"]) for k in doc["keys"]),
            sorted(d["result"] for d in doc["downloads"] if d["result"] != "mikey"),
            {f["code"] for f in doc["findings"]})
    spec, legacy = stories["spec"], stories["legacy"]
    assert spec[:3] == legacy[:3]
    # (interop's UEs send every other ack without IDr on purpose: other vendors do)
    # (and sends an MTK ID above its MSK's window)
    assert spec[3] & LEGACY_DEVIATIONS == ({"mikey.ack_no_idr", "mikey.mtk_window"}
                                           if scenario == "interop" else set())
    assert legacy[3] - spec[3] <= LEGACY_DEVIATIONS and legacy[3] - spec[3]


@pytest.mark.parametrize("conventions", ["spec", "legacy"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_scenario_gives_the_keys_procedures_and_findings_of_its_truth(
        tmp_path, scenario, conventions):
    """The lab writes down the story its traffic tells (``truth.json``: every MSK and MTK,
    every procedure with its outcome, the finding codes called for); the analyzer, given
    only the UEs' MUKs, tells the same story."""
    from collections import Counter

    from analyzer.output.timeline import timeline
    from analyzer.pipeline.session import Session
    from dissectors.issues import ISSUE_CODES

    extra = ["--ues", "25"] if scenario == "storm" else ["--duration", "4"]
    capture, keys = lab(tmp_path, scenario, *extra, "--conventions", conventions)
    truth = json.loads(keys.with_suffix(".truth.json").read_text())
    run = Session(load_keys(keys), reveal_keys=True)
    assert run.add_captures([capture]) == []
    doc = timeline(run)
    story = lambda procs: Counter((p["procedure"], p["ue"], p["outcome"]) for p in procs)
    assert story(doc["procedures"]) == story(truth["procedures"])
    found = {f["code"] for f in doc["findings"]}
    extra_codes = found - set(truth["findings"])
    assert set(truth["findings"]) <= found
    if truth["garbage"]:  # random bytes on the MIKEY port: whatever the dissector says of them
        assert all(c.startswith("mikey.") and c in ISSUE_CODES for c in extra_codes), extra_codes
    else:
        assert extra_codes == set()
    # every MSK learned is the truth's; each one an MTK was sent under is learned
    learned = {k["msk_id"]: k["value"] for k in doc["keys"] if k["kind"] == "MSK" and k["value"]}
    made = {m["msk_id"]: m["key"] for m in truth["msks"]}
    assert learned and all(made[i] == v for i, v in learned.items())
    assert {m["msk_id"] for m in truth["msks"] if m["mtks"]} <= set(learned)
    mtks = {(k["msk_id"], k["mtk_id"], k["value"], k.get("salt")) for k in doc["keys"]
            if k["kind"] == "MTK"}
    assert mtks == {(m["msk_id"], t["mtk_id"], t["key"], t["salt"]) for m in truth["msks"]
                    for t in m["mtks"]}
