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
    files = {f["toi"]: f for f in index["files"]}
    assert sorted(files) == sorted(t["toi"] for t in TRUTH)
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
    assert written == sorted(["index.json"] + [t["name"] for t in TRUTH if t["complete"]])


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
    from analyzer.keys import load_keys
    from analyzer.tui.model import load
    from analyzer.tui.widgets.keys import _times

    out = load([str(CAPTURE)], load_keys(KEYS))
    assert not out.errors
    alc = [r.pkt for r in out.rows if r.pkt.protocol == "alc"]
    assert len(alc) >= 63 and any("news.html complete (DCF, ok)" in p.summary for p in alc)
    shown = {k["mtk_id"]: _times(k) for k in out.timeline["keys"] if k["kind"] == "MTK"}
    assert shown["0001"].endswith("10 packets, 2 files")
    assert shown["0002"].endswith("48 packets, 2 files")
