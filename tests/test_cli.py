"""The ``dissect`` command line: text and JSON, several files, errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import CAPTURES, ROOT, SHARED_CAPTURES
from tests.demo_capture import DEMO, GOLDEN

SHARED = sorted(SHARED_CAPTURES.glob("*.pcap*")) if SHARED_CAPTURES.is_dir() else []


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_demo_capture_matches_golden_json():
    proc = run("dissect", "--json", "captures/mikey-demo.pcap")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == GOLDEN.read_text()


def test_demo_capture_finds_every_carrier():
    objs = [json.loads(line) for line in GOLDEN.read_text().splitlines()]
    summaries = {o["frame"]: o["summary"] for o in objs}
    assert "(in SDP)" in summaries[5] and "(in RTSP)" in summaries[6]
    assert summaries[7] == "BM-SC POST /keys, MIKEY PK ver msg, MTK 00f110/45061745/dd98"
    assert summaries[4].startswith("MIKEY PSK msg, MSK 00f110/00010002")  # heuristic, port 5000
    assert 9 not in summaries  # random bytes on another port are not MIKEY
    assert objs[-1]["errors"][0]["code"] == "mikey.malformed"  # the truncated message
    for obj in objs:
        assert set(obj) == {"capture", "frame", "time", "src", "dst", "protocol", "summary",
                            "fields", "errors"}
        assert obj["protocol"] == ("bmsc" if obj["frame"] == 7 else "mikey")
        assert all(isinstance(name, str) and len(pair) == 2 for pair in obj["fields"]
                   for name in pair[:1])


def test_text_tree_like_tshark_v():
    proc = run("dissect", "captures/mikey-demo.pcap")
    assert proc.returncode == 0
    text = proc.stdout
    assert "Common Header (HDR) Type: Pre-shared" in text
    assert "CSB ID: 0x01020304" in text
    assert "MBMS Service Key ID: 00010002" in text
    assert "[error] mikey.malformed" in text


@pytest.mark.parametrize("capture", SHARED or [pytest.param(
    None, marks=pytest.mark.skip(reason="needs ../shared/captures beside the repo"))],
    ids=lambda p: p.name if p is not None else "none")
def test_shared_captures_dissect_in_text_and_json(capture):
    for args in (("dissect", str(capture)), ("dissect", "--json", str(capture))):
        proc = run(*args)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""


def test_corpus_dissects_in_text_and_json(corpus_pcap, corpus):
    proc = run("dissect", "--json", str(corpus_pcap))
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == len(corpus)
    text = run("dissect", str(corpus_pcap))
    assert text.returncode == 0 and text.stdout.count("\nFrame ") + 1 == len(corpus)


def test_missing_file_is_one_line_and_the_others_still_dissected(tmp_path):
    proc = run("dissect", "--json", str(tmp_path / "nope.pcap"), str(DEMO))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "nope.pcap" in proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 8 and {o["capture"] for o in lines} == {1}


def test_not_a_capture_and_truncated_capture(tmp_path):
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"hello world, not a capture")
    proc = run("dissect", str(junk))
    assert proc.returncode == 1 and "not a pcap" in proc.stderr and "Traceback" not in proc.stderr
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(DEMO.read_bytes()[:-30])
    proc = run("dissect", "--json", str(cut))
    assert proc.returncode == 1
    assert "truncated at offset" in proc.stderr
    assert len(proc.stdout.splitlines()) == 8  # every MBMS packet before the damaged record 9


def test_pcapng_gives_the_same_packets(tmp_path):
    from scapy.utils import PcapNgWriter, rdpcap

    ng = tmp_path / "demo.pcapng"
    with PcapNgWriter(str(ng)) as writer:
        for pkt in rdpcap(str(DEMO)):
            writer.write(pkt)
    a = [json.loads(x) for x in run("dissect", "--json", str(DEMO)).stdout.splitlines()]
    b = [json.loads(x) for x in run("dissect", "--json", str(ng)).stdout.splitlines()]
    assert [(o["frame"], o["fields"]) for o in a] == [(o["frame"], o["fields"]) for o in b]
    assert [round(o["time"], 6) for o in a] == [round(o["time"], 6) for o in b]


def test_bad_usage_exits_2():
    proc = run("dissect")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert run("frobnicate").returncode == 2


def test_secret_key_data_hidden_unless_revealed(tmp_path):
    from dissectors.mikey import MIKEY, MIKEY_KEMAC, MIKEY_KeyData
    from tests.corpus import write_pcap

    key = bytes.fromhex("69206b6e6f7720616c6c20796f757220")
    msg = bytes(MIKEY(data_type=0, cs_id_map_type=1) / MIKEY_KEMAC(
        encr_alg=0, key_data=[MIKEY_KeyData(next_payload=0, key_type=2, key_data=key)], mac_alg=0))
    pcap = tmp_path / "null.pcap"
    write_pcap(pcap, [msg])
    for args in (("dissect", str(pcap)), ("dissect", "--json", str(pcap))):
        assert key.hex() not in run(*args).stdout
    revealed = run("dissect", "--json", "--reveal-keys", str(pcap)).stdout
    assert ["mikey.key.data", key.hex()] in json.loads(revealed)["fields"]


def test_every_capture_in_the_folder_matches_its_golden_json():
    captures = sorted(CAPTURES.glob("*.pcap*"))
    assert captures
    for capture in captures:
        golden = ROOT / "tests" / "golden" / f"{capture.stem}.dissect.jsonl"
        assert golden.is_file(), capture
        proc = run("dissect", "--json", str(capture.relative_to(ROOT)))
        assert proc.returncode == 0 and proc.stdout == golden.read_text(), capture
        keys = CAPTURES / f"{capture.stem}.keys.toml"
        if keys.is_file():
            golden_keys = ROOT / "tests" / "golden" / f"{capture.stem}.dissect-keys.jsonl"
            proc = run("dissect", "--json", "--keys", str(keys), str(capture))
            assert proc.returncode == 0 and proc.stdout == golden_keys.read_text(), capture


def test_key_files_readable_by_others_are_warned_about(tmp_path):
    import os

    keys = tmp_path / "keys.toml"
    keys.write_text('[[srtp]]\nkey = "00112233445566778899aabbccddeeff"\nsalt = "00112233445566778899aabbccdd"\n')
    capture = str(ROOT / "captures" / "mikey-demo.pcap")
    for mode, public, warned in ((0o644, False, True), (0o600, False, False), (0o644, True, False)):
        if public:
            keys.write_text("[settings]\npublic = true\n" + keys.read_text())
        os.chmod(keys, mode)
        proc = subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--keys", str(keys),
                               capture], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 0
        assert ("readable by others (mode 0644): chmod 600" in proc.stderr) == warned, proc.stderr
        assert "00112233445566778899" not in proc.stderr + proc.stdout  # never the key itself
    out = tmp_path / "lab.toml"
    subprocess.run([sys.executable, "-m", "analyzer", "lab", "--scenario", "basic", "--duration",
                    "1", "-o", str(tmp_path / "l.pcapng"), "--keys-out", str(out)], check=True,
                   cwd=ROOT, capture_output=True)
    assert out.stat().st_mode & 0o777 == 0o600


def test_srtp_rows_make_their_tree_when_first_read():
    """The TUI lists tens of thousands of SRTP rows and opens few: a row's tree is made
    when read, and is then what the golden ``dissect --json`` line holds."""
    from analyzer.keys.store import load_keys
    from analyzer.pipeline.session import Session

    capture = CAPTURES / "lab-attacks.pcapng"
    rows: list = []
    run_ = Session(load_keys(CAPTURES / "lab-attacks.keys.toml"),
                   on_packet=lambda pkt, data: rows.append(pkt), workers=1)
    assert not run_.add_captures([capture])
    srtp = [p for p in rows if p.protocol in ("srtp", "srtcp")]
    assert len(srtp) > 100 and all(p._items is None for p in srtp)
    golden = {(o["capture"], o["frame"]): o for o in map(
        json.loads, (ROOT / "tests" / "golden" / "lab-attacks.dissect-keys.jsonl")
        .read_text().splitlines())}
    for pkt in srtp:
        assert pkt.to_json() == golden[(pkt.capture, pkt.frame)]
    assert all(p._items for p in srtp)
