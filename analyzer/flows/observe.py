"""Observations: what the reconstructor learns from one dissected packet.

The reconstructor reads the same fields that ``dissect --json`` shows (as
Zeek's scripts read dissector events): :func:`observe` turns a
:class:`~analyzer.result.Dissected` into typed observations, so the flow logic
never touches wire bytes. SRTP observations come from the decryptor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..result import Dissected


@dataclass(frozen=True)
class Where:
    """Where an observation was made."""

    capture: int
    frame: int
    time: float
    src: str
    dst: str

    @property
    def src_ip(self) -> str:
        return self.src.rsplit(":", 1)[0].strip("[]")

    @property
    def dst_ip(self) -> str:
        return self.dst.rsplit(":", 1)[0].strip("[]")


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
    method: str | None
    uri: str | None
    status: int | None
    body_kind: str | None
    keys: tuple[tuple[str | None, str | None, int | None], ...] = ()
    btid: str | None = None
    challenge: bool = False
    stale: bool = False
    digest: str | None = None
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
    :attr:`analyzer.download_view.OpenedObject.result`."""

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


def _first(fields: list[list[Any]], name: str) -> Any:
    for key, value in fields:
        if key == name:
            return value
    return None


def _all(fields: list[list[Any]], name: str) -> list[Any]:
    return [value for key, value in fields if key == name]


def observe(pkt: Dissected) -> list[Any]:
    """Observations of one dissected packet, in wire order."""
    at = Where(pkt.capture, pkt.frame, pkt.time, pkt.src, pkt.dst)
    fields = pkt.fields(reveal_keys=True)
    out: list[Any] = []
    if pkt.protocol == "bmsc":
        out.append(HttpObs(
            at, _first(fields, "bmsc.request.method") is not None,
            _first(fields, "bmsc.request.method"), _first(fields, "bmsc.request.uri"),
            _first(fields, "bmsc.response.code"), _first(fields, "bmsc.body.kind"),
            tuple(zip(_all(fields, "bmsc.key.key_domain_id"), _all(fields, "bmsc.key.msk_id"),
                      _key_statuses(fields))),
            _first(fields, "bmsc.btid"), _first(fields, "bmsc.digest.challenge.nonce") is not None,
            str(_first(fields, "bmsc.digest.challenge.stale") or "").lower() == "true",
            _first(fields, "bmsc.digest.verified"),
            not any(e.code == "http.incomplete" for e in pkt.errors),
            tuple(_key_reasons(fields))))
    if pkt.protocol in ("srtp", "srtcp"):
        result = _first(fields, "srtp.result")
        if result:
            label = _first(fields, "srtp.key") or ""
            parts = label[4:].split("/") if label.startswith("MTK ") else []
            ssrc = _first(fields, "rtp.ssrc") or _first(fields, "rtcp.senderssrc") or 0
            out.append(SrtpObs(at, ssrc, tuple(parts) if len(parts) == 3 else None,
                               label or None, result))
    for opened in pkt.downloads:
        obj = opened.obj
        out.append(DownloadObs(
            Where(obj.last.capture, obj.last.frame, obj.last.time, obj.last.src, obj.last.dst),
            obj.first, obj.tsi, obj.toi, obj.name, obj.transfer_length, obj.received,
            obj.packets, obj.complete, obj.md5, opened.dcf is not None, opened.mtk,
            opened.result, opened.signature, obj.reason))
    starts = [n for n, (key, _) in enumerate(fields) if key == "mikey.version"]
    facts = pkt.mikey if len(pkt.mikey) == len(starts) else [None] * len(starts)
    intact = not any(e.code.startswith("mikey.") and e.severity == "error" for e in pkt.errors)
    carriers = pkt.carriers if len(pkt.carriers) == len(starts) else ["udp"] * len(starts)
    for start, fact, carrier in zip(starts, facts, carriers):
        out.append(_mikey(at, fields[start:_next_message(fields, start)], fact, intact, carrier))
    for err in pkt.errors:
        out.append(IssueObs(at, err.code, err.severity, err.message))
    return out


def _next_message(fields: list[list[Any]], start: int) -> int:
    for n in range(start + 1, len(fields)):
        if fields[n][0] == "mikey.version":
            return n
    return len(fields)


def _key_reasons(fields: list[list[Any]]) -> list[str]:
    """Per-key reason aligned with the key list ("" where a key has none)."""
    out: list[str] = []
    for key, value in fields:
        if key == "bmsc.key.msk_id":
            out.append("")
        elif key == "bmsc.key.reason" and out:
            out[-1] = str(value)
    return out


def _key_statuses(fields: list[list[Any]]) -> list[int | None]:
    """Per-key status aligned with the key list (None where a key has no status)."""
    out: list[int | None] = []
    for key, value in fields:
        if key == "bmsc.key.msk_id":
            out.append(None)
        elif key == "bmsc.key.status" and out:
            out[-1] = value
    return out


def _mikey(at: Where, fields: list[list[Any]], fact: Any, intact: bool,
           carrier: str = "udp") -> MikeyObs:
    """A MIKEY message's observation: its identifiers from the dissection, what the key
    hierarchy made of it from the typed *fact* (:class:`analyzer.mikey_keys.MikeyOutcome`)."""
    ids = _all(fields, "mikey.id.data")  # text for NAI/URI IDs, hex otherwise (id_value)
    data_type = _first(fields, "mikey.type") or 0
    if data_type == 1:  # HDR || T || IDr || V (TS 33.246 §6.4.5.2): its one ID is the IDr
        idi, idr = (ids[0], ids[1]) if len(ids) > 1 else (None, ids[0] if ids else None)
    else:
        idi, idr = (ids[0] if ids else None), (ids[1] if len(ids) > 1 else None)
    status = fact.mac_status if fact is not None and fact.kind is not None else None
    key = fact.learned[0] if fact is not None and fact.learned else None
    learned = key.value.hex() if key is not None and key.value else None
    salt = key.salt.hex() if key is not None and key.salt else None
    kv = None
    if key is not None and key.kind == "MSK":
        low, high = key.extra.get("valid_from"), key.extra.get("valid_to")
        if low and high:
            kv = (int.from_bytes(low, "big"), int.from_bytes(high, "big"))
    return MikeyObs(
        at, data_type, _first(fields, "mikey.csb_id") or 0,
        _first(fields, "mikey.v.set") or 0, _first(fields, "mikey.t.counter"),
        _first(fields, "mikey.mbms.key_domain_id"), _first(fields, "mikey.mbms.msk_id"),
        _first(fields, "mikey.mbms.mtk_id"), idi, idr, status, learned, salt,
        fact.answers if fact is not None else None, intact,
        _first(fields, "mikey.kemac.key_data_len") == 0, kv, carrier,
        _first(fields, "mikey.rand.data") is not None)



__all__ = ["DownloadObs", "HttpObs", "IssueObs", "MikeyObs", "SrtpObs", "Where", "observe"]
