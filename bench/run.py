"""Every benchmark in one run: ``python bench/run.py [--quick]``.

Generates the seeded inputs once and prints, against the peers on the same files:

1. ``export`` (with and without keys) vs ``tshark -Y mikey``, peak RSS of each;
2. the TUI on the same capture: first screen, whole index vs ``tshark -r`` (one read);
3. MIKEY dissection (``dissect --json``) vs ``tshark -T json``;
4. SRTP decryption vs libsrtp (pylibsrtp, the test extra) on 160-byte payloads.

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
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        cap, keys = generate(Path(tmp), duration)
        print(f"inputs: lab mixed, {duration:g} s, seed 8, generated in "
              f"{time.perf_counter() - start:.0f} s")
        step("export vs tshark -Y mikey", [py, str(HERE / "bench_export.py"), "--capture", cap,
                                           "--keys", keys, "--runs", "1" if args.quick else "3"])
        step("TUI index vs tshark -r", [py, str(HERE / "bench_tui.py"), "--capture", cap,
                                        "--keys", keys])
    step("MIKEY dissection vs tshark -T json",
         [py, str(HERE / "bench_mikey.py"), "--messages", "2000" if args.quick else "20000"])
    step("SRTP decryption vs libsrtp",
         [py, str(HERE / "bench_srtp.py"), "--packets", "10000" if args.quick else "50000"])


if __name__ == "__main__":
    main()
