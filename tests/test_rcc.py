"""RFC 4771 (RCC) on the whole pipeline: the lab's MSK messages carry the SRTP SP of
TS 33.246 §6.6.2.1 (RCCm1/2/3 in type 14, tag length 14, R in type 13), the MTK
streams carry the ROC every R packets; ``decrypt``, ``export`` and ``dissect`` take
the policy from the SP. (The transform itself is checked against libsrtp in
``tests/test_srtp_libsrtp.py``.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from analyzer.capture.writer import PcapngWriter
from analyzer.keys.store import load_keys
from analyzer.lab.scenarios import Options
from analyzer.lab.scenarios import run as run_scenario
from analyzer.output.decrypted import decrypt_captures
from analyzer.output.timeline import timeline
from analyzer.pipeline.session import Session
from tests.conftest import ROOT


def _lab(tmp_path, mode: int, r: int):
    world = run_scenario("interop", 5, Options(ues=4, duration=5.0, rcc=mode, rcc_r=r))
    capture = tmp_path / "rcc.pcapng"
    with PcapngWriter(capture) as writer:
        for frame in world.sorted_frames():
            writer.write(frame.time, frame.data)
    keys = tmp_path / "keys.toml"
    keys.write_text(world.keys_toml())
    keys.chmod(0o600)
    return world, capture, keys


@pytest.mark.parametrize("r", [1, 16])
@pytest.mark.parametrize("mode", [1, 2, 3])
def test_rcc_streams_decrypt_through_every_key_change_and_wrap(tmp_path, mode, r):
    world, capture, keys = _lab(tmp_path, mode, r)
    srtp = sum(1 for f in world.frames if f.note.startswith("srtp"))
    result = decrypt_captures([str(capture)], load_keys(keys), str(tmp_path / "p.pcap"))
    assert all(s.auth_failures == 0 and s.unknown_mki == 0 for s in result.streams)
    waiting = sum(s.waiting_roc for s in result.streams)
    assert result.replaced == srtp - waiting and waiting < 2 * r  # only before the first RCC
    run = Session(load_keys(keys))
    run.add_captures([capture])
    doc = timeline(run)
    assert not [f for f in doc["findings"] if f["code"].startswith("srtp.")]


def test_dissect_shows_the_rcc_mode_and_the_roc_carried(tmp_path):
    _world, capture, keys = _lab(tmp_path, 2, 4)
    out = subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--json", "--keys",
                          str(keys), str(capture)], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout
    srtp = [dict(map(tuple, o["fields"])) for o in map(json.loads, out.splitlines())
            if o["protocol"] == "srtp"]
    opened = [f for f in srtp if f.get("srtp.result") == "ok"]
    assert opened and all(f["srtp.rcc.mode"] == "RCCm2" for f in opened)
    carried = [f for f in opened if "srtp.rcc.roc" in f]
    assert carried and all(f["rtp.seq"] % 4 == 0 and f["srtp.rcc.roc"] == f["srtp.roc"]
                           for f in carried)
    assert {len(f["srtp.auth_tag"]) // 2 for f in opened} == {14}  # ROC || MAC, or the MAC
    assert all(len(f["srtp.mki"]) == 12 for f in opened)


@pytest.mark.tshark
def test_tshark_decodes_the_rcc_security_policy_without_malformed(tmp_path):
    world, capture, _keys = _lab(tmp_path, 1, 16)
    damaged = {n + 1 for n, f in enumerate(world.sorted_frames()) if f.note.endswith("(damaged)")}
    out = subprocess.run(["tshark", "-r", str(capture), "-d", "udp.port==2269,mikey", "-Y",
                          "mikey", "-T", "fields", "-e", "frame.number", "-e", "_ws.malformed",
                          "-e", "mikey.sp.auth_tag_len"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    rows = [line.split("\t") for line in out]
    assert rows and all(not malformed for frame, malformed, _ in rows
                        if int(frame) not in damaged)
    assert {tag for _f, _m, tag in rows if tag} == {"14"}  # the SP of every MSK message
