"""Every benchmark in one run: ``python bench/run.py [--quick]`` (issue #21's table).

Generates the seeded inputs once and prints, against the peers on the same files,
each row with its ratio and the peak RSS where it applies:

1. ``export --keys`` (and without keys) on lab ``mixed`` vs ``tshark -Y mikey``;
2. ``export`` (and ``--keys``) on lab ``mixed`` with 1 % MIKEY (an MTK message every
   75 ms: 10,000 messages in 1,000,000 packets) vs ``tshark -Y mikey``;
3. peak RSS of ``export --keys`` on a tenth of the packets and on all of them (flat);
4. the TUI on the mixed capture: first rows, whole index vs ``tshark -r`` (one read);
5. MIKEY dissection (``dissect --json``) vs ``tshark -T json``;
6. SRTP unprotect vs libsrtp (pylibsrtp, the test extra), 160- and 1,200-byte payloads.

``--quick`` uses 90 s of lab traffic (about 100,000 packets) instead of 900 s
(about 1,000,000) and fewer messages: a smoke run, not the issue's figures.
Needs tshark (and capinfos) on the PATH for the peer columns.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_export import generate  # noqa: E402


def step(title: str, cmd: list[str]) -> None:
    print(f"\n== {title}", flush=True)
    subprocess.run(cmd, check=True, cwd=HERE.parent)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    duration = 90.0 if args.quick else 900.0
    runs = "1" if args.quick else "3"
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        cap, keys = generate(Path(tmp) / "mixed", duration)
        heavy, heavy_keys = generate(Path(tmp) / "heavy", duration, mtk_period=0.075)
        small, small_keys = generate(Path(tmp) / "small", duration / 10)
        print(f"inputs: lab mixed {duration:g} s, the same with an MTK message every 75 ms "
              f"(1 % MIKEY), and mixed {duration / 10:g} s; seed 8; generated in "
              f"{time.perf_counter() - start:.0f} s")
        step("1. export --keys vs tshark -Y mikey (lab mixed)",
             [py, str(HERE / "bench_export.py"), "--capture", cap, "--keys", keys,
              "--runs", runs])
        step("2. export vs tshark -Y mikey (1 % MIKEY)",
             [py, str(HERE / "bench_export.py"), "--capture", heavy, "--keys", heavy_keys,
              "--runs", runs])
        step("3. peak RSS of export --keys, a tenth of the packets (compare with 1.)",
             [py, str(HERE / "bench_export.py"), "--capture", small, "--keys", small_keys,
              "--runs", "1", "--no-tshark"])
        step("4. TUI first rows and whole index vs tshark -r",
             [py, str(HERE / "bench_tui.py"), "--capture", cap, "--keys", keys])
    step("5. MIKEY dissection vs tshark -T json",
         [py, str(HERE / "bench_mikey.py"), "--messages", "2000" if args.quick else "20000"])
    for payload in ("160", "1200"):
        step(f"6. SRTP unprotect vs libsrtp, {payload}-byte payloads",
             [py, str(HERE / "bench_srtp.py"), "--packets", "10000" if args.quick else "50000",
              "--payload", payload])


if __name__ == "__main__":
    main()
