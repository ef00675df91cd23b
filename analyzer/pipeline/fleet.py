"""Many captures on a Dask cluster (``export --dask``): the per-capture part where the
files are, the global part here, with the result of the single-machine run.

*Map* (:func:`prepare_capture`, on a worker, one task per capture): read the file,
count its records and time span, take the first time of each MIKEY message (for
the clock alignment), and keep the records a prefilter that never writes an SRTP
flow off would keep: MBMS, BM-SC TCP, FLUTE and RTP-like UDP. Unrelated traffic
(DNS, web, anything the prefilter rejects from its headers) never leaves the
worker. The BM-SCs the worker's own finder meets widen its prefilter as they do
at home, so the records kept are a superset of those the single-machine run reads.

*Reduce* (:meth:`analyzer.pipeline.session.Session.add_prepared`, here): the one
pipeline over those records, merged in time, with the same prefilter decisions
(now with the keys learned so far), clock offsets, de-duplication, key learning,
SRTP, observation and reconstruction - so the timeline is byte-identical to
``export`` without Dask, whatever order the tasks finish in.

What crosses the network per capture is :class:`Prepared`: plain data.
"""

from __future__ import annotations

import glob
import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.capture.reading import CaptureError, Record, Tally, read_capture
from analyzer.net.decode import udp4_fields
from analyzer.net.prefilter import Prefilter
from analyzer.pipeline.find import CandidateFinder
from analyzer.pipeline.local import MAX_FINGERPRINTS, add_fingerprints


@dataclass
class Prepared:
    """What a worker sends back for one capture (plain, picklable).

    Attributes:
        file: the path as given. packets, start, end: every record counted.
        error: why the file could not be read to its end (None: it was).
        fingerprints: first time of each MIKEY message (clock alignment).
        records: the records kept, in file order.
    """

    file: str
    packets: int = 0
    start: float | None = None
    end: float | None = None
    error: str | None = None
    fingerprints: dict[bytes, float] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)

    @property
    def kept_bytes(self) -> int:
        """Bytes of records sent to the reduce."""
        return sum(len(r.data) for r in self.records)


def prepare_capture(path: str, profile: Profile = DEFAULT_PROFILE,
                    srtp: bool = True) -> Prepared:
    """The map: one capture read where it lives (see the module docstring); *srtp*: keep
    RTP-like UDP (the run has keys to try on it)."""
    out = Prepared(str(path))
    keep = Prefilter(profile, srtp=srtp)  # no decryptor here: no SRTP flow is written off
    finder = CandidateFinder(0, profile, prefilter=keep)  # learns the BM-SCs, as at home
    aligning = Prefilter()  # what fingerprints() reads: a subset of what *keep* keeps
    tally = Tally()
    try:
        for record in read_capture(path, keep, tally):
            out.records.append(record)
            data = record.data
            # BM-SCs are learned from HTTP: plain UDP frames are left out (the common
            # case decode reads at once); GTP-U tunnels, which may carry TCP, are not
            if record.linktype != 1 or udp4_fields(data) is None:
                finder.record(record)
            if len(out.fingerprints) < MAX_FINGERPRINTS \
                    and aligning(record.linktype, data, 0, len(data)):
                add_fingerprints(record, profile, out.fingerprints)
    except CaptureError as exc:
        out.error = str(exc)
    out.packets, out.start, out.end = tally.packets, tally.start, tally.end
    return out


def expand(patterns: Sequence[str]) -> list[str]:
    """Captures named or matched by glob patterns (``taps/*/day1-*.pcapng``), in order;
    a pattern that matches nothing is kept as given (its error is reported by name)."""
    out: list[str] = []
    for pattern in patterns:
        matched = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else []
        out.extend(matched or [pattern])
    return out


class DaskMissing(Exception):
    """Dask is not installed: the message says how."""


def run_on_dask(paths: Sequence[str], profile: Profile, scheduler: str | None,
                srtp: bool = True,
                progress: Callable[[int, int, int], None] | None = None) -> list[Prepared]:
    """Map :func:`prepare_capture` over *paths* on a Dask cluster (a ``LocalCluster``
    sized to this machine when *scheduler* is None); results in the order of *paths*.
    *progress* gets (tasks done, tasks, bytes of records received) as tasks end."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise DaskMissing('Dask is not installed: pip install "mbms-analyzer[dask]"') from None
    cluster = None
    logging.getLogger("distributed").setLevel(logging.ERROR)  # our stderr: one line a problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "port 8787 in use": no dashboard is asked for
        if scheduler is None:
            cluster = LocalCluster(n_workers=max(1, min(len(paths), os.cpu_count() or 1)),
                                   threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=logging.ERROR)
            client = Client(cluster)
        else:
            client = Client(scheduler)
    try:
        futures = {client.submit(prepare_capture, p, profile, srtp, pure=False, retries=3): n
                   for n, p in enumerate(paths)}
        results: list[Any] = [None] * len(paths)
        done = received = 0
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            done += 1
            received += result.kept_bytes
            if progress is not None:
                progress(done, len(paths), received)
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


__all__ = ["DaskMissing", "Prepared", "expand", "prepare_capture", "run_on_dask"]
