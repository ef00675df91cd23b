"""Benchmark: MIKEY messages dissected per second, ours against tshark, on the same pcap.

Usage: ``python bench/bench_mikey.py [--messages N] [--seed S]``

Generates two seeded pcaps of MIKEY messages, then runs, each as a child process
on the same file:

* ``mbms-analyzer dissect --json`` (ours; Scapy layers, JSON Lines out);
* ``tshark -T json -d udp.port==2269,mikey -r FILE`` (tshark's JSON, all layers).

and prints wall time, messages per second, peak RSS, and the ratio. The two inputs:

* ``mbms``: MBMS traffic as the digest's profile has it (MSK, MTK and verification
  messages), the traffic users bring - this is the figure issue #2's target is about
  (ours at least 0.5x tshark's rate);
* ``corpus``: the conformance corpus mix (every payload, RFC 6043 ones included);
  tshark stops early on many of these, so it does less work per message than we do.
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

from tests.corpus import generated_message, mbms_message, write_pcap  # noqa: E402


def run(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process; output discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed")
    return elapsed, usage.ru_maxrss


def bench(label: str, msgs: list[bytes], tmp: Path) -> None:
    """Time both tools on one generated pcap and print one block of results."""
    pcap = tmp / f"mikey-{label}.pcap"
    write_pcap(pcap, msgs)
    n = len(msgs)
    rows = [("mbms-analyzer dissect --json",
             [sys.executable, "-m", "analyzer", "dissect", "--json", str(pcap)])]
    if shutil.which("tshark"):
        rows.append(("tshark -T json", ["tshark", "-T", "json", "-d", "udp.port==2269,mikey",
                                        "-r", str(pcap)]))
    rates = []
    print(f"[{label}] {n} MIKEY messages, {pcap.stat().st_size / 1e6:.1f} MB pcap")
    for name, cmd in rows:
        secs, rss = run(cmd)
        rates.append(n / secs)
        print(f"  {name:32s} {secs:7.2f} s  {n / secs:9.0f} msg/s  peak RSS {rss / 1024:7.1f} MB")
    if len(rates) == 2:
        print(f"  ratio ours/tshark: {rates[0] / rates[1]:.2f}x")
    else:
        print("  tshark not installed: no ratio")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=2269)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        bench("mbms", [mbms_message(i, rng) for i in range(args.messages)], Path(tmp))
        bench("corpus", [generated_message(i, rng, classic=bool(i % 2))
                         for i in range(args.messages)], Path(tmp))
    print("target (issue #21): mbms ratio >= 1x (issue #2: 0.5x)")


if __name__ == "__main__":
    main()
