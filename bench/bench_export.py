"""Benchmark: ``export`` of a large lab capture (mixed traffic) against ``tshark -Y mikey``.

Usage: ``python bench/bench_export.py [--duration S]`` (default 900 s of stream: about
1,000,000 packets, 3 % of them MBMS). Prints wall time and peak RSS of each, and the ratio.
Issue #6 asks for export memory under 300 MB; issue #8 for export at most 0.1x tshark's time.
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


def run(cmd: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"bench: {' '.join(cmd)} failed")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=900.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cap, keys = Path(tmp) / "mixed.pcapng", Path(tmp) / "keys.toml"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "analyzer", "lab", "--scenario", "mixed",
                        "--duration", str(args.duration), "--seed", "8", "-o", str(cap),
                        "--keys-out", str(keys)], check=True, capture_output=True)
        packets = int(subprocess.run(["capinfos", "-c", "-M", str(cap)], capture_output=True,
                                     text=True).stdout.split()[-1]) if shutil.which("capinfos") \
            else None
        print(f"lab mixed, {args.duration:g} s: {packets or '?'} packets, "
              f"{cap.stat().st_size / 1e6:.0f} MB, generated in {time.perf_counter() - start:.0f} s")
        rows = [("mbms-analyzer export --keys", [sys.executable, "-m", "analyzer", "export",
                                                 str(cap), "--keys", str(keys), "-o",
                                                 str(Path(tmp) / "t.json")])]
        if shutil.which("tshark"):
            rows.append(("tshark -Y mikey", ["tshark", "-r", str(cap), "-d",
                                             "udp.port==4359,mikey", "-Y", "mikey", "-T",
                                             "fields", "-e", "frame.number"]))
        times = []
        for name, cmd in rows:
            secs, rss = run(cmd)
            times.append(secs)
            print(f"  {name:30s} {secs:7.1f} s  peak RSS {rss:7.1f} MB")
        if len(times) == 2:
            print(f"  ratio export/tshark: {times[0] / times[1]:.2f}x (issue #8 target <= 0.1x)")


if __name__ == "__main__":
    main()
