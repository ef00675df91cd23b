"""The per-capture part of the pipeline: one capture read, prefiltered and made whole.

A :class:`CaptureFeed` reads one file (on every core for a large file, by
:func:`~analyzer.pipeline.scan.scan_capture`; serially when followed live or
indexed for the TUI), drops what cannot concern MBMS from a few header bytes
(:class:`~analyzer.net.prefilter.Prefilter`), reassembles IP fragments, applies
the capture's clock offset, and hands its records in its own time order to the
global part (:class:`~analyzer.pipeline.session.Session`), which merges the
captures and finds candidates in them with this feed's
:class:`~analyzer.pipeline.find.CandidateFinder`. :func:`fingerprints` gives the
first time of each MIKEY message, from which the global part aligns the clocks.

What crosses to the global part is plain data: :class:`~analyzer.capture.reading.Record`
(number, time, link type, bytes) and, from the finder,
:class:`~analyzer.pipeline.find.Candidate` s; both pickle (tests/test_pipeline.py).
The one exception is SRTP: whether a packet decrypts depends on the keys learned
so far from every capture, so the feed asks the global part (*srtp*) as it reads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.capture.reading import (
    CaptureError,
    Record,
    RecordIndex,
    Tally,
    read_capture,
)
from analyzer.net.decode import decode_transport
from analyzer.net.prefilter import Prefilter
from analyzer.pipeline.find import CandidateFinder, mikey_payloads
from analyzer.pipeline.scan import scan_capture

#: Most MIKEY fingerprints kept per capture for the clock alignment.
MAX_FINGERPRINTS = 200_000
#: Records between two progress reports.
PROGRESS_EVERY = 50_000

#: (record, capture index, prefilter, plaintext wanted) -> (nothing but SRTP?, the frame
#: with its payload decrypted or None): the global part's SRTP step
SrtpStep = Callable[..., tuple[bool, bytes | None]]


@dataclass
class CaptureInfo:
    """``captures[]`` of the timeline."""

    file: str
    packets: int = 0
    start: float | None = None
    end: float | None = None
    error: str | None = None
    offset: float | None = None


@dataclass
class CaptureFeed:
    """One capture of a session: its place, prefilter, finder and what was read of it.

    Attributes:
        path, index: the file and its place among the session's captures.
        keep: its prefilter (told by the finder of BM-SCs and SRTP flows found).
        finder: its candidate finder (fragments, TCP streams, FLUTE sessions).
        offset: seconds added to its times (the clock alignment).
        record_index: receives every record's place in the file (the TUI).
    """

    path: Path
    index: int
    keep: Prefilter
    finder: CandidateFinder
    profile: Profile = DEFAULT_PROFILE
    offset: float = 0.0
    record_index: RecordIndex | None = None
    #: the records, read already where the file lives (a Dask worker's
    #: :class:`analyzer.pipeline.fleet.Prepared`): taken from here, not from the file
    source: Any = None
    #: where its SRTP flows' write-offs are kept (the prefilter itself when the
    #: capture is read alone: the reader then skips those flows)
    flows: Prefilter = None  # type: ignore[assignment]
    info: CaptureInfo = field(init=False)

    def __post_init__(self) -> None:
        self.info = CaptureInfo(str(self.path))
        if self.flows is None:
            self.flows = self.keep

    def records(self, *, srtp: SrtpStep | None = None,
                on_record: Callable[[int, Record, bytes | None], None] | None = None,
                tick: Callable[[int], None] | None = None,
                progress: Callable[[str, int], None] | None = None,
                follow: Callable[[], bool] | None = None, workers: int | None = None,
                pool: Any = None, rows: bool = False, merged: bool = False,
                errors: list[str] | None = None
                ) -> Iterator[tuple[float, int, Record, Record]]:
        """The records of this capture for the merge, ``(time, index, record, as read)``.

        Alone (not *merged*), *srtp* (the global part's decryptor) is asked about
        RTP-like packets as they are read, and a packet that is SRTP only is not
        handed on (unless *rows*: ``dissect`` and the TUI show it); with *on_record*
        (``decrypt``) every record read is told, with its plaintext when it
        decrypts. Merged, every record kept is handed on, and the merge's consumer
        takes the SRTP step and tells *on_record* when the record's turn comes
        (records the prefilter drops are told here, in their file order). *tick* is
        called every 4,096 records (read in parallel: every chunk taken in), *progress*
        every :data:`PROGRESS_EVERY`; damage ends the capture and lands in *errors*. A
        large file is read on *workers* processes (*pool*: the caller's), also when
        every record's place goes to :attr:`record_index` (the TUI); a followed file
        and ``decrypt`` (every record written) are read serially.
        """
        index, keep, finder, offset, info = self.index, self.keep, self.finder, self.offset, \
            self.info
        tally = Tally()
        next_report = PROGRESS_EVERY
        plain = on_record is not None
        reader_keep: Any = keep
        if plain or tick is not None:
            seen = [0]

            def reader_keep(linktype: int, buf: Any, start: int, end: int) -> bool:
                seen[0] += 1
                if tick is not None and not seen[0] & 0xFFF:
                    tick(index)
                # decrypt writes every record: all pass, the prefilter's verdict is
                # taken again (and the same) when the record is handed on
                return True if plain else keep(linktype, buf, start, end)
            if not plain:
                # the reader's quick rejection stays (ticks then come with the records
                # it leaves to the prefilter: those of MBMS, RTP-like and TCP traffic)
                reader_keep.quick = keep.quick  # type: ignore[attr-defined]
        try:
            if self.source is not None:
                records = self._prepared(reader_keep if plain else keep, tally)
            elif follow is not None or plain:
                records = read_capture(self.path, reader_keep, tally, index=self.record_index,
                                       follow=follow)
            else:
                records = scan_capture(self.path, keep, tally, self.profile, srtp=keep.srtp,
                                       workers=workers, index=self.record_index,
                                       tick=(lambda: tick(index)) if tick is not None else None,
                                       serial_keep=reader_keep, pool=pool)
            for record in records:
                original = record
                if plain:
                    if not keep(record.linktype, record.data, 0, len(record.data)):
                        on_record(index, original, None)
                        continue
                record = finder.whole(record)  # SRTP and MIKEY see whole datagrams
                if record is None:
                    if plain:
                        on_record(index, original, None)
                    continue
                if offset:
                    record = Record(record.number, record.time + offset, record.linktype,
                                    record.data, record.orig_len)
                if progress is not None and record.number >= next_report:
                    progress(str(self.path), record.number)
                    next_report = record.number + PROGRESS_EVERY
                if merged:  # the merge's consumer takes the SRTP step and tells on_record
                    yield record.time, index, record, original
                    continue
                if plain:
                    replaced = srtp(record, index, keep, True)[1] if srtp is not None else None
                    on_record(index, original, replaced)
                    if replaced is not None:
                        finder.passed(record)
                        continue
                elif srtp is not None and not rows and srtp(record, index, keep, False)[0]:
                    finder.passed(record)  # SRTP only: nothing for the MIKEY/HTTP/FLUTE finder
                    continue
                yield record.time, index, record, original
        except CaptureError as exc:
            info.error = str(exc)
            if errors is not None:
                errors.append(str(exc))
        finally:
            source = self.source
            if source is not None:  # every record was counted where the file is
                tally.packets, tally.start, tally.end = source.packets, source.start, source.end
            info.packets = tally.packets
            if tally.start is not None:
                info.start, info.end = tally.start + offset, tally.end + offset

    def _prepared(self, keep: Prefilter, tally: Tally) -> Iterator[Record]:
        """The records read elsewhere, through this feed's prefilter (its decisions
        depend on what the run learned so far, as when reading the file), then the
        read error there was, at the same place."""
        for record in self.source.records:
            if keep(record.linktype, record.data, 0, len(record.data)):
                yield record
        if self.source.error is not None:
            raise CaptureError(self.source.error)


def fingerprints(path: str | Path, profile: Profile = DEFAULT_PROFILE) -> dict[bytes, float]:
    """First time of each MIKEY message of a capture (for the clock alignment)."""
    out: dict[bytes, float] = {}
    try:
        fingerprints_of(read_capture(path, Prefilter()), profile, out)
    except CaptureError:
        pass
    return out


def fingerprints_of(records: Iterable[Record], profile: Profile = DEFAULT_PROFILE,
                    into: dict[bytes, float] | None = None) -> dict[bytes, float]:
    """:func:`fingerprints` of records (those that may carry MIKEY are looked at), into
    *into*; at most :data:`MAX_FINGERPRINTS`."""
    out: dict[bytes, float] = {} if into is None else into
    aligning = Prefilter()
    for record in records:
        if aligning(record.linktype, record.data, 0, len(record.data)):
            add_fingerprints(record, profile, out)
            if len(out) >= MAX_FINGERPRINTS:
                break
    return out


def add_fingerprints(record: Record, profile: Profile, into: dict[bytes, float]) -> None:
    """The first time of each MIKEY message *record* carries, into *into*."""
    tp = decode_transport(record.linktype, record.data)
    if tp is not None:
        for _carrier, data, _issue in mikey_payloads(tp, profile):
            into.setdefault(hashlib.sha1(data).digest()[:12], record.time)
