"""Finding, the per-capture part of the pipeline: records in, candidates out.

For each record: decode the transport by slicing (:mod:`analyzer.net.decode`),
reassemble IP fragments and TCP streams, and decide cheaply whether it carries
MIKEY (profile ports, the strict heuristic, SDP/RTSP/HTTP carriers), a BM-SC
HTTP message, an ALC/FLUTE packet or SRTP. What is found is a
:class:`Candidate`: plain, picklable data (bytes, numbers, strings) that the
global part (:mod:`analyzer.pipeline.build`, in time order across captures,
with the keys learned so far) turns into a dissected packet. No Scapy work
happens here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.capture.reading import Record
from analyzer.capture.where import Where
from analyzer.flute.receiver import FluteReceiver
from analyzer.net.decode import Transport, decode_transport
from analyzer.net.http_flow import HttpEvent, HttpTracker
from analyzer.net.ipfrag import Defragmenter, fragment_of
from analyzer.net.prefilter import Prefilter, packed
from analyzer.views.alc import AlcInfo, open_fdt_dcf
from analyzer.views.bmsc import is_relevant
from analyzer.views.result import endpoint
from analyzer.views.srtp import SrtpFinder, SrtpInfo
from dissectors.carriers import find_embedded
from dissectors.flute.lct import looks_like_alc, parse_alc
from dissectors.issues import Issue
from dissectors.mikey.heuristic import looks_like_mikey

__all__ = ["Candidate", "CandidateFinder", "candidates", "classify", "mikey_payloads"]


def mikey_payloads(tp: Transport, profile: Profile) -> list[tuple[str, bytes, Issue | None]]:
    """The MIKEY messages a transport payload carries: ``(carrier, bytes, issue)``."""
    data = tp.payload
    if not data:
        return []
    ports = profile.mikey_udp_ports if tp.proto == "udp" else profile.mikey_tcp_ports
    if tp.sport in ports or tp.dport in ports:
        if profile.embedded_mikey and data[:1].isalpha():
            found = [(e.carrier, e.data, e.issue) for e in find_embedded(data)]
            if found:
                return found
        return [(tp.proto, data, None)]  # on a MIKEY port: MIKEY, or reported as malformed
    if tp.proto == "udp" and profile.mikey_heuristic and looks_like_mikey(data):
        return [("udp", data, None)]
    if profile.embedded_mikey and data[:1].isalpha():
        return [(e.carrier, e.data, e.issue) for e in find_embedded(data)]
    return []


@dataclass(frozen=True, slots=True)
class Candidate:
    """A record found to carry MIKEY, before any Scapy work (cheap to pickle).

    Attributes:
        capture, frame, time, src, dst: as in :class:`Dissected`.
        found: ``(carrier, message bytes, carrier issue)`` for each message.
    """

    capture: int
    frame: int
    time: float
    src: str
    dst: str
    found: tuple[tuple[str, bytes, Issue | None], ...]
    http: HttpEvent | None = None
    srtp: SrtpInfo | None = None
    alc: AlcInfo | None = None


def classify(record: Record, capture: int = 0,
             profile: Profile = DEFAULT_PROFILE) -> Candidate | None:
    """Decode one record by slicing and find its MIKEY messages; None if it has none."""
    tp = decode_transport(record.linktype, record.data)
    if tp is None:
        return None
    found = mikey_payloads(tp, profile)
    if not found:
        return None
    return Candidate(capture, record.number, record.time, endpoint(tp.src, tp.sport),
                     endpoint(tp.dst, tp.dport), tuple(found))


class CandidateFinder:
    """Push-style :func:`candidates` for one capture: records in, candidates out.

    ``export`` interleaves several captures in time order with one finder each.
    """

    def __init__(self, capture: int = 0, profile: Profile = DEFAULT_PROFILE,
                 srtp: SrtpFinder | None = None, prefilter: "Prefilter | None" = None) -> None:
        self.capture = capture
        self.profile = profile
        self.srtp = srtp
        #: told of every BM-SC found, so that its other TCP traffic is kept from then on
        self.prefilter = prefilter
        self.defrag = Defragmenter()
        self.tracker = HttpTracker(http_ports=profile.http_ports)
        self.relevant: dict[tuple[str, int, str, int], list[bool]] = {}
        self.last = (capture, 0)
        self.last_time = 0.0
        #: FLUTE sessions: reassembly, and the (dst, TSI) shown (an FDT was seen)
        #: (an FDT wrapped in a DCF is opened: a NULL-encrypted one at once; the pipeline
        #: gives its key store for the others)
        self.flute = FluteReceiver(fdt_opener=lambda data: open_fdt_dcf(data, None, profile))
        self.flute_sessions: set[tuple[str, int]] = set()

    def whole(self, record: Record) -> Record | None:
        """*record*, or when it is an IP fragment the datagram it completes (None
        while pieces are missing)."""
        frag = fragment_of(record.linktype, record.data)
        return record if frag is None else self.defrag.add(record, frag)

    def passed(self, record: Record) -> None:
        """*record* was read and is known to concern no finder here (SRTP that the
        caller has dealt with): only the place reached is noted."""
        self.last, self.last_time = (self.capture, record.number), record.time

    def record(self, record: Record, whole: bool = False) -> list[Candidate]:
        """The candidates that *record* makes ready (*whole*: it has already been
        through :meth:`whole`)."""
        capture, profile = self.capture, self.profile
        self.last, self.last_time = (capture, record.number), record.time
        if not whole:
            record = self.whole(record)
            if record is None:
                return []
        tp = decode_transport(record.linktype, record.data)
        if tp is None:
            return []
        out: list[Candidate] = []
        if (tp.proto == "tcp" and profile.embedded_mikey and tp.sport not in
                profile.mikey_tcp_ports and tp.dport not in profile.mikey_tcp_ports):
            in_http, events = self.tracker.segment(tp, self.last, record.time)
            out.extend(self._learn(_http_candidates(events, capture, self.relevant)))
            if in_http:
                return out
        found = mikey_payloads(tp, profile)
        if found:
            out.append(Candidate(capture, record.number, record.time, endpoint(tp.src, tp.sport),
                                 endpoint(tp.dst, tp.dport), tuple(found)))
            if self.srtp is not None:
                for _carrier, data, issue in found:
                    if issue is None:
                        self.srtp.learn_mikey(data)
        elif tp.proto == "udp" and (alc := self._alc(tp, record)) is not None:
            out.append(Candidate(capture, record.number, record.time, alc[0], alc[1], (),
                                 alc=alc[2]))
        elif self.srtp is not None and (info := self.srtp.classify(tp)) is not None:
            out.append(Candidate(capture, record.number, record.time, endpoint(tp.src, tp.sport),
                                 endpoint(tp.dst, tp.dport), (), None, info))
        return out

    def _alc(self, tp: Transport, record: Record) -> tuple[str, str, AlcInfo] | None:
        """An ALC/FLUTE packet: on a FLUTE port, or passing the strict heuristic; fed to
        the reassembly, and shown once its session has carried an FDT Instance."""
        data, profile = tp.payload, self.profile
        listed = tp.dport in profile.flute_ports
        if not listed and not (profile.alc_heuristic and looks_like_alc(data)):
            return None
        pkt = parse_alc(data)
        if not listed and not pkt.ok:
            return None
        src, dst = endpoint(tp.src, tp.sport), endpoint(tp.dst, tp.dport)
        session = (dst, pkt.tsi)
        if listed or pkt.is_fdt:
            self.flute_sessions.add(session)
        objects = self.flute.packet(pkt, Where(self.capture, record.number, record.time, src,
                                               dst))
        if session not in self.flute_sessions:
            return None  # (its notes go with the next packet shown; only FDT packets make FDTs)
        fdts, notes = self.flute.take_reports()
        return src, dst, AlcInfo(pkt, fdts, tuple(objects), notes)

    def finish(self, objects: bool = True) -> list[Candidate]:
        """The end of the capture: HTTP messages still waiting, and (*objects*) the
        FLUTE objects never completed, each as a record at its last packet."""
        out = self._learn(_http_candidates(self.tracker.finish(self.last, self.last_time),
                                           self.capture, self.relevant))
        for obj in self.flute.finish() if objects else ():
            if (obj.session, obj.tsi) in self.flute_sessions:
                at = obj.last
                _fdts, notes = self.flute.take_reports()
                out.append(Candidate(self.capture, at.frame, at.time, at.src, at.dst, (),
                                     alc=AlcInfo(None, (), (obj,), notes)))
        return out

    def _learn(self, cands: Iterable[Candidate]) -> list[Candidate]:
        """Pass the candidates on; the server of each MBMS HTTP message is a BM-SC."""
        out = list(cands)
        if self.prefilter is not None:
            for cand in out:
                event = cand.http
                if event is not None:
                    server = event.dst if event.message.is_request else event.src
                    self.prefilter.learn_bmsc(packed(server))
        return out


def candidates(records: Iterable[Record], capture: int = 0,
               profile: Profile = DEFAULT_PROFILE,
               srtp: SrtpFinder | None = None,
               prefilter: Prefilter | None = None,
               end_objects: bool = True) -> Iterator[Candidate]:
    """The MBMS-relevant packets of a capture in order: MIKEY records as they come,
    BM-SC HTTP messages when their last segment arrives (TCP reassembled), ALC
    packets of FLUTE sessions, and with an :class:`SrtpFinder` the SRTP/SRTCP
    packets of known streams. *end_objects*: also a record for each FLUTE object
    still incomplete at the end (``dissect --json`` leaves them out: one object per
    packet)."""
    finder = CandidateFinder(capture, profile, srtp, prefilter)
    for record in records:
        yield from finder.record(record)
    yield from finder.finish(end_objects)


def _http_candidates(events: list[HttpEvent], capture: int,
                     relevant: dict[tuple[str, int, str, int], list[bool]]) -> Iterator[Candidate]:
    for event in events:
        msg = event.message
        key = (event.src, event.sport, event.dst, event.dport)
        wanted = is_relevant(msg) or bool(msg.issues and not msg.method and not msg.status)
        if msg.is_request and msg.method:
            queue = relevant.setdefault((event.dst, event.dport, event.src, event.sport), [])
            if len(queue) < 1024:
                queue.append(wanted)
        elif msg.status:
            queue = relevant.get(key)
            asked = queue.pop(0) if queue else False
            if msg.status >= 200 or not queue:
                wanted = wanted or asked
            if 100 <= msg.status < 200 and queue is not None:
                queue.insert(0, asked)  # an interim response: the final one still comes
        if wanted:
            frame = msg.frames[-1] if msg.frames else (capture, 0)
            yield Candidate(capture, frame[1], msg.time, endpoint(event.src, event.sport),
                            endpoint(event.dst, event.dport), (), event)
