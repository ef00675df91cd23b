"""FLUTE object reassembly (RFC 6726 on ALC, RFC 5775): packets in, files out.

Sans-IO like the reconstructor: :meth:`FluteReceiver.packet` takes one dissected
ALC packet and where it was seen, and returns the objects that packet completed;
:meth:`FluteReceiver.finish` returns the rest (incomplete ones with what is
missing). A session is a destination address and port with a TSI. Its FDT
Instances (TOI 0 with EXT_FDT) are reassembled like any object, parsed, and name
the other TOIs.

Placement (Compact No-Code FEC, RFC 5445; source block partitioning of RFC 5052
§9.1): with transfer length T, symbol length E and maximum source block length
B, an encoding symbol (SBN, ESI) starts at the start of block SBN plus ESI x E; a
packet may carry several consecutive symbols. FTI comes from EXT_FTI or the FDT
(``Transfer-Length``/``Content-Length`` and ``FEC-OTI-*``); symbols that arrive
before it wait. Other FEC schemes are recognised and counted, never guessed at.

Bounds: an object is kept only up to :attr:`Limits.max_object` bytes, all
objects together up to :attr:`Limits.max_buffered`; more is reported, not
stored. Duplicates are counted; a copy whose bytes differ from the first is a
conflict (the first is kept).
"""

from __future__ import annotations

import hashlib
import zlib
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from typing import Any, Callable

from analyzer.capture.where import Where
from dissectors.flute.constants import CENC_NAMES, NO_CODE_FEC
from dissectors.flute.fdt import FdtFile, FdtInstance, parse_fdt
from dissectors.flute.lct import AlcPacket, Fti

#: Bytes of an incomplete object's start kept for its headers.
HEAD = 64 << 10


@dataclass(frozen=True)
class Limits:
    """Memory bounds of the reassembly."""

    max_object: int = 256 << 20
    max_buffered: int = 768 << 20
    max_objects: int = 65536
    max_sessions: int = 4096


@dataclass(frozen=True)
class Note:
    """A problem with a download (becomes a finding)."""

    code: str
    severity: str
    at: Where
    message: str


@dataclass
class DeliveredObject:
    """One transport object of a session, whole or not.

    Attributes:
        session: ``ip:port`` the session was sent to; tsi, toi: its identifiers.
        fdt: its FDT ``File`` entry (None when no FDT named it).
        data: the object's content (Content-Encoding undone) when complete.
        transfer_length: bytes of the transport object; received: bytes held.
        missing: byte ranges ``[start, end)`` never received.
        md5: ``ok``/``bad`` against the FDT's Content-MD5, None without one.
    """

    session: str
    tsi: int
    toi: int
    fdt: FdtFile | None
    data: bytes | None
    transfer_length: int | None
    received: int
    missing: list[tuple[int, int]]
    complete: bool
    md5: str | None
    first: Where
    last: Where
    packets: int
    duplicates: int
    conflicts: int
    fec_id: int
    reason: str = ""
    #: of an incomplete object, the bytes received from its start (up to
    #: :data:`HEAD`): enough for a DCF's headers, which name its MTK
    head: bytes = b""

    @property
    def name(self) -> str:
        return self.fdt.name if self.fdt is not None else f"tsi-{self.tsi}-toi-{self.toi}.bin"


@dataclass
class _Object:
    toi: int
    fec_id: int
    first: Where
    last: Where
    fti: Fti | None = None
    cenc: int | None = None
    chunks: dict[int, bytes] = field(default_factory=dict)   # offset -> bytes
    offsets: list[int] = field(default_factory=list)
    pending: list[tuple[int, int, bytes]] = field(default_factory=list)  # (sbn, esi, data)
    held: int = 0      # bytes waiting in ``pending``
    stored: int = 0    # bytes kept in ``chunks`` (overlapping copies counted twice)
    covered: int = 0   # distinct bytes of the object received
    packets: int = 0
    duplicates: int = 0
    conflicts: int = 0
    closed: bool = False
    done: bool = False
    dropped: str = ""


@dataclass
class _Session:
    dst: str
    tsi: int
    files: dict[int, FdtFile] = field(default_factory=dict)
    objects: dict[Any, _Object] = field(default_factory=dict)
    delivered: set[int] = field(default_factory=set)


def block_layout(fti: Fti) -> tuple[int, int, int, int]:
    """(symbols in a large block, in a small block, number of large blocks, number
    of blocks) for the transfer (RFC 5052 §9.1)."""
    t, e, b = fti.transfer_length, max(fti.symbol_length, 1), max(fti.max_source_block_length, 1)
    kt = -(-t // e)
    n = max(1, -(-kt // b))
    a_large, a_small = -(-kt // n), kt // n
    return a_large, a_small, kt - a_small * n, n


def symbol_offset(fti: Fti, sbn: int, esi: int) -> tuple[int, int] | None:
    """(byte offset, end of its block) of symbol (SBN, ESI), None outside the object."""
    a_large, a_small, i_large, n = block_layout(fti)
    e = max(fti.symbol_length, 1)
    if sbn >= n:
        return None
    if sbn < i_large:
        start, size = sbn * a_large * e, a_large
    else:
        start, size = (i_large * a_large + (sbn - i_large) * a_small) * e, a_small
    if esi >= size:
        return None
    return start + esi * e, min(start + size * e, fti.transfer_length)


class FluteReceiver:
    """Reassembles the objects of every FLUTE session seen."""

    def __init__(self, limits: Limits = Limits(),
                 fdt_opener: Callable[[bytes], tuple[bytes | None, str, str | None] | None]
                 | None = None) -> None:
        self.limits = limits
        #: opens an FDT Instance wrapped in a DCF (TS 33.246 §6.6.3: a protected download
        #: service protects its FDT too): (the FDT or None, what happened, signature ok/bad/
        #: None), or None when the bytes are no DCF
        self.fdt_opener = fdt_opener
        self.sessions: dict[tuple[str, int], _Session] = {}
        self.notes: list[Note] = []
        #: FDT Instances completed since :meth:`take_reports`
        self.fdts: list[FdtInstance] = []
        self._held = 0
        self._reported: set[tuple] = set()

    # ------------------------------------------------------------------ input

    def packet(self, pkt: AlcPacket, at: Where) -> list[DeliveredObject]:
        """Take one ALC packet; the objects it completes."""
        key = (at.dst, pkt.tsi)
        session = self.sessions.get(key)
        if session is None:
            if len(self.sessions) >= self.limits.max_sessions:
                self._note_once(("sessions",), "flute.too_many_sessions", "warning", at,
                                f"over {self.limits.max_sessions} FLUTE sessions: the rest "
                                "are not reassembled")
                return []
            session = self.sessions[key] = _Session(at.dst, pkt.tsi)
        okey: Any = ("fdt", pkt.fdt_instance_id) if pkt.is_fdt else pkt.toi
        if not pkt.is_fdt and pkt.toi in session.delivered:
            return []  # a carousel repeat of a file already delivered
        obj = session.objects.get(okey)
        if obj is None:
            if len(session.objects) >= self.limits.max_objects:
                self._note_once(("objects", key), "flute.too_many_objects", "warning", at,
                                f"session {at.dst} TSI {pkt.tsi}: over "
                                f"{self.limits.max_objects} open objects")
                return []
            obj = session.objects[okey] = _Object(pkt.toi, pkt.fec_id, at, at)
        elif obj.done:
            return []
        obj.last = at
        obj.packets += 1
        if pkt.fti is not None and obj.fti is None:
            self._set_fti(obj, pkt.fti, at, session)
        if pkt.cenc is not None:
            obj.cenc = pkt.cenc
        if pkt.close_object:
            obj.closed = True
        if obj.fti is None and not pkt.is_fdt:
            fti = self._fti_from_fdt(session.files.get(pkt.toi))
            if fti is not None:
                self._set_fti(obj, fti, at, session)
        if not pkt.decodable:
            if pkt.fec_id not in NO_CODE_FEC:
                obj.dropped = obj.dropped or (f"FEC Encoding ID {pkt.fec_id} symbols are not "
                                              "decoded here")
            return []
        if obj.dropped:
            return []
        if obj.fti is None:
            if self._hold(len(pkt.payload), at):
                obj.pending.append((pkt.sbn or 0, pkt.esi or 0, pkt.payload))
                obj.held += len(pkt.payload)
            return []
        self._place(obj, pkt.sbn or 0, pkt.esi or 0, pkt.payload, at)
        return self._maybe_done(session, okey, obj, at)

    def take_reports(self) -> tuple[tuple[FdtInstance, ...], tuple[Note, ...]]:
        """The FDT Instances completed and the notes made since the last call."""
        out = tuple(self.fdts), tuple(self.notes)
        self.fdts.clear()
        self.notes.clear()
        return out

    def finish(self) -> list[DeliveredObject]:
        """The captures ended: every object not delivered yet, as it stands."""
        out = []
        for session in self.sessions.values():
            for okey, obj in list(session.objects.items()):
                if obj.done or isinstance(okey, tuple):
                    continue
                if obj.fti is None and obj.pending:
                    self._guess_single_block(obj)
                out.append(self._deliver(session, obj, final=True))
        return out

    # ------------------------------------------------------------------ placing

    def _hold(self, size: int, at: Where) -> bool:
        if self._held + size > self.limits.max_buffered:
            self._note_once(("buffered",), "flute.buffer_cap", "warning", at,
                            f"over {self.limits.max_buffered >> 20} MiB of download data held: "
                            "later symbols are not kept")
            return False
        self._held += size
        return True

    def _set_fti(self, obj: _Object, fti: Fti, at: Where, session: _Session) -> None:
        if fti.transfer_length > self.limits.max_object:
            obj.dropped = (f"transfer length {fti.transfer_length} is over the "
                           f"{self.limits.max_object}-byte limit")
            self.notes.append(Note("flute.object_too_large", "error", at,
                                   f"TSI {session.tsi} TOI {obj.toi}: {obj.dropped}: not "
                                   "reassembled"))
            self._held -= obj.held
            obj.pending.clear()
            return
        if fti.symbol_length == 0:
            self.notes.append(Note("flute.bad_fti", "error", at, f"TSI {session.tsi} TOI "
                                   f"{obj.toi}: encoding symbol length 0"))
            return
        obj.fti = fti
        self._place_pending(obj, at)

    def _place_pending(self, obj: _Object, at: Where) -> None:
        """The symbols that waited for the object's FTI, placed now that it has one."""
        pending, obj.pending = obj.pending, []
        self._held -= obj.held
        obj.held = 0
        for sbn, esi, data in pending:
            self._place(obj, sbn, esi, data, at)

    @staticmethod
    def _fti_from_fdt(f: FdtFile | None) -> Fti | None:
        if f is None:
            return None
        length = f.transfer_length if f.transfer_length is not None else f.content_length
        if length is None or not f.symbol_length:
            return None
        return Fti(length, f.symbol_length, f.max_source_block_length or (1 << 32) - 1)

    def _place(self, obj: _Object, sbn: int, esi: int, data: bytes, at: Where) -> None:
        where = symbol_offset(obj.fti, sbn, esi)
        if where is None:
            self._note_once(("range", id(obj)), "flute.symbol_out_of_range", "error", at,
                            f"TOI {obj.toi}: symbol SBN {sbn} ESI {esi} lies outside the "
                            f"{obj.fti.transfer_length}-byte object")
            return
        start, block_end = where
        data = data[:block_end - start]
        if not data:
            return
        end = start + len(data)
        offsets, chunks = obj.offsets, obj.chunks
        i = bisect_left(offsets, start)
        if i > 0:
            i -= 1
        same = True
        covered = 0  # bytes of [start, end) already held (kept chunks may overlap)
        reach = start
        while i < len(offsets) and offsets[i] < end:
            o = offsets[i]
            c = chunks[o]
            lo, hi = max(o, start), min(o + len(c), end)
            if lo < hi:
                covered += max(0, hi - max(lo, reach))
                reach = max(reach, hi)
                if c[lo - o:hi - o] != data[lo - start:hi - start]:
                    same = False
            i += 1
        if not same:
            obj.conflicts += 1
            self._note_once(("conflict", id(obj)), "flute.symbol_conflict", "error", at,
                            f"TOI {obj.toi}: symbol SBN {sbn} ESI {esi} repeats bytes "
                            f"{start}-{end} with different content (the first copy is kept)")
        if covered >= len(data):
            obj.duplicates += 1
            return
        if not same:
            return
        old = len(chunks.get(start, b""))
        if old >= len(data):
            obj.duplicates += 1
            return
        if not self._hold(len(data) - old, at):
            return
        if not old:
            insort(offsets, start)
        chunks[start] = data
        obj.stored += len(data) - old
        obj.covered += len(data) - covered  # the overlap was already there, byte for byte

    def _guess_single_block(self, obj: _Object) -> None:
        """No FTI ever came: a single source block with the largest payload as
        symbol length is the only placement that is not a guess too far."""
        if any(sbn for sbn, _e, _d in obj.pending):
            obj.dropped = "no FEC Object Transmission Information (EXT_FTI or FDT) came"
            return
        e = max(len(d) for _s, _e, d in obj.pending)
        end = max(esi * e + len(d) for _s, esi, d in obj.pending)
        obj.fti = Fti(end, e, (1 << 32) - 1)
        self._place_pending(obj, obj.last)
        obj.fti = Fti(end if obj.closed else -1, e, obj.fti.max_source_block_length)

    # ------------------------------------------------------------------ output

    def _maybe_done(self, session: _Session, okey: Any, obj: _Object,
                    at: Where) -> list[DeliveredObject]:
        if obj.fti is None or obj.covered < obj.fti.transfer_length:
            return []
        if isinstance(okey, tuple):  # an FDT Instance
            obj.done = True
            self._fdt_complete(session, obj, at)
            self._release(obj)
            return self._revisit(session, at)
        return [self._deliver(session, obj)]

    def _fdt_complete(self, session: _Session, obj: _Object, at: Where) -> None:
        raw = self._assemble(obj)
        data, problem = _decode(raw, CENC_NAMES.get(obj.cenc or 0, "null").lower(),
                                self.limits.max_object)
        if data is None:
            self.notes.append(Note("flute.fdt_encoding", "error", at,
                                   f"FDT instance of TSI {session.tsi}: {problem}"))
            return
        opened = self.fdt_opener(data) if self.fdt_opener is not None else None
        if opened is not None:
            plain, what, signature = opened
            if signature == "bad":
                self.notes.append(Note("flute.fdt_signature_bad", "error", at,
                                       f"FDT instance of TSI {session.tsi} in a DCF: its "
                                       "signature does not verify"))
            if plain is None:
                self.notes.append(Note("flute.fdt_protected", "warning", at,
                                       f"FDT instance of TSI {session.tsi} in a DCF ({what}): "
                                       "not opened, its File entries unknown"))
                return
            data = plain
        fdt = parse_fdt(data)
        self.fdts.append(fdt)
        for issue in fdt.issues:
            self.notes.append(Note(issue.code, issue.severity, at,
                                   f"FDT instance of TSI {session.tsi}: {issue.message}"))
        for f in fdt.files:
            if f.toi != 0:
                session.files[f.toi] = f

    def _revisit(self, session: _Session, at: Where) -> list[DeliveredObject]:
        """A new FDT: objects waiting for their FTI may now be placed and done."""
        out = []
        for okey, obj in list(session.objects.items()):
            if isinstance(okey, tuple) or obj.done or obj.fti is not None or obj.dropped:
                continue
            fti = self._fti_from_fdt(session.files.get(obj.toi))
            if fti is not None:
                self._set_fti(obj, fti, at, session)
                out.extend(self._maybe_done(session, okey, obj, at))
        return out

    def _assemble(self, obj: _Object) -> bytes:
        size = obj.fti.transfer_length if obj.fti and obj.fti.transfer_length >= 0 else \
            max((o + len(c) for o, c in obj.chunks.items()), default=0)
        buf = bytearray(size)
        for o, c in obj.chunks.items():
            buf[o:o + len(c)] = c[:max(0, size - o)]
        return bytes(buf)

    def _release(self, obj: _Object) -> None:
        self._held -= obj.stored
        obj.stored = 0
        obj.chunks.clear()
        obj.offsets.clear()

    def _deliver(self, session: _Session, obj: _Object, final: bool = False) -> DeliveredObject:
        obj.done = True
        session.delivered.add(obj.toi)
        f = session.files.get(obj.toi)
        total = obj.fti.transfer_length if obj.fti is not None and obj.fti.transfer_length >= 0 \
            else None
        have = obj.covered
        missing = _gaps(obj, total)
        complete = total is not None and not missing and not obj.dropped
        data = md5 = None
        reason = obj.dropped
        if complete:
            raw = self._assemble(obj)
            if f is not None and f.content_md5 is not None:
                md5 = "ok" if hashlib.md5(raw).digest() == f.content_md5 else "bad"
            data, problem = _decode(raw, (f.content_encoding or "").lower() if f else "",
                                    self.limits.max_object)
            if data is None:
                reason = problem
            elif md5 == "bad" and hashlib.md5(data).digest() == f.content_md5:
                md5 = "ok"  # the digest of the decoded file
        elif not reason:  # (counted from ``have``: ``missing`` lists at most 1,000 ranges)
            reason = ("transfer length unknown" if total is None else
                      f"{total - have} of {total} bytes never received")
        head = b""
        if not complete and 0 in obj.chunks:
            pos, parts = 0, []
            while pos in obj.chunks and pos < HEAD:
                parts.append(obj.chunks[pos])
                pos += len(obj.chunks[pos])
            head = b"".join(parts)[:HEAD]
        self._release(obj)
        return DeliveredObject(session.dst, session.tsi, obj.toi, f, data, total, have, missing,
                               complete and data is not None, md5, obj.first, obj.last,
                               obj.packets, obj.duplicates, obj.conflicts, obj.fec_id, reason,
                               head)

    def _note_once(self, key: tuple, code: str, severity: str, at: Where, message: str) -> None:
        if key not in self._reported:
            self._reported.add(key)
            self.notes.append(Note(code, severity, at, message))


def _gaps(obj: _Object, total: int | None) -> list[tuple[int, int]]:
    out = []
    pos = 0
    for o in obj.offsets:
        if o > pos:
            out.append((pos, o))
        pos = max(pos, o + len(obj.chunks[o]))
    if total is not None and pos < total:
        out.append((pos, total))
    return out[:1000]


def _decode(raw: bytes, encoding: str, cap: int) -> tuple[bytes | None, str]:
    """Undo a FLUTE Content-Encoding (RFC 6726 §3.4.1: zlib, deflate, gzip), bounded."""
    if encoding in ("", "null", "identity"):
        return raw, ""
    wbits = {"zlib": 15, "deflate": -15, "gzip": 31, "x-gzip": 31}.get(encoding)
    if wbits is None:
        return None, f"Content-Encoding {encoding!r} unknown"
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(raw, cap)
    except zlib.error as exc:
        return None, f"{encoding} data does not decode ({exc})"
    if d.unconsumed_tail:
        return None, f"{encoding} content expands beyond {cap} bytes (a compression bomb?)"
    return out, ""
