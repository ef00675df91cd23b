"""Issue #10 acceptance on the lab ``download`` capture: extract, decrypt, timeline."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "captures" / "lab-download.pcapng"
KEYS = CAPTURE.with_suffix(".keys.toml")
TRUTH = json.loads(KEYS.with_suffix(".truth.json").read_text())["downloads"]
GOLDEN = ROOT / "tests" / "golden" / "lab-download.extract.json"


def extract(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "files"
    proc = subprocess.run([sys.executable, "-m", "analyzer", "extract",
                           str(CAPTURE.relative_to(ROOT)), *extra, "-o", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    return proc, json.loads((out / "index.json").read_text()) if proc.returncode == 0 else {}


def test_every_complete_file_is_extracted_byte_identical_and_the_damaged_one_is_not(tmp_path):
    proc, index = extract(tmp_path, "--keys", str(KEYS.relative_to(ROOT)))
    assert proc.returncode == 0, proc.stderr
    assert index == json.loads(GOLDEN.read_text())
    files = {f["toi"]: f for f in index["files"] if f["result"] != "mikey"}
    assert sorted(files) == sorted(t["toi"] for t in TRUTH)
    # TS 33.246 §6.3.3.2.1: the MTK messages are files of the session, and come out as such
    keys = sorted(f["name"] for f in index["files"] if f["result"] == "mikey")
    assert keys == ["mtk1.mikey", "mtk2.mikey"]
    for truth in TRUTH:
        got = files[truth["toi"]]
        assert got["name"] == truth["name"] and got["complete"] == truth["complete"]
        if truth["complete"]:
            data = (tmp_path / "files" / got["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == truth["sha256"], truth["name"]
            assert got["md5"] == "ok"
            assert got["decrypted"] == (truth["mtk"] is not None)
            assert got["mtk"] == truth["mtk"]
        else:
            assert got["path"] is None and got["missing"] == [[7168, 8192]]
            assert got["mtk"] == truth["mtk"]  # its DCF headers came: they name the key
            assert not (tmp_path / "files" / truth["name"]).exists()
    written = sorted(p.name for p in (tmp_path / "files").iterdir())
    assert written == sorted(["index.json"] + keys + [t["name"] for t in TRUTH if t["complete"]])


def test_the_mtks_arrive_only_as_flute_objects_and_open_every_dcf():
    """The spec-true lab download: no MIKEY on UDP at all after the MSK requests; the MTK
    messages come as application/mikey files of the FLUTE session, are checked and learned
    there (``mtk_update`` procedures), and every complete DCF is decrypted with them."""
    out = subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--json", "--keys",
                          str(KEYS.relative_to(ROOT)), str(CAPTURE.relative_to(ROOT))],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout
    packets = [json.loads(line) for line in out.splitlines()]
    on_udp = [p for p in packets if p["protocol"] == "mikey" and "MTK" in p["summary"]]
    assert on_udp == []
    in_flute = [p for p in packets if p["protocol"] == "alc" and "MIKEY" in p["summary"]]
    assert len(in_flute) == 2 and all("MAC good" in p["summary"] for p in in_flute)
    timeline = subprocess.run([sys.executable, "-m", "analyzer", "export",
                               str(CAPTURE.relative_to(ROOT)), "--keys",
                               str(KEYS.relative_to(ROOT)), "-o", "/dev/stdout"],
                              capture_output=True, text=True, cwd=ROOT, check=True).stdout
    doc = json.loads(timeline[:timeline.rindex("}") + 1])
    assert [p["outcome"] for p in doc["procedures"] if p["procedure"] == "mtk_update"] == \
        ["success", "success"]
    results = {d["name"]: d["result"] for d in doc["downloads"]}
    for truth in TRUTH:
        want = "incomplete" if not truth["complete"] else ("clear" if truth["mtk"] is None
                                                             else "ok")
        assert results[truth["name"]] == want, truth["name"]


def test_without_keys_the_dcf_files_are_kept_as_they_came(tmp_path):
    proc, index = extract(tmp_path)
    assert proc.returncode == 0, proc.stderr
    kept = {f["name"]: f for f in index["files"]}
    assert kept["joke.html"]["path"] == "joke.html.dcf" and not kept["joke.html"]["decrypted"]
    assert kept["joke.html"]["result"] == "no_key" and kept["joke.html"]["mtk"]
    assert kept["terms.txt"]["result"] == "clear" and kept["terms.txt"]["path"] == "terms.txt"


def test_timeline_counts_each_download_as_a_use_of_its_mtk():
    doc = json.loads((ROOT / "tests" / "golden" / "lab-download.timeline.json").read_text())
    mtks = {k["mtk_id"]: k for k in doc["keys"] if k["kind"] == "MTK"}
    files_by_mtk: dict[str, int] = {}
    for t in TRUTH:
        if t["mtk"]:
            files_by_mtk[t["mtk"].rsplit("/", 1)[1]] = files_by_mtk.get(
                t["mtk"].rsplit("/", 1)[1], 0) + 1
    for mtk_id, n in files_by_mtk.items():
        events = {e["event"]: e for e in mtks[mtk_id]["events"]}
        assert events["last_use"]["detail"]["files"] == n
        assert events["first_use"]["time"] <= events["last_use"]["time"]
    codes = [f["code"] for f in doc["findings"]]
    assert codes == ["flute.incomplete"]
    assert [d["name"] for d in doc["downloads"] if not d["complete"]] == ["clip.3gp"]


@pytest.mark.parametrize("bad", [["-o", "/proc/nope/x"], ["--flute-port", "70000", "-o", "x"]])
def test_extract_errors_are_one_line(bad):
    proc = subprocess.run([sys.executable, "-m", "analyzer", "extract",
                           str(CAPTURE.relative_to(ROOT)), *bad], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode in (1, 2) and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_tui_lists_the_alc_packets_and_its_keys_view_counts_files():
    from analyzer.keys.store import load_keys
    from analyzer.tui.model import load
    from analyzer.tui.widgets.keys import _times

    out = load([str(CAPTURE)], load_keys(KEYS))
    assert not out.errors
    alc = [r.pkt for r in out.rows if r.pkt.protocol == "alc"]
    assert len(alc) >= 63 and any("news.html complete (DCF, ok)" in p.summary for p in alc)
    shown = {k["mtk_id"]: _times(k) for k in out.timeline["keys"] if k["kind"] == "MTK"}
    assert shown["0001"].endswith("10 packets, 2 files")
    assert shown["0002"].endswith("48 packets, 2 files")


def test_an_fdt_wrapped_in_a_dcf_is_read_and_its_signature_checked_with_its_mtk():
    """TS 33.246 §6.6.3: a protected download service protects its FDT too, in a DCF of its
    own (here NULL-encrypted, HMAC-SHA1 signed under the MTK its obki names)."""
    from analyzer.keys.store import KeyStore
    from analyzer.lab.download import wrap_fdt
    from analyzer.views.alc import open_fdt_dcf
    from dissectors.flute.fdt import build_fdt, parse_fdt

    fdt = build_fdt([{"TOI": 1, "Content-Location": "http://b/x", "Content-Length": 3}],
                    expires=1)
    mtk = {"kd": bytes.fromhex("02f810"), "msk_id": bytes.fromhex("00010001"),
           "mtk_id": bytes.fromhex("0001"), "key": bytes(range(16)), "csb": 7,
           "rand": bytes(16)}
    wrapped = wrap_fdt(None, fdt, mtk)
    store = KeyStore()
    store.learn_mtk(mtk["kd"], mtk["msk_id"], mtk["mtk_id"], mtk["key"], None, "test",
                    csb_id=7, rand=bytes(16))
    assert open_fdt_dcf(wrapped, store) == (fdt, "clear", "ok")
    assert open_fdt_dcf(wrapped, None) == (fdt, "clear", None)  # read, not yet checked
    forged = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
    assert open_fdt_dcf(forged, store)[2] == "bad"
    assert open_fdt_dcf(fdt, store) is None  # plain XML: no DCF
    assert [f.toi for f in parse_fdt(open_fdt_dcf(wrapped, None)[0]).files] == [1]
    # the spec-true lab capture: both transmissions of its wrapped FDT read, none refused
    out = subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--json", "--keys",
                          str(KEYS.relative_to(ROOT)), str(CAPTURE.relative_to(ROOT))],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout
    packets = [json.loads(line) for line in out.splitlines()]
    assert sum("FDT: 7 files" in p["summary"] for p in packets) == 1  # (the carousel: same)
    assert not [e for p in packets for e in p["errors"] if e["code"].startswith("flute.fdt")]
