"""Benchmark: ``export`` of a large lab capture (mixed traffic) against ``tshark -Y mikey``.

Usage: ``python bench/bench_export.py [--duration S | --capture FILE --keys FILE] [--runs N]``

Default: lab ``mixed``, 900 s of stream, seed 8: about 1,000,000 packets, 3 % of them
MBMS. Each command runs ``--runs`` times as a child process (best wall time kept, this
VM's speed wanders), and printed with the ratio to tshark: its peak RSS, and the peak
memory of it with the processes it reads large captures with (PSS: the pages they share
after the fork count once):

* ``export`` without keys (MIKEY, HTTP, procedures: no cryptography);
* ``export --keys`` (also every MIKEY message decrypted and every SRTP packet
  authenticated with the keys learned);
* ``tshark -r FILE -d udp.port==4359,mikey -Y mikey -T fields -e frame.number``.

Targets (issues #8, #21): ``export`` and ``export --keys`` at most 0.1x tshark's wall
time, with and without 1 % MIKEY; ``--keys`` under 150 MB peak RSS, flat in packets.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _tree_kb(pid: int) -> int:
    """Memory of a process and all its descendants now (kB, from /proc): the sum of
    their proportional set sizes (PSS: a page shared by forked workers counts once in
    all), or of their RSS where the kernel gives no PSS."""
    total, todo, seen = 0, [pid], 0
    while todo and seen < 256:
        p = todo.pop()
        seen += 1
        try:
            try:
                text = Path(f"/proc/{p}/smaps_rollup").read_text()
                field = "Pss:"
            except OSError:
                text, field = Path(f"/proc/{p}/status").read_text(), "VmRSS:"
            total += next((int(line.split()[1]) for line in text.splitlines()
                           if line.startswith(field)), 0)
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


def run(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS of the process itself (MB, from the kernel), and the peak
    memory of it with its reading workers (MB, PSS sampled every 50 ms) of one child
    process; output discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tree = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        tree = max(tree, _tree_kb(proc.pid))
        time.sleep(0.05)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"bench: {' '.join(cmd)} failed")
    return time.perf_counter() - start, usage.ru_maxrss / 1024, tree / 1024


def generate(tmp: Path, duration: float, mtk_period: float | None = None) -> tuple[str, str]:
    """Lab ``mixed`` (seed 8) for *duration* seconds into *tmp*; *mtk_period*: an MTK
    message that often (0.075 s: 1 % of the packets are MIKEY)."""
    tmp.mkdir(parents=True, exist_ok=True)
    cap, keys = tmp / "mixed.pcapng", tmp / "keys.toml"
    extra = ["--mtk-period", str(mtk_period)] if mtk_period else []
    subprocess.run([sys.executable, "-m", "analyzer", "lab", "--scenario", "mixed",
                    "--duration", str(duration), "--seed", "8", "-o", str(cap),
                    "--keys-out", str(keys), *extra], check=True, capture_output=True)
    return str(cap), str(keys)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=900.0)
    ap.add_argument("--capture")
    ap.add_argument("--keys")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mtk-period", type=float, default=None,
                    help="generated input: an MTK message this often (0.075: 1 %% MIKEY)")
    ap.add_argument("--no-tshark", action="store_true", help="ours only")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cap, keys = args.capture, args.keys
        if cap is None:
            start = time.perf_counter()
            cap, keys = generate(Path(tmp), args.duration, args.mtk_period)
            print(f"generated lab mixed ({args.duration:g} s, seed 8) in "
                  f"{time.perf_counter() - start:.0f} s")
        packets = None
        if shutil.which("capinfos"):
            text = subprocess.run(["capinfos", "-c", "-M", cap], capture_output=True,
                                  text=True).stdout.split()
            packets = text[-1] if text else None
        print(f"{Path(cap).name}: {packets or '?'} packets, {os.path.getsize(cap) / 1e6:.0f} MB")
        out = str(Path(tmp) / "t.json")
        base = [sys.executable, "-m", "analyzer", "export", cap, "-o", out]
        rows = [("mbms-analyzer export", base)]
        if keys:
            rows.append(("mbms-analyzer export --keys", base + ["--keys", keys]))
        if shutil.which("tshark") and not args.no_tshark:
            rows.append(("tshark -Y mikey", ["tshark", "-r", cap, "-d", "udp.port==4359,mikey",
                                             "-Y", "mikey", "-T", "fields", "-e",
                                             "frame.number"]))
        best: dict[str, tuple[float, float, float]] = {}
        for _ in range(max(1, args.runs)):
            for name, cmd in rows:  # interleaved: every command sees the same machine
                secs, rss, tree = run(cmd)
                old = best.get(name)
                best[name] = (min(secs, old[0]), max(rss, old[1]), max(tree, old[2])) \
                    if old else (secs, rss, tree)
        tshark = best.get("tshark -Y mikey", (None, None, None))[0]
        for name, _cmd in rows:
            secs, rss, tree = best[name]
            ratio = f"  {secs / tshark:.2f}x tshark" if tshark and not name.startswith("tshark") \
                else ""
            print(f"  {name:30s} {secs:7.2f} s  peak RSS {rss:7.1f} MB (with its workers, PSS "
                  f"{tree:7.1f} MB){ratio}")
        if tshark:
            print("  (targets: export and export --keys <= 0.1x tshark; --keys < 150 MB)")


if __name__ == "__main__":
    main()
