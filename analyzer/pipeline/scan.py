"""One large capture read on every core: records walked and prefiltered in worker
processes, chunk by chunk, and kept in order by the calling process (issue #8).

:func:`scan_capture` yields exactly what ``read_capture(path, keep, tally)``
yields. The file is cut at record boundaries (found by :func:`find_boundary`,
confirmed when the chunk before ends exactly there); each worker reads its chunk
with :func:`~analyzer.capture.reading.read_range` and a *permissive* prefilter: the
same :class:`~analyzer.net.prefilter.Prefilter` rules with none of the learned
state (every TCP segment kept, every RTP-like flow alive). Those rules only
add to what the stateless ones keep, so what a worker drops the serial reader
would drop too; the calling process then asks its own *keep* - in capture
order, so its learned state (BM-SC hosts, TCP connections, written-off SRTP
flows) is what the serial run would have - about each record a worker kept.
A packet of an RTP-like flow (judged by the written-off state alone) or a TCP
segment (judged by the BM-SC hosts and followed connections, with whether it
names MBMS words found by the worker) comes back as its place in the file and
is read (``pread``) only if it is kept: most are noise the serial reader drops
too.

The first chunk is small and read by the calling thread itself, the same way, while
the workers start on the next ones: the first records (the TUI's first screen) wait
for no process. The TUI forks its workers before its threads start (:func:`start_pool`)
and has them send every record's place too (its packet list shows them all).

Anything out of the ordinary (damage, a boundary that was none, an interface
described after the first packet) ends the parallel read: the rest of the file
is read serially from the last chunk that ended cleanly, so error messages and
frame numbers are those of the serial run too.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import struct
from collections import deque
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.capture.reading import (
    MAX_RECORD,
    CaptureError,
    Record,
    RecordIndex,
    Section,
    Tally,
    first_section,
    read_capture,
    read_range,
)
from analyzer.net.prefilter import Prefilter
from analyzer.pipeline.workers import default_workers

#: Files smaller than this are read serially (a pool costs more than it saves).
PARALLEL_MIN = 48 * 1024 * 1024
#: Bytes of capture per chunk: the most a worker hands back at once (small: the chunks in
#: flight are what the parallel read adds to memory, about 3 x 4 MB of records and places).
CHUNK_BYTES = 4 * 1024 * 1024
#: Bytes of the first chunk: small, so that its records (the TUI's first screen) come
#: back at once while the workers go on with the full-size ones.
FIRST_CHUNK_BYTES = 32 * 1024
#: Consecutive records that must chain from a candidate boundary.
CHAIN = 8
#: Bytes searched after a cut point for a boundary.
SEARCH = 1 << 20


def find_boundary(path: str | Path, section: Section, offset: int) -> int | None:
    """A record (pcap) or Enhanced Packet Block (pcapng) boundary at or after
    *offset*: the first place where :data:`CHAIN` plausible records follow one
    another. A guess, checked by the caller (the read before it must end there)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(SEARCH + CHAIN * 65600)
    except OSError:
        return None
    if section.pcapng:
        return _pcapng_boundary(data, offset, section)
    return _pcap_boundary(data, offset, section)


def _pcapng_boundary(data: bytes, offset: int, section: Section) -> int | None:
    head = struct.Struct(section.endian + "IIIIIII").unpack_from
    u32 = struct.Struct(section.endian + "I").unpack_from
    nif = len(section.interfaces)
    start = (-offset) % 4  # blocks lie on 32-bit boundaries from the file's start
    for cand in range(start, min(SEARCH, len(data)), 4):
        pos = cand
        for _ in range(CHAIN):
            if pos + 28 > len(data):
                break
            btype, blen, iface, _hi, _lo, incl, orig = head(data, pos)
            if (btype != 6 or blen % 4 or not 32 + incl <= blen <= MAX_RECORD or iface >= nif
                    or incl > orig + 65536 or pos + blen > len(data)
                    or u32(data, pos + blen - 4)[0] != blen):
                break
            pos += blen
        else:
            return offset + cand
    return None


def _pcap_boundary(data: bytes, offset: int, section: Section) -> int | None:
    head = struct.Struct(section.endian + "IIII").unpack_from
    frac_max = 1_000_000 if section.scale == 1e-6 else 1_000_000_000
    for cand in range(min(SEARCH, len(data))):
        pos = cand
        prev = None
        for _ in range(CHAIN):
            if pos + 16 > len(data):
                break
            sec, frac, incl, orig = head(data, pos)
            if (frac >= frac_max or incl > orig or incl > 262144 or not incl
                    or (prev is not None and abs(sec - prev) > 86400)):
                break
            prev = sec
            pos += 16 + incl
        else:
            return offset + cand
    return None


@dataclass
class _Chunk:
    """What a worker read of one chunk."""

    #: (number, time, link type, bytes, length on the wire, None), or for a packet of
    #: an RTP-like flow or a TCP segment, judged by learned state (number, time, link
    #: type, file offset, length on the wire, flow or segment, captured length)
    records: list[tuple]
    tally: Tally
    end: Section  # the state it ended in
    error: str | None
    #: with *want_index*: every record's place (the :class:`RecordIndex` arrays as bytes)
    index: tuple[bytes, bytes, bytes, bytes] | None = None


def _read_chunk(path: str, section: Section, start: int, stop: int, profile: Profile,
                srtp: bool, want_index: bool = False) -> _Chunk:
    """Worker: the records of ``[start, stop)`` the permissive prefilter keeps; those
    of RTP-like flows and TCP segments by their place in the file (most are dropped by
    the caller's learned state: their bytes are read there only when kept). With
    *want_index*, also where every record of the chunk lies (the TUI lists them all)."""
    keep = Prefilter(replace(profile, tcp_prefilter=False), srtp=srtp)
    judge = Prefilter(profile, srtp=srtp)  # the caller's rules, for what its state decides
    index = RecordIndex()
    out: list[tuple] = []
    # the length on the wire: the 32 bits before the frame, in pcap record headers and
    # in pcapng packet blocks alike
    orig_len = struct.Struct(section.endian + "I").unpack_from
    endian = section.endian

    def marking(linktype: int, buf: bytes, begin: int, end: int) -> bool:
        if not keep(linktype, buf, begin, end):
            return False
        flow = judge.rtp_flow(linktype, buf, begin, end) if srtp else None
        if flow is None:
            flow = judge.tcp_segment(linktype, buf, begin, end)
            if flow is None:
                return True  # read as a record, bytes and all
        at = len(index.times) - 1  # the reader indexes a record before it asks
        out.append((at + 1, index.times[at], linktype, index.offsets[at],
                    orig_len(buf, begin - 4)[0], flow, index.lengths[at]))
        return False

    marking.quick = keep.quick  # type: ignore[attr-defined]
    tally = Tally()
    try:
        for r in read_range(path, section, start, stop, marking, tally, index):
            out.append((r.number, r.time, r.linktype, r.data, r.orig_len, None))
    except CaptureError as exc:
        return _Chunk(out, tally, section, str(exc))
    if section.endian != endian:  # a section of the other byte order began: read serially
        return _Chunk(out, tally, section, "byte order changed")
    return _Chunk(out, tally, section, None,
                  (index.times.tobytes(), index.offsets.tobytes(), index.lengths.tobytes(),
                   index.linktypes.tobytes()) if want_index else None)


def boundaries(path: str | Path, size: int) -> tuple[Section, list[int]] | None:
    """The state at the first record and the chunk boundaries, first record to end
    of file (None: not worth cutting, or no boundaries found)."""
    first = first_section(path)
    if first is None:
        return None
    section, start = first
    cuts = [start, *_cut_points(path, section, start, size)]
    return (section, cuts) if len(cuts) > 2 else None


def _cut_points(path: str | Path, section: Section, start: int, size: int) -> Iterator[int]:
    """The chunk boundaries after *start* in order, each found when asked for (a read
    and a search: the first chunk goes out before the last boundary is known), then
    *size*. The first chunk is :data:`FIRST_CHUNK_BYTES` long, the others
    :data:`CHUNK_BYTES`."""
    last = start
    first_cut = start + min(FIRST_CHUNK_BYTES, CHUNK_BYTES)
    offsets = itertools.chain([first_cut] if first_cut < start + CHUNK_BYTES else [],
                              range(start + CHUNK_BYTES, size - CHUNK_BYTES // 4, CHUNK_BYTES))
    for offset in offsets:
        found = find_boundary(path, section, offset)
        if found is not None and last < found < size:
            last = found
            yield found
    yield size


def start_pool(workers: int | None = None, nice: int = 0) -> ProcessPoolExecutor | None:
    """Processes for :func:`scan_capture`, forked now. A caller that will have threads
    (the TUI) starts them before its threads do: a fork copies the forking thread
    only, and a lock another thread held then would stay held in the child. *nice*:
    their scheduling niceness above the caller's (the TUI's screen comes first: the
    workers read ahead when it leaves them the cores). None when one core is all
    there is, or no process can be started; the caller shuts the pool down."""
    workers = default_workers() if workers is None else workers
    if workers < 2:
        return None
    try:
        pool = ProcessPoolExecutor(max_workers=workers,
                                   mp_context=multiprocessing.get_context("fork"),
                                   initializer=_nice if nice else None, initargs=(nice,))
        pool.submit(int).result()  # (with fork, every process starts at the first task)
    except (OSError, BrokenProcessPool):
        return None
    return pool


def _nice(increment: int) -> None:
    try:
        os.nice(increment)
    except OSError:  # (not allowed here: the default priority)
        pass


def scan_capture(path: str | Path, keep: Prefilter, tally: Tally | None = None,
                 profile: Profile = DEFAULT_PROFILE, srtp: bool = False,
                 workers: int | None = None, index: RecordIndex | None = None,
                 tick: Callable[[], None] | None = None,
                 serial_keep: Any = None, pool: ProcessPoolExecutor | None = None
                 ) -> Iterator[Record]:
    """``read_capture(path, keep, tally, index)``, its chunks prefiltered on *workers*
    cores (*profile* and *srtp*: those *keep* was made with).

    *index* receives every record's place, chunk by chunk as they are taken in (before
    their records are yielded). *tick* is called once per chunk taken in; where the
    file is read serially (small, or after damage), *serial_keep* is asked instead of
    *keep* (a keep that ticks as it goes). *pool*: processes started by the caller
    (the TUI's, forked before its threads: they are not shut down here)."""
    workers = default_workers() if workers is None else workers
    serial_keep = keep if serial_keep is None else serial_keep
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    first = first_section(path) if workers > 1 and size >= PARALLEL_MIN else None
    points: Iterator[int] = iter(())
    if first is not None:
        head, begin = first
        points = _cut_points(path, head, begin, size)
        cuts = [begin, next(points)]  # (found as the chunks are handed out)
    if first is None or cuts[1] >= size:  # too small, or nothing to cut at
        yield from read_capture(path, serial_keep, tally, index)
        return
    tally = tally if tally is not None else Tally()
    state = replace(head, interfaces=list(head.interfaces))  # the true state at cuts[k]
    k = 0
    owned = pool is None
    if owned:  # (None: no processes here - no semaphores, no fork -: the serial reader)
        pool = start_pool(workers)
    want_index = index is not None
    # (the bytes of RTP-like packets are read with pread, not a memory map: mapped pages
    # would count in this process's memory, which must not grow with the capture)
    with open(path, "rb") as fh, pool if pool is not None and owned else nullcontext():
        window: deque[Future[_Chunk]] = deque()
        pread = _Pread(fh, path)
        submitted = [1]  # (the first chunk, small, is read here: see below)

        def submit() -> None:
            n = submitted[0]
            while len(cuts) < n + 2:  # the end of chunk n: found now
                point = next(points, None)
                if point is None:
                    return  # every chunk handed out
                cuts.append(point)
            window.append(pool.submit(_read_chunk, str(path),
                                      replace(head, interfaces=list(head.interfaces)),
                                      cuts[n], cuts[n + 1], profile, srtp, want_index))
            submitted[0] = n + 1

        # the first chunk (small) is read here, as a worker would read it, and its records
        # handed on before the others are handed out: the TUI's first screen waits for
        # no process (nor for this thread's turns at the interpreter lock, which the UI
        # thread holds as it starts: each read and each hand-out gives it away)
        first_chunk: Future[_Chunk] = Future()
        first_chunk.set_result(_read_chunk(str(path),
                                           replace(head, interfaces=list(head.interfaces)),
                                           cuts[0], cuts[1], profile, srtp, want_index))
        window.append(first_chunk)
        while window:
            try:
                chunk = window.popleft().result()
                if k:
                    submit()
            except (OSError, BrokenProcessPool, RuntimeError, CancelledError):  # a worker
                chunk = None  # died (or the caller's pool was shut down): nothing of chunk k
            # read in the true state (no interface came since the first packet), and
            # ended exactly at the next cut (so that it is a boundary) without damage
            if chunk is None or chunk.error is not None or not head.same_state(state):
                for fut in window:
                    fut.cancel()
                break  # the serial reader takes over from cuts[k]
            base = state.number
            if index is not None and chunk.index is not None:
                times, offsets, lengths, linktypes = chunk.index
                index.times.frombytes(times)
                index.offsets.frombytes(offsets)
                index.lengths.frombytes(lengths)
                index.linktypes.frombytes(linktypes)
            if tick is not None:
                tick()
            dead, keys = keep.dead, keep.key_source
            # (the keys known change only while a record is out with the consumer: read
            # again after each, not for every packet of a written-off flow)
            known = keys()
            for item in chunk.records:
                flow = item[5]
                if flow is None:
                    data = item[3]
                    if keep(item[2], data, 0, len(data)):
                        yield Record(base + item[0], item[1], item[2], data, item[4])
                        known = keys()
                    continue
                if len(flow) == 2:
                    # an RTP-like flow is judged by its learned state alone (Prefilter._udp,
                    # Prefilter.alive): a flow written off, no key learned since, is dropped
                    tried = dead.get(flow)
                    if tried is None or tried < known:
                        yield Record(base + item[0], item[1], item[2],
                                     pread(item[6], item[3]), item[4])
                        known = keys()
                elif keep.tcp_wanted(flow[0], flow[1], flow[2], flow[3],
                                     flow[4].__bool__):  # a TCP segment (Prefilter._tcp)
                    yield Record(base + item[0], item[1], item[2],
                                 pread(item[6], item[3]), item[4])
                    known = keys()
            _merge(tally, chunk.tally)
            state = replace(chunk.end, number=base + chunk.end.number)
            k += 1
            if k == 1:  # the others, to the workers (none: the serial reader goes on)
                try:
                    for _ in range(workers + 1 if pool is not None else 0):
                        submit()
                except (OSError, BrokenProcessPool, RuntimeError):  # (a pool shut down)
                    window.clear()
    if cuts[k] < size:  # stopped early, or no pool: the serial reader from cuts[k]
        yield from read_range(path, state, cuts[k], None, serial_keep, tally, index)


def _merge(tally: Tally, part: Tally) -> None:
    if not part.packets:
        return
    tally.packets += part.packets
    tally.start = part.start if tally.start is None else min(tally.start, part.start)
    tally.end = part.end if tally.end is None else max(tally.end, part.end)


#: bytes read at once for the records a worker found (they come in file order: one
#: read serves the many small records that follow it)
READ_AHEAD = 256 * 1024


class _Pread:
    """Records a worker found, read from the file by place through one bounded window
    (``pread``: no memory map, whose pages would count in this process's memory)."""

    __slots__ = ("fd", "path", "start", "buf")

    def __init__(self, fh: Any, path: str | Path) -> None:
        self.fd = fh.fileno() if fh is not None else -1
        self.path = path
        self.start = 0
        self.buf = b""

    def __call__(self, length: int, offset: int) -> bytes:
        """*length* bytes of the capture at *offset*."""
        at = offset - self.start
        if at < 0 or at + length > len(self.buf):
            try:
                self.buf = os.pread(self.fd, max(length, READ_AHEAD), offset)
            except OSError as exc:
                raise CaptureError(f"{self.path}: {exc.strerror or exc}") from None
            self.start, at = offset, 0
            if len(self.buf) < length:
                raise CaptureError(f"{self.path}: record truncated at offset {offset} "
                                   "(the file shrank)")
        return self.buf[at:at + length]
