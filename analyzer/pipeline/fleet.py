"""Many captures on a Dask cluster (``export --dask``): the per-capture work where the
files are, the global part here, with the result of the single-machine run.

1. *Map* (:func:`prepare_capture`, one task per capture, on a worker): read the file,
   count its records and time span, take the first time of each MIKEY message
   (for the clock alignment), and sort what a prefilter that never writes an SRTP
   flow off keeps into the records the global part needs (MBMS, BM-SC TCP,
   FLUTE, IP fragments: sent here) and the RTP-like datagrams (kept on the
   worker, summarised: which flows and SSRCs they have, how many). Unrelated
   traffic (DNS, web, anything the prefilter rejects from its headers) never
   leaves the worker.
2. *Reduce* (:meth:`Session.learn_prepared`, here): the one pipeline over the records
   sent, merged in time with the same prefilter decisions, clock offsets,
   de-duplication and key learning as at home; the observations are held with
   their places in the merge, and each MTK the decryptor takes up is noted with
   the place after which it was known (:class:`~analyzer.pipeline.srtp_step.KeyTimeline`).
3. *Second map* (:func:`open_srtp_group`, on the workers): the RTP-like datagrams are
   opened on the workers, with the keys replayed at their places. Everything SRTP
   keeps (stream rollover, write-offs, a payload two taps carry to the same
   destination) belongs to a flow, so the flows are spread over a few tasks, each
   with every capture's packets of its flows (moved worker to worker, not
   through the client). What comes back is one small record per packet a key
   opened (or whose known stream failed), not its bytes.
4. *Final merge* (:meth:`Session.finish_prepared`): those observations and the held
   ones, fed to the reconstructor in the order of the single-machine run.

So the timeline is byte-identical to ``export`` without Dask, whatever order the
tasks finish in. That rests on each capture's records being in time order (then
the merge is a sort by (time, capture, frame)); a capture whose clock goes back
makes the run fall back to sending every record kept here and opening SRTP here,
as does a capture with more than :data:`MAX_FLOWS` RTP-like flows.
"""

from __future__ import annotations

import glob
import heapq
import logging
import operator
import os
import time
import warnings
from array import array
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Sequence

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.capture.reading import CaptureError, Record, Tally, read_capture
from analyzer.capture.where import Where
from analyzer.flows.observe import SrtpObs
from analyzer.net.decode import udp4_fields
from analyzer.net.ipfrag import Defragmenter, fragment_of
from analyzer.net.prefilter import Prefilter
from analyzer.pipeline.find import CandidateFinder
from analyzer.pipeline.local import MAX_FINGERPRINTS, add_fingerprints, fingerprints_of
from analyzer.pipeline.srtp_step import (
    KeyTimeline,
    Place,
    SrtpStep,
    srtp_target,
)

#: Most SRTP flows (destination address and port) a capture's summary names; beyond,
#: SRTP is opened at the reduce (the prefilter's tables are bounded at 65,536 flows,
#: and a task must see all of a capture's flows to clear them when the run would)
MAX_FLOWS = 60_000

Flow = tuple[bytes, int]


@dataclass
class Prepared:
    """What the map makes of one capture (plain, picklable); :meth:`shipped` is what
    crosses the network to the reduce.

    Attributes:
        file: the path as given. packets, start, end: every record counted.
        error: why the file could not be read to its end (None: it was).
        fingerprints: first time of each MIKEY message (clock alignment).
        records: the records the reduce needs, in file order.
        in_order: the records' times never go back.
        flows: RTP-like datagrams per flow (destination address, port); *overflow*:
            more flows than :data:`MAX_FLOWS`.
        held: the RTP-like datagrams, with their flows, in file order (kept on the
            worker, packed).
        dual: the frame numbers of those also among *records* (a FLUTE port's) or
            made whole from fragments (whose pieces are).
    """

    file: str
    packets: int = 0
    start: float | None = None
    end: float | None = None
    error: str | None = None
    fingerprints: dict[bytes, float] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    in_order: bool = True
    flows: dict[Flow, int] = field(default_factory=dict)
    overflow: bool = False
    held: "Packed" = field(default_factory=lambda: Packed(), repr=False)
    dual: set[int] = field(default_factory=set, repr=False)

    @property
    def kept_bytes(self) -> int:
        """Bytes of records sent to the reduce."""
        return sum(len(r.data) for r in self.records)

    def __sizeof__(self) -> int:  # (what Dask counts, moves and spills by)
        return self.kept_bytes + 100 * len(self.records) + 40 * len(self.fingerprints) \
            + self.held.__sizeof__() + 200

    def shipped(self) -> "Prepared":
        """What the reduce gets: all but the RTP-like datagrams held here."""
        return replace(self, held=Packed(), dual=set())

    def everything(self) -> "Prepared":
        """Every record kept, RTP-like included (the fallback: SRTP opened at the reduce)."""
        dual = self.dual
        merged = list(heapq.merge(self.records, (r for r, _ in self.held.items()
                                                 if r.number not in dual),
                                  key=lambda r: r.number))
        return replace(self, records=merged, held=Packed(), dual=set())

    def split(self, shares: Sequence[frozenset[Flow] | None]) -> list["Packed"]:
        """The RTP-like datagrams held here per share (a task's flows in this capture),
        each in file order, with their flows, packed to cross the network."""
        where: dict[Flow, int] = {}
        for n, flows in enumerate(shares):
            for flow in flows or ():
                where[flow] = n
        out = self.held.split(where, len(shares))
        for part in out:
            part.data = bytes(part.data)  # type: ignore[assignment]
        return out


class Packed:
    """Records and their flows as a few arrays and one byte string: what moves from
    worker to worker (pickling as many objects as packets would cost more than the
    work they carry)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.ends = array("Q")
        self.numbers = array("Q")
        self.times = array("d")
        self.linktypes = array("I")
        self.orig = array("Q")
        self.flow = array("I")
        self.flows: list[Flow] = []
        self._flow_at: dict[Flow, int] = {}

    def add(self, rec: Record, flow: Flow) -> None:
        self._put(rec.data, rec.number, rec.time, rec.linktype, rec.orig_len, flow)

    def _put(self, data: bytes, number: int, time_: float, linktype: int, orig: int,
             flow: Flow) -> None:
        self.data += data
        self.ends.append(len(self.data))
        self.numbers.append(number)
        self.times.append(time_)
        self.linktypes.append(linktype)
        self.orig.append(orig)
        at = self._flow_at.get(flow)
        if at is None:
            at = self._flow_at[flow] = len(self.flows)
            self.flows.append(flow)
        self.flow.append(at)

    def __len__(self) -> int:
        return len(self.numbers)

    def __sizeof__(self) -> int:  # (what Dask counts, moves and spills by)
        return len(self.data) + 40 * len(self.numbers) + 64 * len(self.flows) + 200

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_flow_at")
        state["data"] = bytes(self.data)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._flow_at = {}

    def split(self, where: dict[Flow, int], parts: int) -> list["Packed"]:
        """The records whose flow *where* sends to part n, per part, in order."""
        out = [Packed() for _ in range(parts)]
        data, flows = self.data, self.flows
        part_of = [where.get(flow) for flow in flows]
        start = 0
        for end, number, time_, linktype, orig, at in zip(self.ends, self.numbers, self.times,
                                                         self.linktypes, self.orig, self.flow):
            n = part_of[at]
            if n is not None:
                out[n]._put(data[start:end], number, time_, linktype, orig, flows[at])
            start = end
        return out

    def items(self, offset: float = 0.0) -> Iterator[tuple[Record, Flow]]:
        """The records (times moved by *offset*) and their flows, in order."""
        data, flows = bytes(self.data), self.flows
        start = 0
        for end, number, time_, linktype, orig, at in zip(self.ends, self.numbers, self.times,
                                                         self.linktypes, self.orig, self.flow):
            yield Record(number, time_ + offset if offset else time_, linktype,
                         data[start:end], orig), flows[at]
            start = end


def prepare_capture(path: str, profile: Profile = DEFAULT_PROFILE,
                    srtp: bool = True, every: bool = False) -> Prepared:
    """The map: one capture read where it lives (see the module docstring); *srtp*: keep
    RTP-like UDP (the run has keys to try on it); *every*: keep every record, all
    in :attr:`Prepared.records` (``decrypt``, whose output holds them all)."""
    out = Prepared(str(path))
    keep = Prefilter(profile, srtp=srtp)  # no decryptor here: no SRTP flow is written off
    if every:
        tally = Tally()
        try:
            out.records.extend(read_capture(path, None, tally))
        except CaptureError as exc:
            out.error = str(exc)
        out.packets, out.start, out.end = tally.packets, tally.start, tally.end
        out.fingerprints = fingerprints_of(out.records, profile)
        out.in_order = False  # (nothing held: SRTP is opened at the reduce)
        return out
    finder = CandidateFinder(0, profile, prefilter=keep)  # learns the BM-SCs, as at home
    aligning = Prefilter()  # what fingerprints() reads: a subset of what *keep* keeps
    defrag = Defragmenter()
    flute = profile.flute_ports
    tally = Tally()
    last = float("-inf")
    records, held, dual, flows = out.records, out.held, out.dual, out.flows
    hold = held.add
    try:
        for record in read_capture(path, keep, tally):
            data = record.data
            if record.time < last:
                out.in_order = False
            last = record.time
            # (Ethernet, IPv4, neither MF nor an offset: no fragment, the common case)
            frag = None if record.linktype == 1 and data[12:14] == b"\x08\x00" \
                and len(data) > 21 and not (data[20] & 0x3F or data[21]) \
                else fragment_of(record.linktype, data)
            if frag is not None:
                records.append(record)
                whole = defrag.add(record, frag)
                target = srtp_target(whole, profile) if whole is not None and srtp else None
                if target is not None:  # (its fragments go to the reduce, which makes it too)
                    flow = (target.flow, target.dport)
                    hold(whole, flow)
                    dual.add(whole.number)
                    flows[flow] = flows.get(flow, 0) + 1
            else:
                target = srtp_target(record, profile) if srtp else None
                if target is None:
                    records.append(record)
                else:
                    flow = (target.flow, target.dport)
                    if flow in flows:
                        flows[flow] += 1
                    elif len(flows) < MAX_FLOWS:
                        flows[flow] = 1
                    else:
                        out.overflow = True
                    hold(record, flow)
                    if target.dport in flute:
                        records.append(record)
                        dual.add(record.number)
                    else:
                        continue
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


# ---------------------------------------------------------------------- SRTP groups


@dataclass
class SrtpGroupResult:
    """What opening one group of SRTP flows sends back: per packet a key opened (or
    whose known stream failed) its capture, frame, time and a kind (the rest of its
    observation, shared by many packets); per capture its last SRTP-only datagram
    that came out of the merge."""

    merged: bool
    kinds: list[tuple[str, str, int, Any, Any, str]] = field(default_factory=list)
    captures: array = field(default_factory=lambda: array("I"))
    frames: array = field(default_factory=lambda: array("Q"))
    times: array = field(default_factory=lambda: array("d"))
    which: array = field(default_factory=lambda: array("I"))
    last: dict[int, tuple[int, float]] = field(default_factory=dict)
    #: datagrams looked at
    packets: int = 0

    @property
    def size(self) -> int:
        """Bytes of the per-packet arrays."""
        return sum(a.itemsize * len(a) for a in (self.captures, self.frames, self.times,
                                                   self.which))

    def observations(self) -> Iterator[tuple[Place, int, SrtpObs]]:
        """``(place, n, observation)`` in merge order."""
        kinds = self.kinds
        merged = self.merged
        for n, (capture, frame, when, k) in enumerate(zip(self.captures, self.frames,
                                                            self.times, self.which)):
            src, dst, ssrc, mtk, label, result = kinds[k]
            place = (when, capture, frame) if merged else (0.0, 0, frame)
            yield place, n, SrtpObs(Where(capture, frame, when, src, dst), ssrc, mtk, label,
                                    result)


def open_srtp_group(parts: Sequence[tuple[int, float, "Packed"]],
                    keys: KeyTimeline, profile: Profile = DEFAULT_PROFILE, merged: bool = True
                    ) -> SrtpGroupResult:
    """The second map: some flows' RTP-like datagrams, ``(capture index, clock offset,
    records in file order with their flows)`` per capture, opened in merge order with
    the keys of *keys* as known at each place, as :meth:`Session._run` does at home."""
    replay = keys.replay()
    decryptor = replay.decryptor
    step = SrtpStep(decryptor, profile, merged=merged)
    out = SrtpGroupResult(merged)
    kinds: dict[tuple, int] = {}
    written_off: dict[int, Prefilter] = {}
    streams = []
    datas: dict[int, bytes] = {}
    for index, offset, packed in parts:
        written_off[index] = Prefilter(profile, srtp=True)
        written_off[index].key_source = lambda: decryptor.key_count
        datas[index] = packed.data if isinstance(packed.data, bytes) else bytes(packed.data)
        streams.append(_placed(index, packed, offset, merged))
    at = replay.at
    for place, index, time_, number, linktype, start, end, orig, flow in \
            heapq.merge(*streams, key=lambda item: item[0]):
        at(place)
        out.packets += 1
        wo = written_off[index]
        if wo.written_off(flow):
            continue  # written off: not tried now (its bytes are not even sliced)
        record = Record(number, time_, linktype, datas[index][start:end], orig)
        target = srtp_target(record, profile)
        if target is None:
            continue
        srtp_only, _plain, obs = step(record, index, wo, target)
        if srtp_only:
            out.last[index] = (record.number, record.time)
        if obs is not None:
            where = obs.at
            kind = (where.src, where.dst, obs.ssrc, obs.mtk, obs.key_label, obs.result)
            k = kinds.get(kind)
            if k is None:
                k = kinds[kind] = len(out.kinds)
                out.kinds.append(kind)
            out.captures.append(index)
            out.frames.append(record.number)
            out.times.append(record.time)
            out.which.append(k)
    return out


def _placed(index: int, packed: "Packed", offset: float, merged: bool) -> Iterator[tuple]:
    """(place, capture, time, frame, link type, start, end, original length, flow) of
    each record of *packed*, its time moved by *offset*."""
    flows = packed.flows
    start = 0
    for end, number, time_, linktype, orig, at in zip(packed.ends, packed.numbers,
                                                     packed.times, packed.linktypes,
                                                     packed.orig, packed.flow):
        if offset:
            time_ = time_ + offset
        yield ((time_, index, number) if merged else (0.0, 0, number)), index, time_, number, \
            linktype, start, end, orig, flows[at]
        start = end


def plan_groups(prepared: Sequence[Prepared], tasks: int = 8
                ) -> list[dict[int, frozenset[Flow]]] | None:
    """The SRTP tasks of a run: per task, capture (position) -> its flows in it. A
    flow's packets of every capture go to one task; flows are spread over about
    *tasks* tasks by packet count (largest first, to the least loaded). None: open
    SRTP at the reduce (a capture out of time order, or more flows than bounded)."""
    if len(prepared) > 1 and not all(p.in_order for p in prepared) \
            or any(p.overflow for p in prepared):
        return None
    total: dict[Flow, int] = {}
    for p in prepared:
        for flow, n in p.flows.items():
            total[flow] = total.get(flow, 0) + n
    if not total:
        return []
    bins = [(0, b) for b in range(max(1, min(tasks, len(total))))]
    home: dict[Flow, int] = {}
    for flow, n in sorted(total.items(), key=lambda item: (-item[1], item[0])):
        load, b = heapq.heappop(bins)
        home[flow] = b
        heapq.heappush(bins, (load + n, b))
    plan: list[dict[int, set[Flow]]] = [{} for _ in bins]
    for k, p in enumerate(prepared):
        for flow in p.flows:
            plan[home[flow]].setdefault(k, set()).add(flow)
    return [{k: frozenset(flows) for k, flows in share.items()} for share in plan if share]


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


@dataclass
class FleetReport:
    """What a fleet run moved: bytes of records the reduce received, bytes of SRTP
    observations, the SRTP groups opened on workers (None: opened at the reduce)."""

    captures: int = 0
    packets: int = 0
    received: int = 0
    srtp_sent: int = 0
    groups: int | None = None
    fallback: str = ""
    #: seconds: until the maps' results are in, the reduce's first pass, the SRTP
    #: groups (from their start to their results in), the final merge
    times: dict[str, float] = field(default_factory=dict)


def _reduce(session: Any, shipped: Sequence[Prepared],
            open_groups: Callable[[list[dict[int, frozenset[Flow]]], dict[int, float], bool],
                                  list[SrtpGroupResult]],
            everything: Callable[[], list[Prepared]], report: FleetReport,
            tasks: int = 8) -> list[str]:
    """The global part of a fleet run over the maps' results (see the module docstring)."""
    report.captures = len(shipped)
    report.packets = sum(p.packets for p in shipped)
    report.received = sum(p.kept_bytes for p in shipped)
    plan = plan_groups(shipped, tasks) if session.decryptor is not None else []
    if plan is None or (plan and session.captures):
        # (SRTP state from captures read before this run is at the reduce)
        report.fallback = "captures out of time order, or too many flows" if plan is None \
            else "captures read before"
        full = everything()
        report.received = sum(p.kept_bytes for p in full)
        return session.add_prepared(full)
    if not plan:
        return session.add_prepared(shipped)
    clock = time.perf_counter()
    errors = session.learn_prepared(shipped)
    offsets = dict(session.held_offsets())
    report.times["reduce"] = time.perf_counter() - clock
    clock = time.perf_counter()
    results = open_groups(plan, offsets, len(shipped) > 1)
    report.times["srtp"] = time.perf_counter() - clock
    report.groups = len(results)
    report.srtp_sent = sum(r.size + 64 * len(r.kinds) for r in results)
    clock = time.perf_counter()
    session.finish_prepared(results)
    report.times["merge"] = time.perf_counter() - clock
    return errors


def export_here(paths: Sequence[str], session: Any,
                report: FleetReport | None = None) -> list[str]:
    """The fleet run in this process (what the cluster runs, task by task): for
    tests, and to measure the split without Dask."""
    srtp = session.store is not None
    clock = time.perf_counter()
    preps = [prepare_capture(p, session.profile, srtp=srtp) for p in paths]

    def open_groups(plan: list[dict[int, frozenset[Flow]]], offsets: dict[int, float],
                    merged: bool) -> list[SrtpGroupResult]:
        splits = {k: p.split([share.get(k) for share in plan])
                  for k, p in enumerate(preps)}
        return [open_srtp_group([(k, offsets[k], splits[k][b]) for k in share],
                                session.keys_timeline, session.profile, merged)
                for b, share in enumerate(plan)]

    report = report or FleetReport()
    report.times["map"] = time.perf_counter() - clock
    return _reduce(session, [p.shipped() for p in preps], open_groups,
                   lambda: [p.everything() for p in preps], report)


class _Cluster:
    """A Dask client: on *scheduler*, or on a ``LocalCluster`` sized to this machine."""

    def __init__(self, scheduler: str | None, captures: int) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise DaskMissing('Dask is not installed: pip install "mbms-analyzer[dask]"') \
                from None
        self.cluster = None
        logging.getLogger("distributed").setLevel(logging.ERROR)  # our stderr: one line
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "port 8787 in use": no dashboard is asked
            if scheduler is None:
                self.cluster = LocalCluster(
                    n_workers=max(1, min(captures, os.cpu_count() or 1)), threads_per_worker=1,
                    processes=True, dashboard_address=None, silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
            else:
                self.client = Client(scheduler)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False, retries=3)

    def gather(self, futures: list[Any],
               each: Callable[[int, Any], None] | None = None) -> list[Any]:
        """Results in the order of *futures*; *each* told (position, result) as they end."""
        from dask.distributed import as_completed

        place = {f: n for n, f in enumerate(futures)}
        out: list[Any] = [None] * len(futures)
        for future in as_completed(futures):
            out[place[future]] = result = future.result()
            if each is not None:
                each(place[future], result)
        return out

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _counting(progress: Callable[[int, int, int], None] | None, total: int
              ) -> Callable[[int, Prepared], None]:
    """A :meth:`_Cluster.gather` callback telling *progress* (captures done, *total*,
    bytes of records received)."""
    done = [0, 0]

    def each(_n: int, result: Prepared) -> None:
        done[0] += 1
        done[1] += result.kept_bytes
        if progress is not None:
            progress(done[0], total, done[1])

    return each


def _mapped(cluster: _Cluster, paths: Sequence[str], profile: Profile, srtp: bool,
            progress: Callable[[int, int, int], None] | None) -> tuple[list[Any], list[Prepared]]:
    maps = [cluster.submit(prepare_capture, p, profile, srtp) for p in paths]
    return maps, cluster.gather([cluster.submit(Prepared.shipped, m) for m in maps],
                                _counting(progress, len(paths)))


def prepare_on_dask(paths: Sequence[str], profile: Profile, scheduler: str | None,
                    srtp: bool = True, every: bool = False,
                    progress: Callable[[int, int, int], None] | None = None) -> list[Prepared]:
    """Every record kept of each capture (*every*: every record), read on a Dask
    cluster, for the runs whose output shows every packet (``dissect --dask``,
    ``decrypt --dask``): the reduce opens SRTP itself. Results in the order of
    *paths*; *progress* gets (tasks done, tasks, bytes of records received) as
    tasks end."""
    cluster = _Cluster(scheduler, len(paths))
    try:
        maps = [cluster.submit(prepare_capture, p, profile, srtp, every) for p in paths]
        return cluster.gather([cluster.submit(Prepared.everything, m) for m in maps],
                              _counting(progress, len(paths)))
    finally:
        cluster.close()


def export_on_dask(paths: Sequence[str], session: Any, scheduler: str | None,
                   progress: Callable[[int, int, int], None] | None = None,
                   report: FleetReport | None = None) -> list[str]:
    """*session* over *paths* with the per-capture work on a Dask cluster (see the
    module docstring); returns the captures' errors, as :meth:`Session.add_captures`."""
    cluster = _Cluster(scheduler, len(paths))
    profile = session.profile
    report = report or FleetReport()
    try:
        clock = time.perf_counter()
        maps, shipped = _mapped(cluster, paths, profile, session.store is not None, progress)
        report.times["map"] = time.perf_counter() - clock

        def open_groups(plan: list[dict[int, frozenset[Flow]]], offsets: dict[int, float],
                        merged: bool) -> list[SrtpGroupResult]:
            splits = {k: cluster.submit(Prepared.split, m, [share.get(k) for share in plan])
                      for k, m in enumerate(maps) if any(k in share for share in plan)}
            maps.clear()  # (the splits hold what the SRTP tasks need; Dask frees the rest)
            keys = cluster.client.scatter(session.keys_timeline, broadcast=True)
            tasks = []
            for b, share in enumerate(plan):
                parts = [(k, offsets[k], cluster.submit(operator.getitem, splits[k], b))
                         for k in share]
                tasks.append(cluster.submit(open_srtp_group, parts, keys, profile, merged))
            return cluster.gather(tasks)

        return _reduce(session, shipped, open_groups,
                       lambda: cluster.gather([cluster.submit(Prepared.everything, m)
                                               for m in maps]), report,
                       tasks=2 * max(1, len(cluster.client.scheduler_info()["workers"])))
    finally:
        cluster.close()


__all__ = ["DaskMissing", "FleetReport", "Prepared", "SrtpGroupResult",
           "expand", "export_here", "export_on_dask", "open_srtp_group", "plan_groups",
           "prepare_capture", "prepare_on_dask"]
