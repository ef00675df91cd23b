"""Every front end runs the one pipeline: the same captures, keys and profile give the
same keys, procedures and findings in ``export``, ``dissect``, ``decrypt``,
``extract``, the TUI and ``sniff --headless`` (issue #11, point 6).

The input is two taps of one lab capture: the BM-SC's (everything) and a UE's
(its own traffic and the multicast, on a clock 2.5 s off), with ``--flute-port``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.capture.reading import read_capture
from analyzer.capture.writer import PcapWriter
from analyzer.keys.store import load_keys
from analyzer.net.decode import decode_transport
from analyzer.output.timeline import timeline
from analyzer.pipeline.session import Session

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT / "captures"
SHIFT = 2.5


def _taps(capture: Path, ue: str, tmp: Path) -> list[Path]:
    bmsc, mine = tmp / f"{capture.stem}-bmsc.pcap", tmp / f"{capture.stem}-ue.pcap"
    with PcapWriter(bmsc) as a, PcapWriter(mine) as b:
        for rec in read_capture(capture):
            a.write(rec)
            tp = decode_transport(rec.linktype, rec.data)
            if tp is not None and (ue in (tp.src, tp.dst) or tp.dst.startswith("232.")):
                b.write(type(rec)(rec.number, rec.time + SHIFT, rec.linktype, rec.data,
                                  rec.orig_len))
    return [bmsc, mine]


def _cli(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module", params=["lab-basic", "lab-download", "lab-attacks"])
def taps(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    paths = _taps(CAPTURES / f"{request.param}.pcapng", "10.1.0.1", tmp)
    keys = CAPTURES / f"{request.param}.keys.toml"
    out = tmp / "timeline.json"
    _cli("export", *map(str, paths), "--keys", str(keys), "--flute-port", "4001", "-o", str(out))
    return tmp, paths, keys, json.loads(out.read_text())


def _story(doc: dict) -> tuple:
    """Keys with their states and events, procedures, findings: what must agree."""
    keys = sorted((k["kind"], k["key_domain"], k["msk_id"], k["mtk_id"], k["idr"], k["state"],
                   tuple((e["event"], e["capture"], e["frame"], e["ue"]) for e in k["events"]))
                  for k in doc["keys"])
    procs = sorted((p["procedure"], p["ue"], p["outcome"], tuple(map(tuple, p["frames"])))
                   for p in doc["procedures"])
    finds = sorted((f["code"], f["severity"], f["capture"], f["frame"]) for f in doc["findings"])
    return keys, procs, finds


def test_the_tui_loads_the_same_timeline(taps):
    from analyzer.tui.model import PacketIndex, load

    _tmp, paths, keys, doc = taps
    from analyzer.cli import _profile, build_parser

    args = build_parser().parse_args(["open", *map(str, paths), "--flute-port", "4001"])
    profile = _profile(args)
    loaded = load(list(map(str, paths)), load_keys(keys), index=PacketIndex(list(map(str, paths))),
                  profile=profile)
    assert loaded.errors == []
    assert _story(loaded.timeline) == _story(doc)
    # its rows are the packets dissect shows, in the same order
    rows = [(r.pkt.capture, r.pkt.frame, r.pkt.summary) for r in loaded.rows]
    shown = [json.loads(line) for line in _cli("dissect", "--json", "--keys", str(keys),
                                                "--flute-port", "4001",
                                                *map(str, paths)).stdout.splitlines()]
    seen: set = set()  # (the TUI also lists objects still incomplete at the end, again)
    firsts = [r[:2] for r in rows if not (r[:2] in seen or seen.add(r[:2]))]
    assert [(o["capture"], o["frame"]) for o in shown] == firsts


def test_dissect_shows_what_export_learned(taps):
    _tmp, paths, keys, doc = taps
    shown = [json.loads(line) for line in _cli("dissect", "--json", "--keys", str(keys),
                                                "--flute-port", "4001",
                                                *map(str, paths)).stdout.splitlines()]
    # every MIKEY message whose MAC verified, and nothing else, delivered a key in export
    good = set()
    for obj in shown:
        fields = obj["fields"]
        for n, (name, value) in enumerate(fields):
            if name == "mikey.kemac.mac_status" and value == "good":
                good.add((obj["capture"], obj["frame"]))
    delivered = {(e["capture"], e["frame"]) for k in doc["keys"] for e in k["events"]
                 if e["event"] == "delivered" and e["detail"].get("mac") == "good"}
    assert delivered and delivered <= good
    # the SRTP packets export counted as uses of each MTK are those dissect opened with it
    uses = {(k["msk_id"], k["mtk_id"]): next((e["detail"]["uses"] for e in k["events"]
                                              if e["event"] == "last_use"), 0)
            for k in doc["keys"] if k["kind"] == "MTK"}
    opened: dict[tuple, int] = {}
    seen = set()
    for obj in shown:
        f = dict((name, value) for name, value in obj["fields"])
        if obj["protocol"] == "srtp" and f.get("srtp.result") == "ok":
            ident = (f["rtp.ssrc"], f["rtp.seq"], f["srtp.auth_tag"])
            if ident in seen:  # the second tap's copy
                continue
            seen.add(ident)
            kd, msk, mtk = f["srtp.key"].removeprefix("MTK ").split("/")
            opened[(msk, mtk)] = opened.get((msk, mtk), 0) + 1
    for ident, count in opened.items():
        assert uses[ident] >= count, ident


def test_decrypt_opens_with_the_keys_export_learned(taps):
    tmp, paths, keys, doc = taps
    out = _cli("decrypt", *map(str, paths), "--keys", str(keys), "--flute-port", "4001",
               "-o", str(tmp / "plain.pcap")).stdout
    used = set(re.findall(r"MTK [0-9a-f]+/([0-9a-f]+)/([0-9a-f]+)", out))
    in_export = {(k["msk_id"], k["mtk_id"]) for k in doc["keys"] if k["kind"] == "MTK"
                 and any(e["event"] == "first_use" for e in k["events"])
                 and not any(f.get("files") for f in (e["detail"] for e in k["events"]))}
    assert used >= {u for u in in_export if u in used} and used <= {
        (k["msk_id"], k["mtk_id"]) for k in doc["keys"] if k["kind"] == "MTK"}
    total = sum(len(list(read_capture(p))) for p in paths)
    assert f"of {total} packets decrypted" in out


def test_extract_and_sniff_headless_take_the_same_pipeline(taps):
    tmp, paths, keys, doc = taps
    files = tmp / "files"
    _cli("extract", *map(str, paths), "--keys", str(keys), "--flute-port", "4001", "-o",
         str(files))
    index = json.loads((files / "index.json").read_text())
    assert [(f["tsi"], f["toi"]) for f in index["files"]] == \
        [(d["tsi"], d["toi"]) for d in doc["downloads"]]
    # sniff --headless reads a growing file: the same pipeline, followed to its end
    run = Session(load_keys(keys))
    run.add_captures([paths[0]], follow=lambda: False)
    alone = Session(load_keys(keys))
    alone.add_captures([paths[0]])
    assert _story(timeline(run)) == _story(timeline(alone))


def test_dissect_tries_a_written_off_srtp_flow_again_once_its_key_is_learned(tmp_path):
    """A tap that starts with SRTP before any MIKEY, with a key-file key that opens
    none of it: the flow is written off; once the MTKs are learned from the capture,
    ``dissect`` shows its packets again, as ``export`` counts them."""
    from analyzer.capture.reading import Record
    from analyzer.pipeline.srtp_step import srtp_target

    records = list(read_capture(CAPTURES / "lab-basic.pcapng"))
    early = [r for r in records if srtp_target(r) is not None][:20]
    capture = tmp_path / "late-keys.pcap"
    with PcapWriter(capture) as out:
        for n, rec in enumerate(early):  # the stream, heard before its keys came
            out.write(Record(0, records[0].time - 1 + n * 0.02, rec.linktype, rec.data,
                             rec.orig_len))
        for rec in records:
            out.write(rec)
    keys = tmp_path / "keys.toml"
    keys.write_text((CAPTURES / "lab-basic.keys.toml").read_text()
                    + '\n[[srtp]]\nkey = "000102030405060708090a0b0c0d0e0f"\n'
                    'salt = "000102030405060708090a0b0c0d"\nssrc = 1\n')
    proc = subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--json", str(capture),
                           "--keys", str(keys)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    opened = [r for r in rows if r["protocol"] == "srtp"]
    run = Session(load_keys(keys))
    run.add_captures([str(capture)])
    used = sum(k.uses for k in run.rec.keys.values() if k.kind == "MTK")
    assert used > 200 and len(opened) >= used, (len(opened), used)


def test_taps_losing_different_srtp_packets_give_the_tui_the_export_timeline(tmp_path):
    """Two taps of one stream, each losing its own 30 % of the RTP-like packets: an
    SRTP packet both heard counts once, one only a tap heard counts there, in the TUI
    (SRTP rows) as in ``export`` (its SRTP step). Every SRTP row once counted as a
    copy of whatever SRTP row another tap had shown within 2 s."""
    import random

    from analyzer.tui.model import PacketIndex, load

    capture, keys = CAPTURES / "lab-basic.pcapng", CAPTURES / "lab-basic.keys.toml"
    paths = []
    for k in range(2):
        rng = random.Random(k)
        paths.append(tmp_path / f"tap{k}.pcap")
        with PcapWriter(paths[-1]) as out:
            for rec in read_capture(capture):
                tp = decode_transport(rec.linktype, rec.data)
                if tp is not None and tp.proto == "udp" and tp.payload[:1] \
                        and tp.payload[0] >> 6 == 2 and rng.random() < 0.3:
                    continue
                out.write(rec)

    def uses(*taps: Path) -> tuple[dict, int]:
        doc = tmp_path / "timeline.json"
        _cli("export", *map(str, taps), "--keys", str(keys), "-o", str(doc))
        exported = json.loads(doc.read_text())
        return exported, sum(e["detail"]["uses"] for k in exported["keys"]
                             for e in k["events"] if e["event"] == "last_use")

    exported, both = uses(*paths)
    assert both > uses(paths[0])[1] + 30  # (what either tap heard: more than one alone)
    loaded = load(list(map(str, paths)), load_keys(keys),
                  index=PacketIndex(list(map(str, paths))))
    assert loaded.timeline == exported
