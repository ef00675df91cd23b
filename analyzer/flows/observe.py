"""Observations: what the reconstructor learns from one dissected packet.

The reconstructor reads what the views know, as Zeek's scripts read dissector
events: :func:`observe` turns the typed facts of a
:class:`~analyzer.views.result.Dissected` (:mod:`analyzer.views.facts`) into
observations, so the flow logic never touches wire bytes nor the display tree
(renaming a ``dissect`` field cannot change the timeline). SRTP observations of
packets ``dissect`` does not show come from the pipeline's decryptor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analyzer.capture.where import Where
from analyzer.views.facts import HttpFact, MikeyFact, SrtpFact
from analyzer.views.result import Dissected


@dataclass(frozen=True)
class MikeyObs:
    """A MIKEY message (RFC 3830) and what the key hierarchy made of it."""

    at: Where
    data_type: int
    csb_id: int
    v: int
    counter: int | None
    kd: str | None
    msk_id: str | None
    mtk_id: str | None
    idi: str | None
    idr: str | None
    mac_status: str | None        # good / bad / not checked; None without keys
    key_value: str | None = None  # the key it delivered, when decrypted
    key_salt: str | None = None   # and its salt (an MTK's master salt)
    #: a verification message: (capture, frame) of the message it answers, as the key
    #: hierarchy paired it (the one whose keys verify its MAC); None without keys
    answers: tuple[int, int] | None = None
    #: the dissector found nothing wrong with it (a damaged copy moves no counter)
    intact: bool = True
    #: the KEMAC carries no key data (Encr data len 0): a trigger or a validity update
    empty_kemac: bool = False
    #: an MSK's key validity interval of MTK IDs (SEQl, SEQu), when it was decrypted
    kv: tuple[int, int] | None = None
    #: how it came (``udp``, ``tcp``, ``sdp``, ``rtsp``, ``http``), and whether it has a RAND
    carrier: str = "udp"
    has_rand: bool = False

    @property
    def solicitation(self) -> bool:
        """Key Number 0 (the low half of the MSK ID; the Key Group kept, or 0 as some
        BM-SCs send): the BM-SC solicits a pull (TS 33.246 §6.3.2.2.4, §6.5.3)."""
        return self.msk_id is not None and len(self.msk_id) == 8 \
            and int(self.msk_id[4:], 16) == 0 and self.mtk_id is None

    @property
    def validity_update(self) -> bool:
        """No key data under a Key Number other than 0: an update of the MSK's key
        validity data only, not a delivery and not a trigger (TS 33.246 §6.5.3)."""
        return self.empty_kemac and self.mtk_id is None and not self.solicitation


@dataclass(frozen=True)
class HttpObs:
    """A BM-SC HTTP message (TS 33.246 §6.3.2)."""

    at: Where
    is_request: bool
    status: int | None
    body_kind: str | None
    keys: tuple[tuple[str | None, str | None, int | None], ...] = ()
    btid: str | None = None
    stale: bool = False
    complete: bool = True
    #: per key of ``keys``, the reason given with its status ("" where none)
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class SrtpObs:
    """An SRTP/SRTCP packet and the key that opened it (or why none did)."""

    at: Where
    ssrc: int
    mtk: tuple[str, str, str] | None  # (kd, msk_id, mtk_id) of the MTK that decrypted it
    key_label: str | None
    result: str                       # ok / auth / unknown


@dataclass(frozen=True)
class DownloadObs:
    """A FLUTE object that ended (complete or not) and what the DCF step made of it.

    ``at`` is its last packet, ``first`` its first; ``mtk`` the (Key Domain ID,
    MSK ID, MTK ID) its DCF names; ``result`` as
    :attr:`analyzer.views.alc.OpenedObject.result`."""

    at: Where
    first: Where
    tsi: int
    toi: int
    name: str
    size: int | None
    received: int
    packets: int
    complete: bool
    md5: str | None
    dcf: bool
    mtk: tuple[str, str, str] | None
    result: str
    signature: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class IssueObs:
    """A problem the dissectors found (malformed data, refused XML, ...)."""

    at: Where
    code: str
    severity: str
    message: str


def observe(pkt: Dissected) -> list[Any]:
    """Observations of one dissected packet, in wire order, from its typed facts."""
    at = Where(pkt.capture, pkt.frame, pkt.time, pkt.src, pkt.dst)
    out: list[Any] = []
    http: HttpFact | None = pkt.http
    if http is not None:
        out.append(HttpObs(at, http.is_request, http.status, http.body_kind, http.keys,
                           http.btid, http.stale, http.complete, http.reasons))
    srtp: SrtpFact | None = pkt.srtp
    if srtp is not None:
        out.append(SrtpObs(at, srtp.ssrc, srtp.mtk, srtp.key, srtp.result))
    for opened in pkt.downloads:
        obj = opened.obj
        out.append(DownloadObs(
            Where(obj.last.capture, obj.last.frame, obj.last.time, obj.last.src, obj.last.dst),
            obj.first, obj.tsi, obj.toi, obj.name, obj.transfer_length, obj.received,
            obj.packets, obj.complete, obj.md5, opened.dcf is not None, opened.mtk,
            opened.result, opened.signature, obj.reason))
    intact = not any(e.code.startswith("mikey.") and e.severity == "error" for e in pkt.errors)
    for fact in pkt.mikey:
        out.append(_mikey(at, fact, intact))
    for err in pkt.errors:
        out.append(IssueObs(at, err.code, err.severity, err.message))
    return out


def _mikey(at: Where, fact: MikeyFact, intact: bool) -> MikeyObs:
    """A MIKEY message's observation: its identifiers, and what the key hierarchy made of
    it (:class:`analyzer.keys.hierarchy.MikeyOutcome`, when keys were given)."""
    ids = fact.ids
    if fact.data_type == 1:  # HDR || T || IDr || V (TS 33.246 §6.4.5.2): its one ID is the IDr
        idi, idr = (ids[0], ids[1]) if len(ids) > 1 else (None, ids[0] if ids else None)
    else:
        idi, idr = (ids[0] if ids else None), (ids[1] if len(ids) > 1 else None)
    outcome = fact.outcome
    status = outcome.mac_status if outcome is not None and outcome.kind is not None else None
    key = outcome.learned[0] if outcome is not None and outcome.learned else None
    learned = key.value.hex() if key is not None and key.value else None
    salt = key.salt.hex() if key is not None and key.salt else None
    kv = None
    if key is not None and key.kind == "MSK":
        low, high = key.extra.get("valid_from"), key.extra.get("valid_to")
        if low and high:
            kv = (int.from_bytes(low, "big"), int.from_bytes(high, "big"))
    return MikeyObs(
        at, fact.data_type, fact.csb_id, fact.v, fact.counter, fact.key_domain, fact.msk_id,
        fact.mtk_id, idi, idr, status, learned, salt,
        outcome.answers if outcome is not None else None, intact, fact.key_data_len == 0, kv,
        fact.carrier, fact.has_rand)


__all__ = ["DownloadObs", "HttpObs", "IssueObs", "MikeyObs", "SrtpObs", "Where", "observe"]
