"""What equipment of other vendors does, made by the lab's ``interop`` scenario (issue #11
point 7), each case checked on the whole pipeline (``export`` and ``decrypt``).

The cases: one MSK pushed to every UE with one CSB ID and the acks back in random
order (some with IDr, some without); a damaged MTK message followed by its intact
re-send; MTK messages ahead of the switch; two SRTP streams, one wrapping inside an
MTK (with a reordered pair across the wrap), one wrapping exactly at an MTK change;
a solicited pull refused with a message-level status code. Each failed on the
analyzer before this issue (15 false errors, lost SRTP, wrong outcomes).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.capture.reading import read_capture
from analyzer.capture.writer import PcapngWriter
from analyzer.keys.store import load_keys
from analyzer.lab.scenarios import Options
from analyzer.lab.scenarios import run as run_scenario
from analyzer.net.decode import decode_transport
from analyzer.output.decrypted import decrypt_captures
from analyzer.output.timeline import timeline
from analyzer.pipeline.session import Session


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("interop")
    world = run_scenario("interop", 11, Options(ues=4, duration=8.0))
    capture = tmp / "interop.pcapng"
    with PcapngWriter(capture) as writer:
        frames = world.sorted_frames()
        for frame in frames:
            writer.write(frame.time, frame.data)
    keys = tmp / "keys.toml"
    keys.write_text(world.keys_toml())
    keys.chmod(0o600)
    run = Session(load_keys(keys), reveal_keys=True)
    assert run.add_captures([capture]) == []
    notes = {n + 1: frame.note for n, frame in enumerate(frames)}
    return world, capture, keys, timeline(run), notes


def _frames(notes: dict[int, str], prefix: str) -> list[int]:
    return [frame for frame, note in notes.items() if note.startswith(prefix)]


def test_acks_are_paired_with_the_ue_that_sent_them(lab):
    world, _capture, _keys, doc, notes = lab
    pushes = [p for p in doc["procedures"] if p["procedure"] == "msk_push"]
    assert len(pushes) == 3 and all(p["outcome"] == "success" for p in pushes)
    for proc in pushes:
        ue = next(u for u in world.ues if u.ip == proc["ue"])
        ack = _frames(notes, f"ack ue{ue.index}")
        assert ack and ack[-1] in {f for _c, f in proc["frames"]}, proc
    codes = {f["code"] for f in doc["findings"]}
    assert not codes & {"mikey.mac_bad", "mikey.ack_unexpected", "mikey.ack_missing"}


def test_a_damaged_mtk_message_moves_no_counter_and_its_resend_is_taken(lab):
    _world, _capture, _keys, doc, notes = lab
    damaged = _frames(notes, "mtk")
    bad = [f for f in damaged if notes[f].endswith("(damaged)")]
    resent = [f for f in damaged if notes[f].endswith("(re-sent)")]
    assert bad and resent
    by_frame = {p["frames"][0][1]: p for p in doc["procedures"] if p["procedure"] == "mtk_update"}
    assert by_frame[bad[0]]["outcome"] == "failed"
    assert by_frame[resent[0]]["outcome"] == "success"
    assert "mikey.replay" not in {f["code"] for f in doc["findings"]}
    # the only error is the damage itself, at the damaged frame
    assert [(f["code"], f["frame"]) for f in doc["findings"] if f["severity"] == "error"] == \
        [("mikey.malformed", bad[0])]


def test_an_unchanged_mtk_resend_is_shown_as_such_and_is_no_replay(lab):
    _world, _capture, _keys, doc, notes = lab
    again = [f for f, note in notes.items() if note.endswith("(periodic re-send)")]
    first = [f for f, note in notes.items()
             if note == notes[again[0]].removesuffix(" (periodic re-send)")]
    by_frame = {p["frames"][0][1]: p for p in doc["procedures"] if p["procedure"] == "mtk_update"}
    assert by_frame[again[0]]["outcome"] == "success"
    assert by_frame[again[0]]["detail"]["resend_of"] == [0, first[0]]
    assert "mikey.replay" not in {f["code"] for f in doc["findings"]}


def test_an_mtk_id_outside_the_msk_window_is_found_and_still_learned(lab):
    _world, _capture, _keys, doc, notes = lab
    frame = next(f for f, note in notes.items() if note.startswith("mtk ffff"))
    assert [(f["code"], f["severity"]) for f in doc["findings"] if f["frame"] == frame] == \
        [("mikey.mtk_window", "warning")]
    key = next(k for k in doc["keys"] if k["kind"] == "MTK" and k["mtk_id"] == "ffff")
    delivered = next(e for e in key["events"] if e["event"] == "delivered")
    assert key["value"] and delivered["detail"]["refused_by"] == "mtk_window"


def test_every_srtp_packet_decrypts_across_wraps_key_changes_and_reordering(lab, tmp_path):
    world, capture, keys, doc, notes = lab
    out = tmp_path / "plain.pcap"
    result = decrypt_captures([str(capture)], load_keys(keys), str(out))
    srtp = _frames(notes, "srtp")
    assert result.replaced == len(srtp) and result.errors == []
    assert all(s.auth_failures == 0 and s.unknown_mki == 0 for s in result.streams)
    assert len(result.streams) == 2
    # the late packet of the reordered pair (seq 65535 after seq 0) is plain RTP, ROC 0
    late = _frames(notes, "srtp a (late)")[0]
    record = next(r for r in read_capture(out) if r.number == late)
    payload = decode_transport(record.linktype, record.data).payload
    assert int.from_bytes(payload[2:4], "big") == 65535 and len(payload) == 12 + 160
    assert not [f for f in doc["findings"] if f["code"].startswith("srtp.")]


def test_a_message_level_status_rejects_the_solicited_pull(lab):
    world, _capture, _keys, doc, _notes = lab
    late = world.ues[-1].ip
    pulls = [p for p in doc["procedures"] if p["procedure"] == "solicited_pull"]
    assert [(p["ue"], p["outcome"]) for p in pulls] == [(late, "rejected")]
    rejected = [e for k in doc["keys"] for e in k["events"] if e["event"] == "rejected"]
    assert [(e["ue"], e["detail"]) for e in rejected] == \
        [(late, {"status": 403, "reason": "not subscribed"})]


def test_the_lab_capture_is_the_same_bytes_for_the_same_seed(lab):
    world, capture, _keys, _doc, _notes = lab
    again = run_scenario("interop", 11, Options(ues=4, duration=8.0))
    assert [f.data for f in again.sorted_frames()] == [f.data for f in world.sorted_frames()]
    assert Path(capture).stat().st_size > 0
