"""Benchmark: ``export`` of many taps, on one process and on a local Dask cluster.

Usage: ``python bench/bench_fleet.py [--captures N] [--duration S] [--workers 1 2]``

Inputs: lab ``mixed`` (3 % MBMS inside DNS, web and plain RTP), one run per capture
with its own seed, each shifted by its own clock offset as a separate tap would be;
900 s of stream is about 1,000,000 packets a capture (issue #20's figure; the
default here is smaller so that it runs in minutes). Printed: wall time of the
single-process ``export`` and of the Dask map + reduce with 1 and 2 local workers,
the speed-up, the peak memory of each worker, the bytes the workers sent back (the
reduce's input) and that input per million packets read, and whether the timelines
are byte-identical.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analyzer.capture.profile import DEFAULT_PROFILE  # noqa: E402
from analyzer.keys.store import load_keys  # noqa: E402
from analyzer.output.timeline import timeline  # noqa: E402
from analyzer.pipeline.fleet import prepare_capture  # noqa: E402
from analyzer.pipeline.session import Session  # noqa: E402


def generate(folder: Path, captures: int, duration: float) -> tuple[list[str], str]:
    """*captures* taps: the same BM-SC and UEs (one seed) seen with different clocks."""
    base = folder / "base.pcapng"
    keys = folder / "keys.toml"
    subprocess.run([sys.executable, "-m", "analyzer", "lab", "--scenario", "mixed", "--duration",
                    str(duration), "--seed", "8", "-o", str(base), "--keys-out", str(keys)],
                   check=True, capture_output=True, cwd=ROOT)
    from analyzer.capture.reading import read_capture
    from analyzer.capture.writer import PcapngWriter

    records = list(read_capture(base))
    paths = []
    for k in range(captures):
        path = folder / f"tap{k:02d}.pcapng"
        with PcapngWriter(str(path)) as out:
            for rec in records:
                out.write(rec.time + 0.25 * k, rec.data)
        paths.append(str(path))
    return paths, str(keys)


def _worker_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captures", type=int, default=16)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    from dask.distributed import Client, LocalCluster

    from analyzer.pipeline.fleet import run_on_dask

    with tempfile.TemporaryDirectory() as tmp:
        paths, keys = generate(Path(tmp), args.captures, args.duration)
        size = sum(Path(p).stat().st_size for p in paths)
        start = time.perf_counter()
        run = Session(load_keys(keys), workers=1)
        run.add_captures(paths)
        serial = json.dumps(timeline(run))
        serial_s = time.perf_counter() - start
        packets = sum(c.packets for c in run.captures)
        print(f"{args.captures} captures, {packets} packets, {size / 1e6:.0f} MB "
              f"(lab mixed {args.duration:g} s each)")
        print(f"  export, one process          {serial_s:7.2f} s")
        for workers in args.workers:
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, \
                    Client(cluster.scheduler_address) as client:
                start = time.perf_counter()
                prepared = run_on_dask(paths, DEFAULT_PROFILE, cluster.scheduler_address,
                                       srtp=True)
                mapped = time.perf_counter() - start
                run = Session(load_keys(keys))
                run.add_prepared(prepared)
                doc = json.dumps(timeline(run))
                total = time.perf_counter() - start
                peaks = client.run(_worker_peak_mb)
            sent = sum(len(pickle.dumps(p)) for p in prepared)
            print(f"  --dask, {workers} local worker{'s' if workers > 1 else ' '}    "
                  f"{total:7.2f} s (map {mapped:.2f} s, reduce {total - mapped:.2f} s), "
                  f"speed-up {serial_s / total:.2f}x, worker peak "
                  f"{max(peaks.values()):.0f} MB, sent {sent / 1e6:.1f} MB "
                  f"({sent / packets * 1e6 / 1e6:.1f} MB per million packets), "
                  f"identical: {doc == serial}")
        single = prepare_capture(paths[0], DEFAULT_PROFILE, srtp=False)
        print(f"  reduce input without keys: {len(single.records)} of {single.packets} records "
              f"({single.kept_bytes / single.packets * 1e6 / 1e6:.2f} MB per million packets)")


if __name__ == "__main__":
    main()
