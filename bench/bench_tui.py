"""Benchmark: the TUI on a large capture against tshark reading it once.

Usage: ``python bench/bench_tui.py [--duration S | --capture FILE --keys FILE]``

Generates lab ``mixed`` (900 s: about 1,000,000 packets) unless a capture is
given, opens it in the app headless (Textual's ``run_test``) and prints:

* first screen: seconds from start until the packet list shows rows;
* whole index: seconds until every packet is indexed and the timeline is done;
* scrolling: milliseconds to draw a screenful of rows at random places, and
  per Page Down end to end through Textual's pilot;
* tshark: ``tshark -r FILE -T fields -e frame.number`` (one read of the file).

Issue #21's targets: first rows under 0.3 s at 1,000,000 packets, the whole index in at
most half of tshark's read time (issue #7's were 1 s and 1x).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analyzer.keys.store import load_keys  # noqa: E402
from analyzer.tui.app import MbmsApp  # noqa: E402


async def measure(capture: str, keys: str | None) -> dict[str, float]:
    store = load_keys(keys) if keys else None
    out: dict[str, float] = {}
    start = time.perf_counter()
    app = MbmsApp([capture], store)
    async with app.run_test(size=(160, 50)) as pilot:
        while app.packet_table.row_count == 0:
            await pilot.pause(0.01)
        out["first_screen"] = time.perf_counter() - start
        out["rows_at_first_screen"] = app.packet_table.row_count
        while app.loaded is None:
            await pilot.pause(0.05)
        out["index"] = time.perf_counter() - start
        out["packets"] = len(app.index)
        table = app.packet_table
        table.focus()
        # drawing: every line of a screenful at 200 places spread over the list (what
        # the compositor asks the list for after a jump, summaries not cached yet)
        import random

        height = table.scrollable_content_region.height
        rng = random.Random(7)
        places = [rng.randrange(max(1, table.row_count - height)) for _ in range(200)]
        t = time.perf_counter()
        for top in places:
            table.scroll_to(y=top, animate=False, immediate=True)
            for y in range(height):
                table.render_line(y)
        out["screen_ms"] = (time.perf_counter() - t) / len(places) * 1000
        out["screen_rows"] = height
        pages = 50  # Page Down end to end, through the pilot (its own pauses included)
        t = time.perf_counter()
        for _ in range(pages):
            await pilot.press("pagedown")
        await pilot.pause(0)
        out["page_ms"] = (time.perf_counter() - t) / pages * 1000
        out["rss_mb"] = _rss()
    return out


def _rss() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=900.0)
    ap.add_argument("--capture")
    ap.add_argument("--keys")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        capture, keys = args.capture, args.keys
        if capture is None:
            capture, keys = str(Path(tmp) / "mixed.pcapng"), str(Path(tmp) / "keys.toml")
            subprocess.run([sys.executable, "-m", "analyzer", "lab", "--scenario", "mixed",
                            "--duration", str(args.duration), "--seed", "8", "-o", capture,
                            "--keys-out", keys], check=True, capture_output=True)
        got = asyncio.run(measure(capture, keys))
        print(f"TUI on {Path(capture).name}: {got['packets']:.0f} packets, "
              f"{os.path.getsize(capture) / 1e6:.0f} MB")
        print(f"  first screen       {got['first_screen']:7.2f} s  "
              f"({got['rows_at_first_screen']:.0f} rows indexed by then; target < 0.3 s)")
        print(f"  whole index        {got['index']:7.2f} s  (timeline done too)")
        print(f"  a screen of rows   {got['screen_ms']:7.1f} ms ({got['screen_rows']:.0f} rows, "
              "at random places)")
        print(f"  Page Down          {got['page_ms']:7.1f} ms each through the pilot")
        print(f"  peak RSS           {got['rss_mb']:7.1f} MB")
        if shutil.which("tshark"):
            t = time.perf_counter()
            subprocess.run(["tshark", "-r", capture, "-T", "fields", "-e", "frame.number"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            tshark = time.perf_counter() - t
            print(f"  tshark -r (one read) {tshark:5.2f} s")
            print(f"  ratio index/tshark: {got['index'] / tshark:.2f}x (target <= 0.5x)")


if __name__ == "__main__":
    main()
