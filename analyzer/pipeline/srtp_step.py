"""The SRTP step of the pipeline: one RTP-like UDP packet, the keys known now, an
observation out (RFC 3711 through :class:`~analyzer.keys.srtp.SrtpDecryptor`).

It is its own module because it runs in two places with the same result: in a
:class:`~analyzer.pipeline.session.Session` as each record comes out of the merge
of the captures, and on a Dask worker (:mod:`analyzer.pipeline.fleet`) over the
SRTP flows of some captures, with the keys replayed in the order and at the merge
places where the session learned them (:class:`KeyTimeline`).

What a packet's result depends on, and nothing else: the keys known at its place
in the merge; the rollover and replay state of its stream (SSRC, destination);
the write-offs of its flow (destination address and port) in its capture
(:class:`~analyzer.net.prefilter.Prefilter`); and, when several captures are
merged, whether another capture had the same payload to the same destination
within :data:`SAME_WINDOW` seconds (counted there). All of it belongs to the
packet's flow: the flows of a run can be opened apart, each with every
capture's packets of it.
"""

from __future__ import annotations

import copy
import hashlib
import socket
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.capture.reading import Record
from analyzer.capture.where import Where
from analyzer.flows.observe import SrtpObs
from analyzer.keys.srtp import SrtpDecryptor
from analyzer.keys.store import Key, KeyStore
from analyzer.net.decode import decode_transport, replace_udp_payload, udp4_fields
from analyzer.net.prefilter import Prefilter, packed
from analyzer.views.result import endpoint
from dissectors.srtp import rtp_fields

#: Seconds within which the same message (or SRTP payload) in two captures is one.
SAME_WINDOW = 2.0


class Target(NamedTuple):
    """An RTP-like UDP datagram the SRTP step looks at."""

    flow: bytes        #: destination address, packed
    dport: int
    src: bytes         #: source address, packed
    sport: int
    payload: bytes
    tp: Any            #: the decoded transport, or None for the common frame


def srtp_target(record: Record, profile: Profile = DEFAULT_PROFILE) -> Target | None:
    """*record* as the SRTP step sees it: UDP whose payload starts like RTP/RTCP
    version 2, on no MIKEY port; else None. (IP fragments are looked at once whole.)"""
    fields = udp4_fields(record.data) if record.linktype == 1 else None
    tp = None
    if fields is not None:  # the common frame, without a Transport
        src, sport, flow, dport, payload = fields
    else:
        tp = decode_transport(record.linktype, record.data)
        if tp is None or tp.proto != "udp":
            return None
        src, sport, dport, payload = packed(tp.src), tp.sport, tp.dport, tp.payload
        flow = packed(tp.dst)
    if not payload or payload[0] >> 6 != 2:
        return None
    ports = profile.mikey_udp_ports
    if sport in ports or dport in ports:
        return None
    return Target(flow, dport, src, sport, payload, tp)


class SameWindow:
    """Fingerprints seen recently, by capture: a second capture's copy within
    :data:`SAME_WINDOW` seconds is a duplicate (captures merged in time)."""

    def __init__(self) -> None:
        self._seen: dict[bytes, tuple[int, float]] = {}
        self._recent: deque[tuple[bytes, float]] = deque()

    def duplicate(self, fp: bytes, capture: int, time: float) -> bool:
        """Seen in another capture within the window? (Else noted as seen here.)"""
        recent, seen_at = self._recent, self._seen
        while recent and time - recent[0][1] > 5 * SAME_WINDOW:
            old, _ = recent.popleft()
            if seen_at.get(old, (None, 0.0))[1] <= time - 5 * SAME_WINDOW:
                seen_at.pop(old, None)
        seen = seen_at.get(fp)
        if seen is not None and seen[0] != capture and abs(time - seen[1]) <= SAME_WINDOW:
            return True
        seen_at[fp] = (capture, time)
        recent.append((fp, time))
        return False


class SrtpStep:
    """Tries the keys on RTP-like packets (one per run, or per group of flows).

    Args:
        decryptor: the keys (and each stream's state).
        merged: several captures are merged (a payload two of them carry counts once).
    """

    def __init__(self, decryptor: SrtpDecryptor, profile: Profile = DEFAULT_PROFILE,
                 merged: bool = False) -> None:
        self.decryptor = decryptor
        self.profile = profile
        self.merged = merged
        self.same = SameWindow()
        #: (packed address, port) -> "ip:port" of SRTP destinations
        self._endpoints: dict[tuple[bytes, int], str] = {}

    def __call__(self, record: Record, index: int, flows: Prefilter, target: Target,
                 plaintext: bool = False) -> tuple[bool, bytes | None, SrtpObs | None]:
        """(True when the packet can concern nothing but SRTP - no MIKEY, HTTP or FLUTE
        finder would take it -, with *plaintext* the record's bytes with the payload
        decrypted else None, the observation for the reconstructor or None). *flows*
        keeps the write-offs of the packet's capture."""
        flow, dport, payload = target.flow, target.dport, target.payload
        # RTP version 2 in the first byte: no MIKEY (version 1), no text, no LCT header
        srtp_only = dport not in self.profile.flute_ports
        dst = self._endpoints.get((flow, dport)) or self._endpoint(flow, dport)
        decryptor = self.decryptor
        if self.merged and self.same.duplicate(
                hashlib.sha1(flow + dport.to_bytes(2, "big") + payload).digest()[:13],
                index, record.time):
            # seen by another tap: counted there; decrypt still writes its plaintext
            return srtp_only, self._replace(record, target.tp, decryptor.decrypt(payload, dst)) \
                if plaintext else None, None
        # a flow written off is tried only with the keys learned since
        opened = decryptor.decrypt(payload, dst, plaintext=plaintext,
                                   since=flows.tried(flow, dport))
        result, label, mtk = decryptor.last
        if not result:
            if not decryptor.last_mki_match:  # nothing names this flow's packets
                flows.srtp_miss(flow, dport, decryptor.count)
            return srtp_only, None, None
        flows.srtp_hit(flow, dport)
        rtp = rtp_fields(payload)
        ssrc = rtp[0] if rtp is not None else int.from_bytes(payload[4:8], "big")
        src = self._endpoints.get((target.src, target.sport)) or \
            self._endpoint(target.src, target.sport)
        obs = SrtpObs(Where(index, record.number, record.time, src, dst), ssrc, mtk, label,
                      result)
        return srtp_only, self._replace(record, target.tp, opened) if plaintext else None, obs

    def _endpoint(self, packed_ip: bytes, port: int) -> str:
        """``ip:port`` of a packed address and port, kept for the packets after (bounded)."""
        if len(self._endpoints) >= 65536:
            self._endpoints.clear()
        text = self._endpoints[(packed_ip, port)] = endpoint(_ntop(packed_ip), port)
        return text

    @staticmethod
    def _replace(record: Record, tp: Any, plain: bytes | None) -> bytes | None:
        """The frame with its UDP payload replaced by *plain* (checksums fixed)."""
        if plain is None:
            return None
        if tp is None:
            tp = decode_transport(record.linktype, record.data)
        return replace_udp_payload(record.data, tp, plain)


# ---------------------------------------------------------------------- keys in order

#: a place in the merge of the captures: (time, capture, frame); one capture alone:
#: (0.0, 0, frame), its own order
Place = tuple[float, int, int]
BEFORE_ALL: Place = (float("-inf"), -1, -1)
AFTER_ALL: Place = (float("inf"), 1 << 30, 1 << 62)


@dataclass
class KeyTimeline:
    """The MTKs a run's decryptor took up, each with the merge place after which it
    was known (the record whose MIKEY message taught it): what a decryptor elsewhere
    needs to open SRTP as the run would have at any place. Holds key material: it
    goes to the workers that open the flows, nowhere else."""

    #: the ``[[srtp]]`` keys of the key file, and the suite rules
    srtp: list[Key] = field(default_factory=list)
    rules: Any = None
    #: (place, [(MTK ids, MTK, its MSK or None)]) in the order taken up
    entries: list[tuple[Place, list[tuple[tuple[bytes, bytes, bytes], Key, Key | None]]]] = \
        field(default_factory=list)

    def note(self, place: Place, decryptor: SrtpDecryptor, start: int) -> None:
        """The MTKs *decryptor* took up after its first *start*, known after *place*
        (copied as they are now: the decryptor read them now)."""
        store = decryptor.store
        added = [(ids, copy.deepcopy(store.mtks[ids]),
                  copy.deepcopy(store.msks.get((ids[0], ids[1]))))
                 for ids in decryptor.taken[start:]]
        if added:
            self.entries.append((place, added))

    def replay(self) -> "TimelineReplay":
        """A decryptor that learns these keys as the places go by."""
        return TimelineReplay(self)


class TimelineReplay:
    """A decryptor over a :class:`KeyTimeline`: :meth:`at` before each packet."""

    def __init__(self, timeline: KeyTimeline) -> None:
        self.store = KeyStore(srtp=list(timeline.srtp))
        self.decryptor = SrtpDecryptor(self.store, *(() if timeline.rules is None
                                                     else (timeline.rules,)))
        self._entries = timeline.entries
        self._next = 0

    def at(self, place: Place) -> None:
        """Every key known before *place* is known."""
        entries, store = self._entries, self.store
        while self._next < len(entries) and entries[self._next][0] < place:
            for ids, mtk, msk in entries[self._next][1]:
                if msk is not None:
                    store.msks[(ids[0], ids[1])] = msk
                store.mtks[ids] = mtk
            self._next += 1
            self.decryptor.key_count  # taken up now, with the MSK of this entry


def _ntop(packed_ip: bytes) -> str:
    """A packed IPv4 or IPv6 address as text."""
    return socket.inet_ntop(socket.AF_INET6 if len(packed_ip) == 16 else socket.AF_INET,
                            packed_ip)


__all__ = ["AFTER_ALL", "BEFORE_ALL", "KeyTimeline", "Place", "SAME_WINDOW", "SameWindow",
           "SrtpStep", "Target", "TimelineReplay", "srtp_target"]
