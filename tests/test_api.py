"""The Python API: the README's examples run, the API gives what the command line gives,
and mypy passes on it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import CAPTURES, ROOT


def _readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API and Scapy", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.mark.parametrize("n", range(2))
def test_the_readme_examples_run(tmp_path, n):
    blocks = _readme_blocks()
    assert len(blocks) == 2
    (tmp_path / "captures").symlink_to(CAPTURES)
    proc = subprocess.run([sys.executable, "-c", blocks[n]], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    if n == 0:
        assert "MAC good" in out and "packets decrypted" in out
        assert (tmp_path / "plain.pcap").stat().st_size > 0
    else:
        assert "MIKEY / MIKEY_T" in out and "@" in out  # a B-TID and its MSK IDs


def test_the_api_gives_what_the_command_line_gives(tmp_path):
    from analyzer.api import analyze

    capture, keys = CAPTURES / "lab-push.pcapng", CAPTURES / "lab-push.keys.toml"
    run = analyze([capture], keys=keys)
    lines = [json.dumps(p.to_json(), ensure_ascii=False, separators=(", ", ": "))
             for p in run.packets()]
    cli = subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--json", "--keys",
                          str(keys), str(capture)], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout.splitlines()
    assert lines == cli
    out = tmp_path / "t.json"
    subprocess.run([sys.executable, "-m", "analyzer", "export", str(capture), "--keys",
                    str(keys), "-o", str(out)], check=True, cwd=ROOT, capture_output=True)
    doc = json.loads(json.dumps(run.timeline()))  # as written: tuples become lists
    cli_doc = json.loads(out.read_text())
    for part in ("keys", "procedures", "findings", "ues"):
        assert doc[part] == cli_doc[part], part


def test_packets_can_stop_early_and_errors_are_kept(tmp_path):
    from analyzer.api import analyze

    run = analyze([tmp_path / "none.pcap", CAPTURES / "lab-basic.pcapng"])
    first = next(iter(run.packets()))
    assert first.protocol == "bmsc"
    assert len(list(run.packets())) > 100 and run.errors and "none.pcap" in run.errors[0]


def test_follow_reads_a_capture_while_it_grows(tmp_path):
    """A capture written while we read it (as dumpcap writes): packets as they come."""
    import threading
    import time

    from analyzer.api import follow

    source = (CAPTURES / "lab-basic.pcapng").read_bytes()
    path = tmp_path / "live.pcapng"
    path.write_bytes(source[:4096])
    done = threading.Event()

    def writer() -> None:
        for at in range(4096, len(source), 4096):
            time.sleep(0.01)
            with open(path, "ab") as fh:
                fh.write(source[at:at + 4096])
        done.set()
    threading.Thread(target=writer, daemon=True).start()
    got = list(follow(path, lambda: not done.is_set(), keys=CAPTURES / "lab-basic.keys.toml"))
    from analyzer.api import analyze
    assert [p.frame for p in got] == [p.frame for p in analyze(
        [CAPTURES / "lab-basic.pcapng"], keys=CAPTURES / "lab-basic.keys.toml").packets()]


def test_mypy_passes_on_the_api():
    pytest.importorskip("mypy")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
                           "analyzer/api.py"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (ROOT / "analyzer" / "py.typed").is_file() and shutil.which  # marker shipped
