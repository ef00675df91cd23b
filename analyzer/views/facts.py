"""Typed facts: what a view attaches to a dissected packet for the analysis.

The display tree (:attr:`Dissected.items`) is output only: renaming a field there
changes what ``dissect`` shows, never the timeline. The flow reconstructor's
observations (:func:`analyzer.flows.observe.observe`) are made from these facts:

* :class:`MikeyFact` per MIKEY message (UDP/TCP, in SDP/RTSP/HTTP bodies, as a
  FLUTE file): its header, IDs and key IDs (RFC 3830 §6, RFC 4563), and the key
  hierarchy's :class:`~analyzer.keys.hierarchy.MikeyOutcome` when keys are given;
* :class:`HttpFact` per BM-SC HTTP message (TS 33.246 §6.2-§6.3, Annex G);
* :class:`SrtpFact` per SRTP/SRTCP packet that the keys were tried on (RFC 3711).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from dissectors.mikey.parts import message_parts
from dissectors.mikey.payloads import id_value


class MikeyFact:
    """One MIKEY message: what the flows need of its wire form, and of its keys.

    Read from the message's :func:`~dissectors.mikey.parts.message_parts` when first
    asked for (``dissect`` without analysis never pays for it).

    Attributes:
        data_type, csb_id, v: from the common header (RFC 3830 §6.1).
        counter: the T payload's counter (TS type 2), None without one.
        ids: the ID / IDR payloads' data in order (text for NAI/URI, else hex).
        key_domain, msk_id, mtk_id: the Key ID extension's IDs (RFC 4563; hex).
        key_data_len: the KEMAC's Encr data len (0: no key data), None without KEMAC.
        has_rand: a RAND payload is present.
        carrier: how it came (``udp``, ``tcp``, ``sdp``, ``rtsp``, ``http``, ``flute``).
        outcome: what the key hierarchy made of it (None without keys).
    """

    def __init__(self, msg: Any, carrier: str = "udp", outcome: Any = None) -> None:
        self._msg = msg
        self.carrier = carrier
        self.outcome = outcome
        self.data_type: int = msg.data_type or 0
        self.csb_id: int = msg.csb_id or 0
        self.v: int = msg.v or 0

    @cached_property
    def _parts(self) -> Any:
        return message_parts(self._msg)

    @property
    def counter(self) -> int | None:
        return self._parts.counter

    @cached_property
    def ids(self) -> tuple[str, ...]:
        return tuple(id_value(kind, data)[0] for kind, data in self._parts.ids)

    def _key_id(self, kind: int) -> str | None:
        value = (self._parts.key_ids or {}).get(kind)
        return value.hex() if value is not None else None

    @property
    def key_domain(self) -> str | None:
        return self._key_id(0)

    @property
    def msk_id(self) -> str | None:
        return self._key_id(1)

    @property
    def mtk_id(self) -> str | None:
        return self._key_id(2)

    @property
    def key_data_len(self) -> int | None:
        kemac = self._parts.kemac
        return kemac.encr_data_len if kemac is not None else None

    @property
    def has_rand(self) -> bool:
        return self._parts.rand is not None


@dataclass(frozen=True)
class HttpFact:
    """One BM-SC HTTP message (TS 33.246 §6.3.2; bodies of TS 26.346 §11, Annex G).

    Attributes:
        is_request: a request (else a response).
        status: the response's status code.
        body_kind: ``register``, ``msk-request``, ``msk-response`` ... (None: no MBMS body).
        keys: per MSK requested or answered: (Key Domain ID, MSK ID, status) as hex/int.
        reasons: per key of ``keys``, the reason given with its status ("" where none).
        btid: the Authorization user name (the UE's B-TID).
        stale: a digest challenge with ``stale=true``.
        complete: the whole message was captured.
    """

    is_request: bool
    status: int | None
    body_kind: str | None
    keys: tuple[tuple[str | None, str | None, int | None], ...] = ()
    reasons: tuple[str, ...] = ()
    btid: str | None = None
    stale: bool = False
    complete: bool = True


@dataclass(frozen=True)
class SrtpFact:
    """One SRTP/SRTCP packet the keys were tried on.

    Attributes:
        ssrc: its SSRC (RTP) or sender SSRC (RTCP).
        result: ``ok`` (decrypted and authenticated), ``auth`` (fails authentication),
            ``unknown`` (its MKI names no known key), ``roc`` (waiting for an RCC packet).
        key: the key that opened it, as shown (``MTK kd/msk/mtk`` or a ``[[srtp]]`` name).
        mtk: the MTK's (Key Domain ID, MSK ID, MTK ID) in hex, when an MTK opened it.
    """

    ssrc: int
    result: str
    key: str | None = None
    mtk: tuple[str, str, str] | None = None
