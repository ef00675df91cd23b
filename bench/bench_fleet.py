"""Benchmark: ``export`` of many taps, on one process and on a local Dask cluster.

Usage: ``python bench/bench_fleet.py [--captures N] [--duration S] [--workers 1 2]
[--layout split|copies]``

Input: one lab ``mixed`` run (MBMS among DNS, web and plain RTP; 900 s of stream is
about 1,000,000 packets, issue #20's figure; the default here is smaller so that
it runs in minutes), cut into *N* taps, each with its own clock offset. Layouts:
``split`` (default): every tap sees the multicast traffic (MIKEY MTK messages and
the SRTP stream, as SGi-mb and M1 taps do) and the unicast traffic of its share of
the hosts (a packet on the taps of its source's and destination's shares); ``copies``: every tap sees every packet (the worst case: every SRTP
flow is in every capture).

Printed: wall time of the single-process ``export`` and of ``export --dask`` with 1
and 2 local workers (map, reduce, SRTP groups, final merge), the speed-up, the
peak memory of each worker, the bytes the reduce received (records and SRTP
observations: per million packets read), the bytes moved worker to worker, and
whether the timelines are byte-identical. Last, the reduce's input per million
packets without keys and with keys, on one tap.
"""

from __future__ import annotations

import argparse
import json
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
from analyzer.pipeline.fleet import FleetReport, export_on_dask, prepare_capture  # noqa: E402
from analyzer.pipeline.session import Session  # noqa: E402


def generate(folder: Path, captures: int, duration: float, layout: str
             ) -> tuple[list[str], str]:
    """*captures* taps of one lab run (see the module docstring)."""
    base = folder / "base.pcapng"
    keys = folder / "keys.toml"
    subprocess.run([sys.executable, "-m", "analyzer", "lab", "--scenario", "mixed", "--duration",
                    str(duration), "--seed", "8", "-o", str(base), "--keys-out", str(keys)],
                   check=True, capture_output=True, cwd=ROOT)
    from analyzer.capture.reading import read_capture
    from analyzer.capture.writer import PcapngWriter

    writers = [PcapngWriter(str(folder / f"tap{k:02d}.pcapng")) for k in range(captures)]
    everyone = range(captures)
    for rec in read_capture(base):
        data = rec.data
        if layout == "copies" or len(data) < 34 or 224 <= data[30] <= 239:
            seen = everyone
        else:  # unicast: on the taps of its two ends' shares of the hosts
            seen = {data[29] % captures, data[33] % captures}
        for k in seen:
            writers[k].write(rec.time + 0.25 * k, data)
    for out in writers:
        out.close()
    base.unlink()
    return [str(folder / f"tap{k:02d}.pcapng") for k in range(captures)], str(keys)


def _worker_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _moved(dask_worker) -> int:  # type: ignore[no-untyped-def]
    return int(getattr(dask_worker, "transfer_outgoing_bytes_total", 0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captures", type=int, default=16)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--layout", choices=["split", "copies"], default="split")
    args = ap.parse_args()
    from dask.distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        paths, keys = generate(Path(tmp), args.captures, args.duration, args.layout)
        size = sum(Path(p).stat().st_size for p in paths)
        start = time.perf_counter()
        run = Session(load_keys(keys), workers=1)
        run.add_captures(paths)
        serial = json.dumps(timeline(run))
        serial_s = time.perf_counter() - start
        packets = sum(c.packets for c in run.captures)
        print(f"{args.captures} taps ({args.layout}), {packets} packets, {size / 1e6:.0f} MB "
              f"(lab mixed {args.duration:g} s)")
        print(f"  export, one process          {serial_s:7.2f} s")
        for workers in args.workers:
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, \
                    Client(cluster.scheduler_address) as client:
                start = time.perf_counter()
                report = FleetReport()
                run = Session(load_keys(keys))
                export_on_dask(paths, run, cluster.scheduler_address, report=report)
                doc = json.dumps(timeline(run))
                total = time.perf_counter() - start
                peaks = client.run(_worker_peak_mb)
                moved = sum(client.run(_moved).values())
            sent = report.received + report.srtp_sent
            phases = ", ".join(f"{k} {v:.2f} s" for k, v in report.times.items())
            print(f"  --dask, {workers} local worker{'s' if workers > 1 else ' '}    "
                  f"{total:7.2f} s ({phases}), speed-up {serial_s / total:.2f}x, worker peak "
                  f"{max(peaks.values()):.0f} MB, reduce input {sent / 1e6:.1f} MB "
                  f"({sent / packets:.1f} MB per million packets: records "
                  f"{report.received / 1e6:.1f} MB, SRTP observations "
                  f"{report.srtp_sent / 1e6:.1f} MB), {report.groups} SRTP tasks, "
                  f"worker to worker {moved / 1e6:.0f} MB, identical: {doc == serial}")
        for srtp in (False, True):
            one = prepare_capture(paths[0], DEFAULT_PROFILE, srtp=srtp)
            print(f"  one tap {'with' if srtp else 'without'} keys: reduce receives "
                  f"{len(one.records)} of {one.packets} records "
                  f"({one.kept_bytes / one.packets:.2f} MB per million packets; "
                  f"{len(one.held) + len(one.dual)} RTP-like datagrams stay on the worker)")


if __name__ == "__main__":
    main()
