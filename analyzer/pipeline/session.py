"""The one pipeline of every front end: a :class:`Session` over one or more captures.

It is split the way a cluster would run it. The per-capture part
(:mod:`analyzer.pipeline.local`, :mod:`analyzer.pipeline.find`) reads each file,
prefilters it, reassembles fragments and TCP streams and finds the MBMS
candidates, all plain picklable data. The global part, here, merges the
captures in time (clocks aligned by the MIKEY messages they share), counts a
message two taps saw once, builds each candidate with the key hierarchy
(:mod:`analyzer.pipeline.build`: keys are learned in time order across every
capture), tries the known and learned keys on SRTP, observes the typed facts
(:func:`~analyzer.flows.observe.observe`) and feeds the sans-IO
:class:`~analyzer.flows.reconstructor.Reconstructor`. Memory grows with keys,
UEs and procedures, not with packets.

Front ends differ only in where results go: ``export``/``extract``/``sniff
--headless`` take the reconstructor's records (:func:`analyzer.output.timeline.timeline`)
and downloads (:attr:`Session.on_download`), ``dissect`` and the TUI take each
dissected packet (:attr:`Session.on_packet`, SRTP packets dissected too),
``decrypt`` takes every record with its SRTP payload decrypted
(:attr:`Session.on_record`). So the same captures, keys and profile give the
same keys, procedures and findings everywhere.
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.capture.reading import (
    CaptureError,
    Record,
    RecordIndex,
)
from analyzer.flows.observe import observe
from analyzer.flows.reconstructor import Reconstructor
from analyzer.keys.hierarchy import KeyHierarchy
from analyzer.keys.srtp import SrtpDecryptor
from analyzer.keys.store import KeyStore
from analyzer.net.prefilter import Prefilter
from analyzer.pipeline.build import build
from analyzer.pipeline.find import CandidateFinder
from analyzer.pipeline.local import CaptureFeed, CaptureInfo, fingerprints
from analyzer.pipeline.srtp_step import (
    AFTER_ALL,
    BEFORE_ALL,
    KeyTimeline,
    Place,
    SameWindow,
    SrtpStep,
    Target,
    srtp_target,
)
from analyzer.views.alc import open_fdt_dcf
from analyzer.views.result import Dissected
from analyzer.views.srtp import SrtpFinder


@dataclass
class Session:
    """One run of the pipeline over several captures (every front end's)."""

    store: KeyStore | None = None
    profile: Profile = DEFAULT_PROFILE
    reveal_keys: bool = False
    progress: Callable[[str, int], None] | None = None
    #: told of every FLUTE object that ends (``extract`` writes the files)
    on_download: Callable[[Any], None] | None = None
    #: processes that read large captures (None: every core; 1: serial)
    workers: int | None = None
    #: those processes, started by the caller (the TUI forks them before its threads
    #: start); None: started for each large capture, as needed
    pool: Any = None
    #: told of every dissected MBMS packet, in merged order, with its frame bytes (b""
    #: when not at hand): ``dissect`` and the TUI. SRTP packets are dissected too.
    #: A packet a second tap saw again is passed on too, built without the keys
    #: (its twin already taught them) and observed nowhere.
    on_packet: Callable[[Dissected, bytes], None] | None = None
    #: told of every record read (capture index, the record as in its file, the
    #: record with its SRTP/SRTCP payload decrypted or None): ``decrypt``
    on_record: Callable[[int, Record, bytes | None], None] | None = None
    #: per capture (in :meth:`add_captures` order), an index that receives every
    #: record's place in its file (the TUI's packet list)
    indexes: list[RecordIndex] | None = None
    #: called every 4,096 records read (the TUI: cancel, pause, progress); may raise
    tick: Callable[[int], None] | None = None
    #: FLUTE objects still incomplete at the end are reported (as a packet at their
    #: last packet); ``dissect --json`` leaves them out: one object per packet
    end_objects: bool = True
    #: feed the reconstructor (False: ``dissect``, which shows packets only, skips the
    #: observations; keys are still learned, in the same order, by the hierarchy)
    reconstruct: bool = True
    #: with no keys and no reconstruction (``dissect`` without keys): told of each
    #: candidate instead of building it here, so that it is built and rendered on
    #: every core (:class:`analyzer.pipeline.parallel.Renderer`); ``on_packet`` is then unused
    on_candidate: Callable[[Any], None] | None = None
    rec: Reconstructor = field(init=False)
    captures: list[CaptureInfo] = field(default_factory=list)

    def __post_init__(self) -> None:
        #: MIKEY messages, HTTP exchanges and FLUTE packets two captures carry
        self._same = SameWindow()
        self.rec = Reconstructor(with_keys=self.store is not None)
        self.hierarchy = KeyHierarchy(self.store) if self.store is not None else None
        self.decryptor = SrtpDecryptor(self.store) if self.store is not None else None
        self.step: SrtpStep | None = None
        #: the fleet's first pass (:meth:`learn_prepared`): observations held with
        #: their merge places, and the keys' timeline, instead of reconstructing
        self._hold: list[tuple[Place, int, Any]] | None = None
        self.keys_timeline = KeyTimeline()
        self._place: Place = BEFORE_ALL
        if self.store is not None:
            for muk in self.store.muks:
                rec = self.rec.add_known_key("MUK", idr=muk.ident.get("idr"),
                                             idi=muk.ident.get("idi"))
                rec.value = (muk.value or b"").hex()
            for (kd, msk), key in self.store.msks.items():
                self.rec.add_known_key("MSK", key_domain=kd.hex(), msk_id=msk.hex()).value = \
                    (key.value or b"").hex()
            for (kd, msk, mtk), key in self.store.mtks.items():
                self.rec.add_known_key("MTK", key_domain=kd.hex(), msk_id=msk.hex(),
                                       mtk_id=mtk.hex()).value = (key.value or b"").hex()

    def add_captures(self, paths: Sequence[str | Path],
                     follow: Callable[[], bool] | None = None) -> list[str]:
        """Read captures into the timeline, merged in time; returns their errors.

        Captures after the first are aligned to it: MIKEY messages seen in both give
        the clock offset (the median difference), reported as ``captures[].offset``
        and applied; a message, HTTP exchange or SRTP packet seen in two captures
        is counted once. With *follow*, captures still being written are read
        until ``follow()`` turns false (``sniff --headless``).
        """
        return self._run(self._feeds([Path(p) for p in paths]), follow)

    def add_prepared(self, prepared: Sequence[Any]) -> list[str]:
        """The global part over captures whose per-capture part ran elsewhere
        (:class:`analyzer.pipeline.fleet.Prepared`, e.g. on Dask workers): the same
        merge, prefilter decisions, alignment, keys and reconstruction as
        :meth:`add_captures` on the files themselves; returns their errors."""
        return self._run(self._feeds([Path(p.file) for p in prepared], prepared), None)

    def learn_prepared(self, prepared: Sequence[Any]) -> list[str]:
        """The fleet's first pass (:mod:`analyzer.pipeline.fleet`): the global part
        over captures whose SRTP flows stay where they are. Keys are learned and
        their take-up by the decryptor noted with its merge place
        (:attr:`keys_timeline`); observations are held with their places until
        :meth:`finish_prepared` merges them with the SRTP observations made
        elsewhere. Returns the captures' errors."""
        self._hold = []
        return self._run(self._feeds([Path(p.file) for p in prepared], prepared), None)

    def held_offsets(self) -> list[tuple[int, float]]:
        """(capture index, clock offset) of the captures of :meth:`learn_prepared`."""
        return [(feed.index, feed.offset) for feed in self._held_feeds]

    def finish_prepared(self, srtp: Sequence[Any]) -> None:
        """The fleet's second pass: the held observations and those of the SRTP
        groups opened elsewhere (each an iterable of ``(place, n, SrtpObs)`` in merge
        order, with ``last``: capture index -> the last SRTP-only record of it that
        came out of the merge, as (frame, time)), fed to the reconstructor in the
        order the single-machine run feeds them; then the captures end."""
        hold, self._hold = self._hold or [], None
        streams = [((place, 1, n, obs) for place, n, obs in hold)]
        streams += [((place, 0, n, obs) for place, n, obs in group.observations())
                    for group in srtp]
        feed = self.rec.feed
        for _place, _kind, _n, obs in heapq.merge(*streams, key=lambda item: item[:3]):
            feed(obs)
        finders = {f.index: f.finder for f in self._held_feeds}
        for group in srtp:
            for index, (frame, time) in group.last.items():
                finder = finders[index]
                if frame > finder.last[1]:
                    finder.passed(Record(frame, time, 0, b"", 0))
        self._finish_feeds(self._held_feeds)

    def _run(self, feeds: list[CaptureFeed], follow: Callable[[], bool] | None) -> list[str]:
        """The merge of *feeds* in time, and everything after it.

        Merged captures: each record's SRTP step, its flow's write-off and the
        finders see it as it comes out of the merge, so what a packet makes of the
        keys depends on its own place only (keys learned from MIKEY in any capture
        before it), which is what lets a cluster open SRTP flows apart
        (:mod:`analyzer.pipeline.fleet`). One capture: the same, done as it is read.
        """
        errors: list[str] = []
        rows = self.on_packet is not None
        merged = len(feeds) > 1
        # the decryptor's key count changes only when a candidate is fed (keys are
        # learned from MIKEY there): the prefilters read it from here, not recount it
        known = [self.decryptor.key_count if self.decryptor is not None else 0]
        holding = self._hold is not None
        if holding and self.decryptor is not None:
            self.keys_timeline.note(BEFORE_ALL, self.decryptor, 0)
        taken = len(self.decryptor.taken) if self.decryptor is not None else 0
        for feed in feeds:
            if feed.finder.srtp is None:  # (dissected SRTP rows: their finder counts the
                # keys and the MKIs announced, which its write-offs are made with)
                feed.keep.key_source = lambda: known[0]
                feed.flows.key_source = lambda: known[0]
        self._frames: dict[tuple[int, int], bytes] = {}
        step = self.step if self.step is not None and not rows and not holding else None
        # merged, the SRTP step and write-offs wait for the record's turn (below)
        streams = [feed.records(srtp=None if merged or holding else self._srtp,
                                on_record=self.on_record, tick=self.tick,
                                progress=self.progress, follow=follow, workers=self.workers,
                                pool=self.pool,
                                rows=rows, merged=merged, errors=errors)
                   for feed in feeds]
        by_index = {feed.index: feed for feed in feeds}
        on_record = self.on_record
        profile = self.profile
        place: Place = BEFORE_ALL
        for _, index, record, original in heapq.merge(*streams, key=lambda i: (i[0], i[1])):
            feed = by_index[index]
            if holding:  # (the fleet's first pass: SRTP is opened elsewhere)
                place = (record.time, index, record.number) if merged else \
                    (0.0, 0, record.number)
                target = srtp_target(record, profile)
                if target is not None and target.dport not in profile.flute_ports:
                    continue
            elif merged and step is not None:
                target = srtp_target(record, profile)
                if target is not None:
                    flows = feed.flows
                    if flows.written_off((target.flow, target.dport)):
                        if on_record is not None:  # written off: not tried now
                            on_record(index, original, None)
                        continue
                    srtp_only, replaced = self._srtp(record, index, flows,
                                                     on_record is not None, target)
                    if on_record is not None:
                        on_record(index, original, replaced)
                    if srtp_only:
                        feed.finder.passed(record)
                        continue
                elif on_record is not None:
                    on_record(index, original, None)
            elif merged and on_record is not None:
                on_record(index, original, None)
            if rows:  # the frames that candidates may show (an HTTP message ends later)
                self._frames[(index, record.number)] = record.data
                if len(self._frames) > 4096:
                    self._frames.pop(next(iter(self._frames)))
            cands = feed.finder.record(record, whole=True)
            if cands:
                self._place = place
                for cand in cands:
                    self._feed(cand)
                if self.decryptor is not None:
                    known[0] = self.decryptor.key_count
                    if holding and len(self.decryptor.taken) > taken:
                        self.keys_timeline.note(place, self.decryptor, taken)
                        taken = len(self.decryptor.taken)
        self._place = AFTER_ALL
        if not holding:
            self._finish_feeds(feeds)
        else:
            self._held_feeds = feeds
        return errors

    def _finish_feeds(self, feeds: list[CaptureFeed]) -> None:
        """The end of the captures: what the finders still hold."""
        for feed in feeds:
            for cand in feed.finder.finish(self.end_objects):
                self._feed(cand)

    def _feeds(self, paths: list[Path], prepared: Sequence[Any] | None = None
               ) -> list[CaptureFeed]:
        """The per-capture parts for *paths* (read already when *prepared*): their
        prefilters and finders, their clock offsets (from the MIKEY messages they
        share with the first)."""
        first = len(self.captures)
        rows = self.on_packet is not None
        offsets = [0.0] * len(paths)
        if len(paths) > 1:
            prints = ([p.fingerprints for p in prepared] if prepared is not None
                      else [fingerprints(path, self.profile) for path in paths])
            reference = prints[0]
            for k in range(1, len(paths)):
                diffs = sorted(reference[fp] - t for fp, t in prints[k].items()
                               if fp in reference)
                if diffs:
                    offsets[k] = diffs[len(diffs) // 2]
        feeds = []
        if self.decryptor is not None:
            if self.step is None:
                self.step = SrtpStep(self.decryptor, self.profile)
            self.step.merged = len(self.captures) + len(paths) > 1
        for k, path in enumerate(paths):
            keep = Prefilter(self.profile, srtp=self.decryptor is not None or rows)
            # dissected SRTP rows: found (by key or announced MKI) as candidates by an
            # SrtpFinder, which tells its prefilter of the flows it writes off
            finder = CandidateFinder(first + k, self.profile, prefilter=keep,
                                     srtp=SrtpFinder(self.decryptor, keep) if rows else None)
            if self.store is not None:  # a protected download's FDT is a DCF (TS 33.246
                # §6.6.3), opened with the keys known when it completes
                finder.flute.fdt_opener = lambda data: open_fdt_dcf(data, self.store,
                                                                    self.profile)
            feed = CaptureFeed(path, first + k, keep, finder, self.profile, offsets[k],
                               self.indexes[k + len(self.indexes) - len(paths)]
                               if self.indexes is not None else None)
            if prepared is not None:
                feed.source = prepared[k]
            if len(paths) > 1 and not rows:  # write-offs at the record's turn in the merge
                feed.flows = Prefilter(self.profile, srtp=True)
            if k and offsets[k]:
                feed.info.offset = round(offsets[k], 6)
            feeds.append(feed)
            self.captures.append(feed.info)
        return feeds

    def add_capture(self, path: str | Path) -> None:
        """Read one capture (raises :class:`CaptureError` on damage, after the rest)."""
        errors = self.add_captures([path])
        if errors:
            raise CaptureError(errors[0])

    def _feed(self, cand: Any) -> None:
        same = self._same.duplicate
        if self.on_candidate is not None and self.hierarchy is None and not self.reconstruct:
            same(_cand_fingerprint(cand), cand.capture, cand.time)
            self.on_candidate(cand)
            return
        if same(_cand_fingerprint(cand), cand.capture, cand.time):
            if self.on_packet is not None:
                self.on_packet(build(cand, None, self.profile), self._frame(cand))
            return
        pkt = build(cand, self.hierarchy, self.profile, display=self.on_packet is not None)
        if self.on_download is not None:
            for opened in pkt.downloads:
                self.on_download(opened)
        if self.reconstruct:
            hold = self._hold
            for obs in observe(pkt):
                if hold is None:
                    self.rec.feed(obs)
                else:
                    hold.append((self._place, len(hold), obs))
        if self.on_packet is not None:
            self.on_packet(pkt, self._frame(cand))

    def _frame(self, cand: Any) -> bytes:
        return self._frames.get((cand.capture, cand.frame), b"")

    def _srtp(self, record: Record, index: int, flows: Prefilter, plaintext: bool = False,
              target: Target | None = None) -> tuple[bool, bytes | None]:
        """Try the keys on an RTP-like UDP packet (:class:`SrtpStep`): (True when the
        packet can concern nothing but SRTP, with *plaintext* the record's bytes with
        the payload decrypted, else None); its observation goes to the reconstructor."""
        if target is None:
            target = srtp_target(record, self.profile)
            if target is None:
                return False, None
        assert self.step is not None
        srtp_only, replaced, obs = self.step(record, index, flows, target, plaintext)
        if obs is not None:
            self.rec.feed(obs)
        return srtp_only, replaced

    def finish(self) -> None:
        """The captures ended: open procedures close, last uses are recorded
        (idempotent, see :meth:`Reconstructor.finish`)."""
        self.rec.finish()


def _cand_fingerprint(cand: Any) -> bytes:
    """What a candidate is the same as in another capture: its messages; an SRTP/SRTCP
    packet, by its clear header, MKI and tag to its destination (the tag covers the
    rest: what :class:`SrtpStep` compares, the same payload to the same place)."""
    if cand.srtp is not None:
        info = cand.srtp
        return b"s" + hashlib.sha1(cand.dst.encode() + b"|" + info.header + b"|" + info.mki
                                   + b"|" + info.tag).digest()[:12]
    if cand.alc is not None:
        pkt = cand.alc.packet
        if pkt is None:
            return b"a" + repr([(o.session, o.tsi, o.toi) for o in cand.alc.objects]).encode()
        return b"a" + hashlib.sha1(repr((pkt.tsi, pkt.toi, pkt.sbn, pkt.esi)).encode()
                                   + pkt.payload).digest()[:12]
    if cand.http is not None:
        msg = cand.http.message
        ident = repr((msg.is_request, msg.method, msg.uri, msg.status, msg.headers)).encode()
        return b"h" + hashlib.sha1(ident + msg.body).digest()[:12]
    return b"m" + hashlib.sha1(b"".join(d for _c, d, _i in cand.found)).digest()[:12]
