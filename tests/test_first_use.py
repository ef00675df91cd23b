"""The first minutes of a new user: the README's quick start in a real terminal (tmux),
and the command line's answers to the mistakes people make (one line on stderr, the
documented exit code, never a traceback, no output file when nothing could be read)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CAPTURES, ROOT

README = ROOT / "README.md"


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    err = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert err and all(line.startswith("mbms-analyzer") for line in err), proc.stderr
    return proc.stderr


def test_version():
    proc = _cli("--version")
    assert proc.returncode == 0 and re.fullmatch(r"mbms-analyzer \d+\.\d+\.\d+\n", proc.stdout)


@pytest.mark.parametrize("args,code,says", [
    (["lab", "--scenario", "basic", "-o", "{tmp}/x.pcapng", "--keys-out",
      "{tmp}/missing/k.toml"], 1, "no folder"),
    (["lab", "--scenario", "basic", "-o", "{tmp}/missing/x.pcapng"], 1, "no folder"),
    (["lab", "--scenario", "basic", "--send", "192.0.2.7"], 2, "not an address of this machine"),
    (["lab", "--scenario", "basic", "--send", "no-such-host.invalid"], 2, "cannot resolve"),
    (["lab", "--scenario", "basic", "--ues", "0", "-o", "{tmp}/x.pcapng"], 2, "--ues >= 1"),
    (["lab", "--scenario", "basic", "--duration", "-1", "-o", "{tmp}/x.pcapng"], 2,
     "--duration >= 0"),
    (["export", "{tmp}/none.pcap", "-o", "{tmp}/out.json"], 1, "No such file"),
    (["extract", "{tmp}/none.pcap", "-o", "{tmp}/files"], 1, "No such file"),
    (["decrypt", "{tmp}/none.pcap", "--keys", str(CAPTURES / "lab-basic.keys.toml"), "-o",
      "{tmp}/out.pcap"], 1, "No such file"),
    (["export", str(CAPTURES / "lab-basic.pcapng"), "-o", "{tmp}/missing/out.json"], 1,
     "no folder"),
    (["extract", str(CAPTURES / "lab-download.pcapng"), "-o", "{tmp}/missing/files"], 1,
     "no folder"),
    (["open", "{tmp}/none.pcap"], 1, "No such file"),
    (["open", "{tmp}/empty.pcap"], 1, "empty file"),
    (["open", "{tmp}"], 1, "is a directory"),
    (["open", str(README)], 1, "not a pcap or pcapng file"),
    (["dissect", "{tmp}/empty.pcap"], 1, "empty file"),
])
def test_mistakes_get_one_line_and_the_documented_code(tmp_path, args, code, says):
    (tmp_path / "empty.pcap").write_bytes(b"")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    proc = _cli(*args)
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert says in _one_line_error(proc)
    assert not proc.stdout.strip(), proc.stdout  # no success summary
    made = {p.name for p in tmp_path.iterdir()} - {"empty.pcap"}
    assert not made, made  # nothing written


def test_a_failed_input_among_good_ones_is_reported_and_the_rest_done(tmp_path):
    out = tmp_path / "t.json"
    proc = _cli("export", str(tmp_path / "none.pcap"), str(CAPTURES / "lab-basic.pcapng"),
                "-o", str(out))
    assert proc.returncode == 1 and out.exists() and "none.pcap" in proc.stderr
    assert "procedures" in proc.stdout


def _quick_start() -> list[str]:
    """The README's first set-up command, without its install step."""
    blocks = re.findall(r"```sh\n(.*?)\n```", README.read_text(), re.S)
    command = blocks[0].strip().split("&&", 1)[1].split()
    assert command[0] == "mbms-analyzer"
    # the console script is analyzer.cli:main; run this checkout's (an installed copy
    # elsewhere on PATH may be older)
    return [sys.executable, "-m", "analyzer"] + command[1:]


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30).stdout


@pytest.mark.skipif(shutil.which("tmux") is None and os.environ.get("CI") != "true",
                    reason="tmux not installed (apt-get install tmux)")
def test_the_quick_start_in_a_terminal(tmp_path):
    """The README's quick start in tmux: ``?`` opens the help, Escape closes it, ``q``
    quits with exit code 0 (the keys reach the app: the packet list has the focus)."""
    session = f"mbms-first-use-{os.getpid()}"
    status = tmp_path / "exit"
    command = " ".join(_quick_start())
    _tmux("new-session", "-d", "-s", session, "-x", "140", "-y", "40", "-c", str(ROOT),
          f"{command}; echo $? > {status}")

    def screen() -> str:
        return _tmux("capture-pane", "-t", session, "-p")

    def wait(condition, timeout: float = 30.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return True
            time.sleep(0.2)
        return False

    try:
        assert wait(lambda: "MBMS" in screen() and "keys" in screen()), screen()
        _tmux("send-keys", "-t", session, "?")
        assert wait(lambda: "Views (keys 1-6)" in screen()), screen()
        _tmux("send-keys", "-t", session, "Escape")
        assert wait(lambda: "Views (keys 1-6)" not in screen()), screen()
        _tmux("send-keys", "-t", session, "q")
        assert wait(status.exists), screen()
        assert status.read_text().strip() == "0"
    finally:
        _tmux("kill-session", "-t", session)


def test_captures_readme_gives_the_command_of_every_lab_capture():
    from tests.demo_capture import LAB_DEMOS

    text = (ROOT / "captures" / "README.md").read_text()
    for name, extra in LAB_DEMOS.items():
        scenario = name.removesuffix("-legacy")
        command = " ".join(f"mbms-analyzer lab --scenario {scenario} --seed 7 {' '.join(extra)} "
                           f"-o captures/lab-{name}.pcapng --keys-out "
                           f"captures/lab-{name}.keys.toml".split())
        assert command in text, command
        assert (ROOT / "captures" / f"lab-{name}.pcapng").is_file()


def test_a_lab_capture_is_made_again_byte_for_byte_by_its_readme_command(tmp_path):
    """The command captures/README.md gives is the one that made the file."""
    text = (ROOT / "captures" / "README.md").read_text()
    line = next(ln for ln in text.splitlines()
                if ln.startswith("mbms-analyzer lab --scenario reject "))
    args = line.split()[1:]
    out = args.index("-o")
    args[out + 1] = str(tmp_path / "again.pcapng")
    args[args.index("--keys-out") + 1] = str(tmp_path / "again.keys.toml")
    assert _cli(*args).returncode == 0
    assert (tmp_path / "again.pcapng").read_bytes() == \
        (ROOT / "captures" / "lab-reject.pcapng").read_bytes()
