"""The flow reconstructor: state machine, procedures, findings, and golden timelines."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest

from analyzer.export import SCHEMA
from analyzer.flows.model import KeyState, next_state
from analyzer.flows.observe import HttpObs, IssueObs, MikeyObs, SrtpObs, Where
from analyzer.flows.reconstructor import ACK_TIMEOUT, STORM_THRESHOLD, Reconstructor
from tests.conftest import CAPTURES, ROOT

GOLDEN = ROOT / "tests" / "golden"
UE, BMSC, GROUP = "10.1.0.1", "10.0.0.1", "232.0.0.1"
KD, MSK1, MSK2 = "02f810", "00010001", "00010002"


def at(frame: int, t: float, src: str = BMSC, dst: str = UE) -> Where:
    return Where(0, frame, 1000.0 + t, f"{src}:2269", f"{dst}:2269")


def http(frame, t, request, status=None, kind="msk-request", keys=((KD, MSK1, None),),
         challenge=False, stale=False):
    src, dst = (UE, BMSC) if request else (BMSC, UE)
    return HttpObs(Where(0, frame, 1000.0 + t, f"{src}:40000", f"{dst}:80"), request,
                   "POST" if request else None, "/k" if request else None, status, kind, keys,
                   "btid@bsf" if request else None, challenge, stale)


def msk_msg(frame, t, csb, counter, msk=MSK1, v=1, mac="good", dst=UE):
    return MikeyObs(at(frame, t, dst=dst), 0, csb, v, counter, KD, msk, None, "bmsc", "btid@bsf",
                    mac)


def mtk_msg(frame, t, counter, mtk="0001", mac="good", msk=MSK1):
    return MikeyObs(at(frame, t, dst=GROUP), 0, 77, 0, counter, KD, msk, mtk, None, None, mac)


def ack(frame, t, csb, mac="good"):
    return MikeyObs(at(frame, t, src=UE, dst=BMSC), 1, csb, 0, None, None, None, None, None,
                    None, mac)


def feed(*observations, with_keys=True) -> Reconstructor:
    rec = Reconstructor(with_keys=with_keys)
    for obs in observations:
        rec.feed(obs)
    rec.finish()
    return rec


def procs(rec):
    return [(p.procedure, p.ue, p.outcome, [f for _, f in p.frames]) for p in rec.procedures]


def codes(rec):
    return [(f.code, f.frame) for f in rec.findings]


# ---------------------------------------------------------------- state machine

S = KeyState


@pytest.mark.parametrize("state, event, result, allowed", [
    (S.KNOWN, "requested", S.REQUESTED, True),
    (S.REQUESTED, "challenged", S.REQUESTED, True),
    (S.REQUESTED, "rejected", S.REJECTED, True),
    (S.ACKNOWLEDGED, "rejected", S.ACKNOWLEDGED, True),  # refused to one UE only
    (S.REQUESTED, "delivered", S.DELIVERED, True),
    (S.DELIVERED, "acknowledged", S.ACKNOWLEDGED, True),
    (S.KNOWN, "acknowledged", S.KNOWN, False),
    (S.REQUESTED, "acknowledged", S.REQUESTED, False),
    (S.ACKNOWLEDGED, "first_use", S.ACTIVE, True),
    (S.ACTIVE, "superseded", S.SUPERSEDED, True),
    (S.REQUESTED, "superseded", S.REQUESTED, False),
    (S.SUPERSEDED, "delivered", S.DELIVERED, True),
    (S.SUPERSEDED, "expired", S.EXPIRED, True),
    (S.EXPIRED, "first_use", S.EXPIRED, False),
])
def test_key_state_transitions(state, event, result, allowed):
    assert next_state(state, event) == (result, allowed)


# ---------------------------------------------------------------- procedures

def test_msk_request_with_challenge_delivery_and_ack():
    rec = feed(http(1, 0.0, True), http(2, 0.01, False, 401, challenge=True), http(3, 0.02, True),
               http(4, 0.03, False, 200, kind="msk-response", keys=((KD, MSK1, 200),)),
               msk_msg(5, 0.1, 0xAA, 1), ack(6, 0.12, 0xAA))
    assert procs(rec) == [("msk_request", UE, "success", [1, 2, 3, 4, 5, 6])]
    msk = rec.keys[("MSK", KD, MSK1, None, None, None)]
    assert [e.event for e in msk.events] == ["requested", "challenged", "requested", "delivered",
                                             "acknowledged"]
    assert msk.state == S.ACKNOWLEDGED and codes(rec) == []
    assert rec.ues[UE].received == rec.ues[UE].acknowledged == {f"{KD}/{MSK1}"}


def test_push_without_ack_times_out_and_an_unknown_ack_is_reported():
    rec = feed(msk_msg(1, 0.0, 0xBB, 1), mtk_msg(2, ACK_TIMEOUT + 1, 1), ack(3, ACK_TIMEOUT + 2, 0xBB))
    assert procs(rec)[0] == ("msk_push", UE, "incomplete", [1])
    assert codes(rec) == [("mikey.ack_missing", 1), ("mikey.ack_unexpected", 3)]
    no_ack_asked = feed(msk_msg(1, 0.0, 0xCC, 1, v=0))
    assert procs(no_ack_asked) == [("msk_push", UE, "success", [1])]


def test_replayed_and_forged_mtk_messages_fail():
    rec = feed(mtk_msg(1, 0.0, 5), mtk_msg(2, 1.0, 6, "0002"), mtk_msg(3, 2.0, 5),
               mtk_msg(4, 3.0, 7, "0003", mac="bad"))
    assert [p[2] for p in procs(rec)] == ["success", "success", "failed", "failed"]
    assert codes(rec) == [("mikey.replay", 3), ("mikey.mac_bad", 4)]
    mtk1 = rec.keys[("MTK", KD, MSK1, "0001", None, None)]
    assert mtk1.state == S.SUPERSEDED


def test_msk_counter_per_muk():
    rec = feed(msk_msg(1, 0.0, 1, 4, v=0), msk_msg(2, 1.0, 2, 4, v=0))
    assert codes(rec) == [("mikey.replay", 2)]


def test_solicited_pull_takes_its_request_and_reports_the_delay():
    solicit = MikeyObs(at(1, 0.0), 0, 9, 0, 1, KD, "00000000", None, "bmsc", "btid@bsf", "good")
    rec = feed(solicit, http(2, 2.5, True), http(3, 2.6, False, 200, kind="msk-response",
                                                 keys=((KD, MSK2, 200),)),
               msk_msg(4, 2.7, 0xDD, 2, msk=MSK2), ack(5, 2.8, 0xDD))
    assert procs(rec) == [("solicited_pull", UE, "success", [1, 2, 3, 4, 5])]
    assert rec.procedures[0].detail["delay"] == pytest.approx(2.5)


def test_rejected_request_and_a_ue_that_does_not_leave():
    rec = feed(http(1, 0.0, True), http(2, 0.1, False, 200, kind="msk-response",
                                        keys=((KD, MSK1, 403),)),
               http(3, 5.0, True))
    assert procs(rec)[0] == ("msk_request", UE, "rejected", [1, 2])
    assert ("ue.no_msk_traffic", 3) in codes(rec)
    assert rec.keys[("MSK", KD, MSK1, None, None, None)].state == S.REQUESTED


def test_srtp_findings_once_per_stream_and_key_use():
    def srtp(frame, result, mtk=None):
        return SrtpObs(Where(0, frame, 1000.0 + frame, "10.0.0.1:5004", "232.0.0.1:5004"),
                       0x1234, mtk, "k" if mtk else None, result)
    rec = feed(mtk_msg(1, 0.0, 1), srtp(2, "ok", (KD, MSK1, "0001")),
               srtp(3, "ok", (KD, MSK1, "0001")), srtp(4, "unknown"), srtp(5, "unknown"),
               srtp(6, "auth"))
    assert codes(rec) == [("srtp.unknown_mki", 4), ("srtp.auth_failed", 6)]
    mtk = rec.keys[("MTK", KD, MSK1, "0001", None, None)]
    assert [e.event for e in mtk.events] == ["delivered", "first_use", "last_use"]
    assert mtk.events[-1].detail == {"uses": 2} and mtk.state == S.ACTIVE


def test_request_storm_is_reported_with_its_spread():
    obs = []
    for n in range(STORM_THRESHOLD + 5):
        ue = f"10.2.0.{n + 1}"
        obs.append(MikeyObs(Where(0, n + 1, 1000.0 + n * 0.001, "10.0.0.1:2269", f"{ue}:2269"),
                            0, n, 0, 1, KD, "00000000", None, "bmsc", f"u{n}", "good"))
    for n in range(STORM_THRESHOLD + 5):
        ue = f"10.2.0.{n + 1}"
        obs.append(HttpObs(Where(0, 100 + n, 1000.5 + n * 0.01, f"{ue}:40000", "10.0.0.1:80"),
                           True, "POST", "/k", None, "msk-request", ((KD, MSK2, None),)))
    rec = feed(*obs)
    storm = [f for f in rec.findings if f.code == "bmsc.request_storm"]
    assert len(storm) == 1 and f"{STORM_THRESHOLD + 5} of {STORM_THRESHOLD + 5}" in storm[0].message
    assert all(p.outcome == "incomplete" for p in rec.procedures)  # no deliveries followed


def test_dissector_issues_become_findings():
    rec = feed(IssueObs(at(1, 0.0), "mikey.malformed", "error", "x"))
    assert codes(rec) == [("mikey.malformed", 1)]


# ---------------------------------------------------------------- golden timelines

CAPTURES_WITH_KEYS = sorted(p for p in CAPTURES.glob("*.pcap*")
                            if p.with_suffix(".keys.toml").is_file())


@pytest.mark.parametrize("capture", CAPTURES_WITH_KEYS, ids=lambda p: p.stem)
def test_golden_timeline(capture, tmp_path):
    out = tmp_path / "timeline.json"
    proc = subprocess.run([sys.executable, "-m", "analyzer", "export",
                           str(capture.relative_to(ROOT)), "--keys",
                           str(capture.with_suffix(".keys.toml").relative_to(ROOT)),
                           "--reveal-keys", "-o", str(out)], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(out.read_text())
    assert got == json.loads((GOLDEN / f"{capture.stem}.timeline.json").read_text())
    jsonschema.validate(got, json.loads(SCHEMA.read_text()))


def test_export_without_keys_hides_nothing_it_does_not_have(tmp_path):
    out = tmp_path / "t.json"
    subprocess.run([sys.executable, "-m", "analyzer", "export", "captures/lab-basic.pcapng",
                    "-o", str(out)], check=True, capture_output=True, cwd=ROOT)
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    assert all(k["value"] is None for k in doc["keys"])
    with_keys = tmp_path / "k.json"
    subprocess.run([sys.executable, "-m", "analyzer", "export", "captures/lab-basic.pcapng",
                    "--keys", "captures/lab-basic.keys.toml", "-o", str(with_keys)],
                   check=True, capture_output=True, cwd=ROOT)
    hidden = json.loads(with_keys.read_text())
    assert all(k["value"] is None for k in hidden["keys"])  # no --reveal-keys
    muk = (CAPTURES / "lab-basic.keys.toml").read_text().split('key = "')[1][:64]
    assert muk not in with_keys.read_text()


def test_basic_timeline_tells_the_whole_story():
    doc = json.loads((GOLDEN / "lab-basic.timeline.json").read_text())
    kinds = {(p["procedure"], p["outcome"]) for p in doc["procedures"]}
    assert kinds == {("registration", "success"), ("msk_request", "success"),
                     ("mtk_update", "success")}
    mtks = [k for k in doc["keys"] if k["kind"] == "MTK"]
    truth = json.loads((CAPTURES / "lab-basic.keys.truth.json").read_text())
    assert [k["value"] for k in mtks] == [m["key"] for m in truth["msks"][0]["mtks"]]
    uses = sum(e["detail"].get("uses", 0) for k in mtks for e in k["events"]
               if e["event"] == "last_use")
    assert uses == 301  # every SRTP packet of the 6 s stream at 50 pps was opened
    assert doc["findings"] == []


def _story(doc):
    """A timeline without frame references: what must not depend on which tap saw what."""
    keys = [(k["kind"], k["key_domain"], k["msk_id"], k["mtk_id"], k["idr"], k["state"],
             [(e["event"], e["ue"], round(e["time"], 3)) for e in k["events"]
              if e["event"] != "last_use"]) for k in doc["keys"]]
    procs = sorted((p["procedure"], p["ue"], p["outcome"], round(p["start"], 3))
                   for p in doc["procedures"])
    finds = sorted((f["code"], round(f["time"], 3)) for f in doc["findings"])
    return keys, procs, finds


def test_two_taps_with_shifted_clocks_give_the_same_timeline(tmp_path):
    from analyzer.decode import decode_transport
    from analyzer.export import Export
    from analyzer.keys import load_keys
    from analyzer.reading import read_capture
    from analyzer.writer import PcapWriter

    capture = CAPTURES / "lab-basic.pcapng"
    keys = load_keys(CAPTURES / "lab-basic.keys.toml")
    shift = 3.2517
    bmsc, ue = tmp_path / "bmsc.pcap", tmp_path / "ue.pcap"
    with PcapWriter(bmsc) as a, PcapWriter(ue) as b:
        for rec in read_capture(capture):
            a.write(rec)
            tp = decode_transport(rec.linktype, rec.data)
            if tp is not None and ("10.1.0.1" in (tp.src, tp.dst) or tp.dst == "232.0.0.1"):
                b.write(type(rec)(rec.number, rec.time + shift, rec.linktype, rec.data,
                                  rec.orig_len))
    original = Export(load_keys(CAPTURES / "lab-basic.keys.toml"))
    original.add_captures([capture])
    merged = Export(keys)
    assert merged.add_captures([bmsc, ue]) == []
    doc, want = merged.document(), original.document()
    assert doc["captures"][1]["offset"] == pytest.approx(-shift, abs=1e-3)
    assert _story(doc) == _story(want)
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    # the UE's tap alone, realigned, tells that UE's part of the story
    alone = Export(load_keys(CAPTURES / "lab-basic.keys.toml"))
    alone.add_captures([ue])
    assert {p["ue"] for p in alone.document()["procedures"]} == {"10.1.0.1", None}


def test_feed_returns_what_changed():
    rec = Reconstructor(with_keys=False)
    first = rec.feed(http(1, 0.0, True))
    assert [kind for kind, _ in first] == ["procedure", "key"]
    assert first[0][1].procedure == "msk_request" and first[1][1].state == S.REQUESTED
    challenged = rec.feed(http(2, 0.1, False, 401, challenge=True))
    assert [kind for kind, _ in challenged] == ["key"]
    delivered = rec.feed(msk_msg(3, 0.2, 0x11, 1, v=0))
    kinds = [kind for kind, _ in delivered]
    assert "key" in kinds and kinds[-1] == "procedure" and delivered[-1][1].outcome == "success"
    replay = rec.feed(msk_msg(4, 0.3, 0x12, 1, v=0))
    assert ("finding", "mikey.replay") in [(k, getattr(o, "code", None)) for k, o in replay]
    assert rec.feed(ack(5, 0.4, 0x99))[0][1].code == "mikey.ack_unexpected"
