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
import socket
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.capture.reading import (
    CaptureError,
    Record,
    RecordIndex,
)
from analyzer.capture.where import Where
from analyzer.flows.observe import SrtpObs, observe
from analyzer.flows.reconstructor import Reconstructor
from analyzer.keys.hierarchy import KeyHierarchy
from analyzer.keys.srtp import SrtpDecryptor
from analyzer.keys.store import KeyStore
from analyzer.net.decode import decode_transport, replace_udp_payload, udp4_fields
from analyzer.net.prefilter import Prefilter, packed
from analyzer.pipeline.build import build
from analyzer.pipeline.find import CandidateFinder
from analyzer.pipeline.local import CaptureFeed, CaptureInfo, fingerprints
from analyzer.views.alc import open_fdt_dcf
from analyzer.views.result import Dissected, endpoint
from analyzer.views.srtp import SrtpFinder
from dissectors.srtp import rtp_fields

#: Seconds within which the same message in two captures is one message.
SAME_WINDOW = 2.0



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
        self._seen: dict[bytes, tuple[int, float]] = {}
        #: (packed address, port) -> "ip:port" of SRTP destinations
        self._endpoints: dict[tuple[bytes, int], str] = {}
        self._recent: deque[tuple[bytes, float]] = deque()
        self.rec = Reconstructor(with_keys=self.store is not None)
        self.hierarchy = KeyHierarchy(self.store) if self.store is not None else None
        self.decryptor = SrtpDecryptor(self.store) if self.store is not None else None
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

    def _run(self, feeds: list[CaptureFeed], follow: Callable[[], bool] | None) -> list[str]:
        """The merge of *feeds* in time, and everything after it."""
        errors: list[str] = []
        rows = self.on_packet is not None
        # the decryptor's key count changes only when a candidate is fed (keys are
        # learned from MIKEY there): the prefilters read it from here, not recount it
        known = [self.decryptor.key_count if self.decryptor is not None else 0]
        for feed in feeds:
            feed.keep.key_source = lambda: known[0]
        self._frames: dict[tuple[int, int], bytes] = {}
        srtp = self._srtp if self.decryptor is not None else None
        streams = [feed.records(srtp=srtp, on_record=self.on_record, tick=self.tick,
                                progress=self.progress, follow=follow, workers=self.workers,
                                rows=rows, merged=len(feeds) > 1, errors=errors)
                   for feed in feeds]
        finders = {feed.index: feed.finder for feed in feeds}
        for _, index, record in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
            if rows:  # the frames that candidates may show (an HTTP message ends later)
                self._frames[(index, record.number)] = record.data
                if len(self._frames) > 4096:
                    self._frames.pop(next(iter(self._frames)))
            cands = finders[index].record(record, whole=True)
            if cands:
                for cand in cands:
                    self._feed(cand)
                if self.decryptor is not None:
                    known[0] = self.decryptor.key_count
        for feed in feeds:
            for cand in feed.finder.finish(self.end_objects):
                self._feed(cand)
        return errors

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
        if self.on_candidate is not None and self.hierarchy is None and not self.reconstruct:
            self._duplicate(_cand_fingerprint(cand), cand.capture, cand.time)
            self.on_candidate(cand)
            return
        if self._duplicate(_cand_fingerprint(cand), cand.capture, cand.time):
            if self.on_packet is not None:
                self.on_packet(build(cand, None, self.profile), self._frame(cand))
            return
        pkt = build(cand, self.hierarchy, self.profile)
        if self.on_download is not None:
            for opened in pkt.downloads:
                self.on_download(opened)
        if self.reconstruct:
            for obs in observe(pkt):
                self.rec.feed(obs)
        if self.on_packet is not None:
            self.on_packet(pkt, self._frame(cand))

    def _frame(self, cand: Any) -> bytes:
        return self._frames.get((cand.capture, cand.frame), b"")

    def _duplicate(self, fp: bytes, capture: int, time: float) -> bool:
        """Seen in another capture within :data:`SAME_WINDOW` seconds (aligned)?"""
        while self._recent and time - self._recent[0][1] > 5 * SAME_WINDOW:
            old, _ = self._recent.popleft()
            if self._seen.get(old, (None, 0.0))[1] <= time - 5 * SAME_WINDOW:
                self._seen.pop(old, None)
        seen = self._seen.get(fp)
        if seen is not None and seen[0] != capture and abs(time - seen[1]) <= SAME_WINDOW:
            return True
        self._seen[fp] = (capture, time)
        self._recent.append((fp, time))
        return False

    def _srtp(self, record: Record, index: int, keep: Prefilter,
              plaintext: bool = False) -> tuple[bool, bytes | None]:
        """Try the keys on an RTP-like UDP packet: (True when the packet can concern
        nothing but SRTP - no MIKEY, HTTP or FLUTE finder would take it -, with
        *plaintext* the record's bytes with the payload decrypted, else None)."""
        fields = udp4_fields(record.data) if record.linktype == 1 else None
        tp = None
        if fields is not None:  # the common frame, without a Transport
            src_ip, sport, flow, dport, payload = fields
        else:
            tp = decode_transport(record.linktype, record.data)
            if tp is None or tp.proto != "udp":
                return False, None
            src_ip, sport, dport, payload = packed(tp.src), tp.sport, tp.dport, tp.payload
            flow = packed(tp.dst)
        if not payload or payload[0] >> 6 != 2:
            return False, None
        profile = self.profile
        ports = profile.mikey_udp_ports
        if sport in ports or dport in ports:
            return False, None
        # RTP version 2 in the first byte: no MIKEY (version 1), no text, no LCT header
        srtp_only = dport not in profile.flute_ports
        dst = self._endpoints.get((flow, dport))
        if dst is None:
            if len(self._endpoints) >= 65536:
                self._endpoints.clear()
            dst = self._endpoints[(flow, dport)] = endpoint(_ntop(flow), dport)
        decryptor = self.decryptor
        if len(self.captures) > 1 and self._duplicate(
                b"s" + hashlib.sha1(payload).digest()[:12], index, record.time):
            # seen by another tap: counted there; decrypt still writes its plaintext
            return srtp_only, self._replace(record, tp, decryptor.decrypt(payload, dst)) \
                if plaintext else None
        # a flow written off is tried only with the keys learned since
        opened = decryptor.decrypt(payload, dst, plaintext=plaintext,
                                   since=keep.tried(flow, dport))
        result, label, mtk = decryptor.last
        if not result:
            if not decryptor.last_mki_match:  # nothing names this flow's packets
                keep.srtp_miss(flow, dport, decryptor.key_count)
            return srtp_only, None
        keep.srtp_hit(flow, dport)
        rtp = rtp_fields(payload)
        ssrc = rtp[0] if rtp is not None else int.from_bytes(payload[4:8], "big")
        src = endpoint(_ntop(src_ip), sport)
        self.rec.feed(SrtpObs(Where(index, record.number, record.time, src, dst), ssrc, mtk,
                              label, result))
        return srtp_only, self._replace(record, tp, opened) if plaintext else None

    @staticmethod
    def _replace(record: Record, tp: Any, plain: bytes | None) -> bytes | None:
        """The frame with its UDP payload replaced by *plain* (checksums fixed)."""
        if plain is None:
            return None
        if tp is None:
            tp = decode_transport(record.linktype, record.data)
        return replace_udp_payload(record.data, tp, plain)

    def finish(self) -> None:
        """The captures ended: open procedures close, last uses are recorded
        (idempotent, see :meth:`Reconstructor.finish`)."""
        self.rec.finish()


def _cand_fingerprint(cand: Any) -> bytes:
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


def _ntop(packed_ip: bytes) -> str:
    """A packed IPv4 or IPv6 address as text."""
    return socket.inet_ntop(socket.AF_INET6 if len(packed_ip) == 16 else socket.AF_INET,
                            packed_ip)
