"""The one pipeline of every front end, and the timeline export (DESIGN.md timeline JSON).

:class:`Export` streams the captures once, merged in time (clocks aligned,
messages seen by two taps counted once): MIKEY and BM-SC packets are dissected
(with the key hierarchy when a key file is given) and observed; UDP packets of
known SRTP streams are tried with the known and learned keys; the observations
feed the :class:`~analyzer.flows.reconstructor.Reconstructor`. Memory grows with
keys, UEs and procedures, not with packets. The document is versioned
(``format``/``version``) and described by ``timeline.schema.json``.

Every front end runs this pipeline and differs only in where results go:
``export``/``extract``/``sniff --headless`` take the timeline (and downloads),
``dissect`` and the TUI take each dissected packet (:attr:`Export.on_packet`,
SRTP packets dissected too), ``decrypt`` takes every record with its SRTP
payload decrypted (:attr:`Export.on_record`). So the same captures, keys and
profile give the same keys, procedures and findings everywhere.
"""

from __future__ import annotations

import hashlib
import heapq
import socket
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.capture.reading import (
    CaptureError,
    Record,
    RecordIndex,
    Tally,
    read_capture,
)
from analyzer.capture.where import Where
from analyzer.flows.observe import SrtpObs, observe
from analyzer.flows.reconstructor import Reconstructor
from analyzer.keys.hierarchy import KeyHierarchy
from analyzer.keys.srtp import SrtpDecryptor
from analyzer.keys.store import KeyStore
from analyzer.net.decode import decode_transport, replace_udp_payload, udp4_fields
from analyzer.net.prefilter import Prefilter, packed
from analyzer.pipeline.dissect import CandidateFinder, build, endpoint, mikey_payloads
from analyzer.pipeline.scan import scan_capture
from analyzer.views.alc import open_fdt_dcf
from analyzer.views.result import Dissected
from analyzer.views.srtp import SrtpFinder
from dissectors.srtp import rtp_fields

#: Seconds within which the same message in two captures is one message.
SAME_WINDOW = 2.0
#: Most MIKEY fingerprints kept per capture for the clock alignment.
MAX_FINGERPRINTS = 200_000



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
    #: every core (:class:`analyzer.parallel.Renderer`); ``on_packet`` is then unused
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

    def add_captures(self, paths: list[str | Path],
                     follow: Callable[[], bool] | None = None) -> list[str]:
        """Read captures into the timeline, merged in time; returns their errors.

        Captures after the first are aligned to it: MIKEY messages seen in both give
        the clock offset (the median difference), reported as ``captures[].offset``
        and applied; a message, HTTP exchange or SRTP packet seen in two captures
        is counted once. With *follow*, captures still being written are read
        until ``follow()`` turns false (``sniff --headless``).
        """
        paths = [Path(p) for p in paths]
        errors: list[str] = []
        first = len(self.captures)
        infos = [CaptureInfo(str(p)) for p in paths]
        self.captures.extend(infos)
        offsets = [0.0] * len(paths)
        if len(paths) > 1:
            reference = _fingerprints(paths[0])
            for k in range(1, len(paths)):
                diffs = sorted(reference[fp] - t for fp, t in _fingerprints(paths[k]).items()
                               if fp in reference)
                if diffs:
                    offsets[k] = diffs[len(diffs) // 2]
                    infos[k].offset = round(offsets[k], 6)
        rows = self.on_packet is not None
        keeps = [Prefilter(self.profile, srtp=self.decryptor is not None or rows)
                 for _ in paths]
        # the decryptor's key count changes only when a candidate is fed (keys are
        # learned from MIKEY there): the prefilters read it from here, not recount it
        known = [self.decryptor.key_count if self.decryptor is not None else 0]
        for keep in keeps:
            keep.key_source = lambda: known[0]
        # dissected SRTP rows: found (by key or announced MKI) as candidates by an
        # SrtpFinder, which tells its prefilter of the flows it writes off
        finders = {first + k: CandidateFinder(
            first + k, self.profile, prefilter=keeps[k],
            srtp=SrtpFinder(self.decryptor, keeps[k]) if rows else None)
            for k in range(len(paths))}
        if self.store is not None:  # a protected download's FDT is a DCF (TS 33.246 §6.6.3)
            for finder in finders.values():  # (opened with the keys known when it completes)
                finder.flute.fdt_opener = lambda data: open_fdt_dcf(data, self.store,
                                                                    self.profile)
        self._frames: dict[tuple[int, int], bytes] = {}
        streams = [self._records(p, first + k, infos[k], offsets[k], errors, keeps[k],
                                 finders[first + k], follow, merged=len(paths) > 1)
                   for k, p in enumerate(paths)]
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
        for finder in finders.values():
            for cand in finder.finish(self.end_objects):
                self._feed(cand)
        return errors

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

    def _records(self, path: Path, index: int, info: CaptureInfo, offset: float,
                 errors: list[str], keep: Prefilter, finder: CandidateFinder,
                 follow: Callable[[], bool] | None = None,
                 merged: bool = False) -> Iterator[tuple[float, int, Record]]:
        """The records of one capture for the merge (*merged*: with other captures'),
        SRTP decrypted as it is read. Alone, a packet that is SRTP only is not handed
        on; merged, every record still paces the merge, as the captures' order of
        events depends on it."""
        tally = Tally()
        next_report = 50_000
        plain = self.on_record is not None
        index_of = self.indexes[index - (len(self.captures) - len(self.indexes))] \
            if self.indexes is not None else None
        reader_keep: Any = keep
        if plain or self.tick is not None:
            seen = [0]

            def reader_keep(linktype: int, buf: Any, start: int, end: int) -> bool:
                seen[0] += 1
                if self.tick is not None and not seen[0] & 0xFFF:
                    self.tick(index)
                # decrypt writes every record: all pass, the prefilter's verdict is
                # taken again (and the same) when the record is handed on
                return True if plain else keep(linktype, buf, start, end)
        try:
            if follow is not None or index_of is not None or reader_keep is not keep:
                records = read_capture(path, reader_keep, tally, index=index_of, follow=follow)
            else:
                records = scan_capture(path, keep, tally, self.profile,
                                       srtp=keep.srtp, workers=self.workers)
            for record in records:
                if plain:
                    original = record
                    if not keep(record.linktype, record.data, 0, len(record.data)):
                        self.on_record(index, original, None)
                        continue
                record = finder.whole(record)  # SRTP and MIKEY see whole datagrams
                if record is None:
                    if plain:
                        self.on_record(index, original, None)
                    continue
                if offset:
                    record = Record(record.number, record.time + offset, record.linktype,
                                    record.data, record.orig_len)
                if self.progress is not None and record.number >= next_report:
                    self.progress(str(path), record.number)
                    next_report = record.number + 50_000
                if plain:
                    replaced = self._srtp(record, index, keep, plaintext=True)[1] \
                        if self.decryptor is not None else None
                    self.on_record(index, original, replaced)
                    if replaced is not None and not merged:
                        finder.passed(record)
                        continue
                elif self.decryptor is not None and self.on_packet is None \
                        and self._srtp(record, index, keep)[0] and not merged:
                    finder.passed(record)  # SRTP only: nothing for the MIKEY/HTTP/FLUTE finder
                    continue
                yield record.time, index, record
        except CaptureError as exc:
            info.error = str(exc)
            errors.append(str(exc))
        finally:
            info.packets = tally.packets
            if tally.start is not None:
                info.start, info.end = tally.start + offset, tally.end + offset

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


def _fingerprints(path: Path) -> dict[bytes, float]:
    """First time of each MIKEY message of a capture (for the clock alignment)."""
    out: dict[bytes, float] = {}
    try:
        for record in read_capture(path, Prefilter()):
            tp = decode_transport(record.linktype, record.data)
            if tp is None:
                continue
            for _carrier, data, _issue in mikey_payloads(tp, DEFAULT_PROFILE):
                out.setdefault(hashlib.sha1(data).digest()[:12], record.time)
            if len(out) >= MAX_FINGERPRINTS:
                break
    except CaptureError:
        pass
    return out


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
