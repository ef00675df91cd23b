"""The flow reconstructor: state machine, procedures, findings, and golden timelines."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest

from analyzer.capture.where import Where
from analyzer.flows.model import KeyState, next_state
from analyzer.flows.observe import HttpObs, IssueObs, MikeyObs, SrtpObs
from analyzer.flows.reconstructor import ACK_TIMEOUT, STORM_THRESHOLD, Reconstructor
from analyzer.output.timeline import SCHEMA
from tests.conftest import CAPTURES, ROOT

GOLDEN = ROOT / "tests" / "golden"
UE, BMSC, GROUP = "10.1.0.1", "10.0.0.1", "232.0.0.1"
KD, MSK1, MSK2 = "02f810", "00010001", "00010002"


def at(frame: int, t: float, src: str = BMSC, dst: str = UE) -> Where:
    return Where(0, frame, 1000.0 + t, f"{src}:2269", f"{dst}:2269")


def http(frame, t, request, status=None, kind="msk-request", keys=((KD, MSK1, None),),
         stale=False):
    src, dst = (UE, BMSC) if request else (BMSC, UE)
    return HttpObs(Where(0, frame, 1000.0 + t, f"{src}:40000", f"{dst}:80"), request,
                   status, kind, keys, "btid@bsf" if request else None, stale)


def msk_msg(frame, t, csb, counter, msk=MSK1, v=1, mac="good", dst=UE):
    return MikeyObs(at(frame, t, dst=dst), 0, csb, v, counter, KD, msk, None, "bmsc", "btid@bsf",
                    mac)


def mtk_msg(frame, t, counter, mtk="0001", mac="good", msk=MSK1):
    return MikeyObs(at(frame, t, dst=GROUP), 0, 77, 0, counter, KD, msk, mtk, None, None, mac)


def ack(frame, t, csb, mac="good", idr="btid@bsf"):
    """A verification message: HDR || T || IDr || V (TS 33.246 §6.4.5.2)."""
    return MikeyObs(at(frame, t, src=UE, dst=BMSC), 1, csb, 0, None, None, None, None, None,
                    idr, mac)


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
    rec = feed(http(1, 0.0, True), http(2, 0.01, False, 401), http(3, 0.02, True),
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
                           True, None, "msk-request", ((KD, MSK2, None),)))
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
    from analyzer.capture.reading import read_capture
    from analyzer.capture.writer import PcapWriter
    from analyzer.keys.store import load_keys
    from analyzer.net.decode import decode_transport
    from analyzer.output.timeline import timeline
    from analyzer.pipeline.session import Session

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
    original = Session(load_keys(CAPTURES / "lab-basic.keys.toml"))
    original.add_captures([capture])
    merged = Session(keys)
    assert merged.add_captures([bmsc, ue]) == []
    doc, want = timeline(merged), timeline(original)
    assert doc["captures"][1]["offset"] == pytest.approx(-shift, abs=1e-3)
    assert _story(doc) == _story(want)
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    # the UE's tap alone, realigned, tells that UE's part of the story
    alone = Session(load_keys(CAPTURES / "lab-basic.keys.toml"))
    alone.add_captures([ue])
    assert {p["ue"] for p in timeline(alone)["procedures"]} == {"10.1.0.1", None}


def test_feed_returns_what_changed():
    rec = Reconstructor(with_keys=False)
    first = rec.feed(http(1, 0.0, True))
    assert [kind for kind, _ in first] == ["procedure", "key"]
    assert first[0][1].procedure == "msk_request" and first[1][1].state == S.REQUESTED
    challenged = rec.feed(http(2, 0.1, False, 401))
    assert [kind for kind, _ in challenged] == ["key"]
    delivered = rec.feed(msk_msg(3, 0.2, 0x11, 1, v=0))
    kinds = [kind for kind, _ in delivered]
    assert "key" in kinds and kinds[-1] == "procedure" and delivered[-1][1].outcome == "success"
    replay = rec.feed(msk_msg(4, 0.3, 0x12, 1, v=0))
    assert ("finding", "mikey.replay") in [(k, getattr(o, "code", None)) for k, o in replay]
    assert rec.feed(ack(5, 0.4, 0x99))[0][1].code == "mikey.ack_unexpected"


# ---------------------------------------------------------------- TS 33.246 as written (#17)

def test_counters_compare_in_rfc1982_serial_arithmetic():
    from analyzer.flows.reconstructor import serial_newer

    assert serial_newer(5, 4) and not serial_newer(4, 5) and not serial_newer(4, 4)
    assert serial_newer(3, 0xFFFFFFFE)            # wrapped past 2^32: still newer
    assert not serial_newer(0xFFFFFFFE, 3)
    assert not serial_newer(1 << 31, 0) and not serial_newer(0, 1 << 31)  # undefined: dropped
    # an MTK counter that wraps is fresh, not a replay
    rec = feed(msk_msg(1, 0.0, 0x11, 1, v=0), mtk_msg(2, 1.0, 0xFFFFFFFF),
               mtk_msg(3, 2.0, 0, mtk="0002"))
    assert [f.code for f in rec.findings] == []
    assert [p.outcome for p in rec.procedures if p.procedure == "mtk_update"] == ["success"] * 2


def test_an_unchanged_mtk_resend_is_no_replay_and_an_older_message_is():
    rec = feed(msk_msg(1, 0.0, 0x11, 1, v=0), mtk_msg(2, 1.0, 5), mtk_msg(3, 1.5, 5),
               mtk_msg(4, 2.0, 6, mtk="0002"), mtk_msg(5, 3.0, 5))
    updates = [p for p in rec.procedures if p.procedure == "mtk_update"]
    assert [(p.outcome, p.detail.get("resend_of")) for p in updates] == \
        [("success", None), ("success", [0, 2]), ("success", None), ("failed", None)]
    assert [(f.code, f.frame) for f in rec.findings] == [("mikey.replay", 5)]
    mtk1 = rec.keys[("MTK", KD, MSK1, "0001", None, None)]
    assert [e.frame for e in mtk1.events if e.event == "delivered"] == [2]


def test_an_msk_resend_with_a_new_counter_belongs_to_the_same_push():
    rec = feed(msk_msg(1, 0.0, 0x11, 1), msk_msg(2, 2.0, 0x12, 2), ack(3, 2.1, 0x12))
    assert procs(rec) == [("msk_push", UE, "success", [1, 2, 3])]
    assert rec.procedures[0].detail == {"resends": 1}
    assert [f.code for f in rec.findings] == []


def test_key_number_0_is_a_trigger_and_an_empty_kemac_otherwise_a_validity_update():
    import dataclasses

    trigger = dataclasses.replace(msk_msg(1, 0.0, 0x11, 1, msk="00010000", v=0),
                                  empty_kemac=True)
    assert trigger.solicitation and not trigger.validity_update
    update = dataclasses.replace(msk_msg(2, 1.0, 0x12, 2, v=0), empty_kemac=True)
    assert update.validity_update and not update.solicitation
    rec = feed(msk_msg(0, -1.0, 0x10, 0, v=0), trigger, update)
    assert [p.procedure for p in rec.procedures] == ["msk_push", "solicited_pull", "msk_push"]
    msk = rec.keys[("MSK", KD, MSK1, None, None, None)]
    assert [e.event for e in msk.events] == ["delivered", "updated"]


def test_the_mtk_id_window_of_a_conformant_me_is_checked_and_the_key_still_used():
    import dataclasses

    msk = dataclasses.replace(msk_msg(1, 0.0, 0x11, 1, v=0), kv=(0, 3))
    rec = feed(msk, mtk_msg(2, 1.0, 1, mtk="0001"), mtk_msg(3, 2.0, 2, mtk="0001"),
               mtk_msg(4, 3.0, 3, mtk="0004"), mtk_msg(5, 4.0, 4, mtk="0003"))
    # 0001 fresh; 0001 again with a new counter: not above SEQl; 0004 above SEQu 0003;
    # then 0003 not above SEQl 0004
    assert [(f.code, f.frame) for f in rec.findings] == \
        [("mikey.mtk_window", 3), ("mikey.mtk_window", 4), ("mikey.mtk_window", 5)]
    assert all(f.severity == "warning" for f in rec.findings)
    assert [p.outcome for p in rec.procedures if p.procedure == "mtk_update"] == ["success"] * 4
    mtk4 = rec.keys[("MTK", KD, MSK1, "0004", None, None)]
    delivered = next(e for e in mtk4.events if e.event == "delivered")
    assert delivered.detail["refused_by"] == "mtk_window"


def test_tolerated_variants_are_warned_once_and_change_nothing_else():
    import dataclasses

    msk = msk_msg(1, 0.0, 0x11, 1)
    on_4359 = dataclasses.replace(msk, at=Where(0, 1, 1000.0, f"{BMSC}:4359", f"{UE}:4359"))
    mtk = dataclasses.replace(mtk_msg(3, 1.0, 1), has_rand=True)
    rec = feed(on_4359, ack(2, 0.1, 0x11, idr=None), mtk,
               dataclasses.replace(mtk_msg(4, 3.0, 2, mtk="0002"), has_rand=True))
    assert [(f.code, f.severity, f.frame) for f in rec.findings] == [
        ("mikey.port", "warning", 1), ("mikey.ack_no_idr", "warning", 2),
        ("mikey.mtk_rand", "warning", 3)]
    assert [(p.procedure, p.outcome) for p in rec.procedures] == [
        ("msk_push", "success"), ("mtk_update", "success"), ("mtk_update", "success")]
    # MIKEY carried in SDP or HTTP is not held to the UDP port
    in_sdp = dataclasses.replace(on_4359, carrier="sdp", v=0)
    assert [f.code for f in feed(in_sdp).findings] == []
