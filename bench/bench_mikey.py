"""Benchmark: MIKEY messages dissected per second, ours against tshark, on the same pcap.

Usage: ``python bench/bench_mikey.py [--messages N] [--seed S]``

Generates a seeded pcap of MIKEY messages (the test corpus generator), then
runs, each as a child process on the same file:

* ``mbms-analyzer dissect --json`` (ours; Scapy layers, JSON Lines out);
* ``tshark -T json -d udp.port==2269,mikey -r FILE`` (tshark's JSON, all layers).

and prints wall time, messages per second, peak RSS, and the ratio. Issue #2's
target: ours at least 0.5x tshark's rate.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.corpus import generated_message, write_pcap  # noqa: E402


def run(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process; output discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed")
    return elapsed, usage.ru_maxrss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=2269)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    msgs = [generated_message(i, rng, classic=bool(i % 2)) for i in range(args.messages)]
    with tempfile.TemporaryDirectory() as tmp:
        pcap = Path(tmp) / "mikey-bench.pcap"
        write_pcap(pcap, msgs)
        rows = [("mbms-analyzer dissect --json",
                 [sys.executable, "-m", "analyzer", "dissect", "--json", str(pcap)])]
        if shutil.which("tshark"):
            rows.append(("tshark -T json", ["tshark", "-T", "json", "-d", "udp.port==2269,mikey",
                                            "-r", str(pcap)]))
        results = {}
        print(f"{args.messages} MIKEY messages, {pcap.stat().st_size / 1e6:.1f} MB pcap")
        for name, cmd in rows:
            secs, rss = run(cmd)
            results[name] = args.messages / secs
            print(f"  {name:32s} {secs:7.2f} s  {args.messages / secs:9.0f} msg/s  "
                  f"peak RSS {rss / 1024:7.1f} MB")
        if len(results) == 2:
            ours, theirs = results.values()
            print(f"  ratio ours/tshark: {ours / theirs:.2f}x (target >= 0.5x)")
        else:
            print("  tshark not installed: no ratio")


if __name__ == "__main__":
    main()
