"""The pictures' data (no Textual): time formats, the Timeline chart, the Plots."""

from __future__ import annotations

import json

from analyzer.tui.chart import bounds, lanes, render, tick_label
from analyzer.tui.plots import solicitations, streams
from analyzer.tui.timefmt import TimeFormat, format_time
from tests.conftest import CAPTURES, ROOT

GOLDEN = ROOT / "tests" / "golden"


def _doc(name: str) -> dict:
    return json.loads((GOLDEN / f"{name}.timeline.json").read_text())


def test_time_formats_as_wireshark_shows_them():
    t = 1700000000.397997  # 2023-11-14 22:13:20.397997 UTC
    assert format_time(t, TimeFormat.RELATIVE, 1700000000.0) == "0.397997"
    assert format_time(t, TimeFormat.ABSOLUTE) == "2023-11-14 22:13:20.397997"
    assert format_time(t, TimeFormat.DELTA, previous=1700000000.3) == "0.097997"
    assert format_time(t, TimeFormat.DELTA) == "0.000000"  # the first item
    assert [f.value for f in (TimeFormat.RELATIVE.next(), TimeFormat.ABSOLUTE.next(),
                              TimeFormat.DELTA.next())] == ["absolute", "delta", "relative"]


def test_lanes_follow_each_key_through_its_states():
    doc = _doc("lab-push")
    ls = lanes(doc["keys"], doc["findings"])
    labels = [lane.label for lane in ls]
    assert labels[0].startswith("MSK ") and labels[1].strip().startswith("MTK ")
    first_msk = ls[0]
    states = {s for _a, _b, s in first_msk.spans}
    assert states == {"valid", "in use", "superseded"}  # MSK 1 was pushed away by MSK 2
    ev = {e["event"]: e["time"] for e in first_msk.key["events"] if e["event"] != "delivered"}
    in_use = next((a, b) for a, b, s in first_msk.spans if s == "in use")
    assert in_use == (ev["first_use"], ev["last_use"])
    deliveries = [t for t, glyph, _ in first_msk.marks if glyph == "┃"]
    assert len(deliveries) == sum(e["event"] == "delivered" for e in first_msk.key["events"])
    assert labels[-1] == "findings" and len(ls[-1].marks) == len(doc["findings"])


def test_a_finding_at_a_key_event_is_marked_on_its_lane():
    doc = _doc("lab-push")  # a UE never acks its MSK: mikey.ack_missing at the delivery
    ls = lanes(doc["keys"], doc["findings"])
    missing = next(f for f in doc["findings"] if f["code"] == "mikey.ack_missing")
    on_lane = [lane for lane in ls[:-1] if any(t == missing["time"] and glyph == "▲"
                                               for t, glyph, _s in lane.marks)]
    assert on_lane and all(lane.key["kind"] == "MSK" for lane in on_lane)
    assert any(e["frame"] == missing["frame"] for e in on_lane[0].key["events"])


def test_the_chart_fits_its_width_and_ticks_speak_the_time_format():
    doc = _doc("lab-basic")
    ls = lanes(doc["keys"], doc["findings"])
    t0, t1 = bounds(ls)
    origin = doc["captures"][0]["start"]
    for fmt in TimeFormat:
        lines = render(ls, t0, t1, 100, fmt, origin, cursor=0)
        assert all(line.cell_len <= 100 for line in lines)
        assert len(lines) == 2 + len(ls) + 2  # labels, axis, lanes, blank, legend
        assert "┬" in lines[1].plain
    assert tick_label(origin + 2.5, TimeFormat.RELATIVE, origin, origin) == "2.5s"
    assert tick_label(1700000001.25, TimeFormat.ABSOLUTE, origin, origin) == "22:13:21.250"
    assert tick_label(origin + 0.25, TimeFormat.DELTA, origin, origin) == "+250 ms"
    zoomed = render(ls, t0, t0 + (t1 - t0) / 4, 100, TimeFormat.RELATIVE, origin)
    assert zoomed[-1].plain != render(ls, t0, t1, 100, TimeFormat.RELATIVE, origin)[-1].plain


def test_stream_plots_from_the_dissected_srtp():
    from analyzer.keys.store import load_keys
    from analyzer.pipeline.session import Session

    packets = []
    run = Session(load_keys(CAPTURES / "lab-interop.keys.toml"),
                  on_packet=lambda pkt, _data: packets.append(pkt), workers=1)
    run.add_captures([CAPTURES / "lab-interop.pcapng"])
    series = streams(packets)
    assert len(series) == 2  # two SRTP streams in the interop scenario
    for s in series:
        srtp = [p for p in packets if p.srtp is not None and p.srtp.ssrc == s.ssrc]
        assert s.total == len(srtp) and s.failed == sum(p.srtp.result == "auth" for p in srtp)
        keys = []
        for p in sorted(srtp, key=lambda p: p.time):
            if p.srtp.result == "ok" and (not keys or keys[-1] != p.srtp.key):
                keys.append(p.srtp.key)
        assert [k for _t, k in s.changes] == keys and len(keys) >= 3


def test_solicitation_delays_from_the_timeline():
    doc = _doc("lab-solicited-pull")
    bursts = solicitations(doc)
    pulls = [p for p in doc["procedures"] if p["procedure"] == "solicited_pull"]
    assert bursts and sum(b.solicited for b in bursts) == len(pulls)
    delays = sorted(p["detail"]["delay"] for p in pulls if "delay" in p.get("detail", {}))
    assert sorted(d for b in bursts for d in b.delays) == delays
    b = bursts[0]
    assert sum(b.histogram(10)) == len(b.delays) and "median" in b.summary()
