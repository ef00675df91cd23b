"""Key lifecycles, UEs, procedures and findings: the reconstructor's records.

Key states and their transitions (DESIGN.md event names; a transition not in
:data:`TRANSITIONS` keeps the state and is recorded as a ``flow.unexpected``
finding by the reconstructor)::

    known ──requested──► requested ──challenged──► requested
      │                      │  └──rejected──► rejected   (elsewhere a refusal for one UE
      │                      │                             leaves the key's state as it is)
      └──────delivered───────┴──► delivered ──acknowledged──► acknowledged
                                     │                             │
                                     └──first_use──► active ◄──────┘
    delivered | acknowledged | active ──superseded──► superseded ──expired──► expired
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class KeyState(str, Enum):
    """Lifecycle state of a key."""

    KNOWN = "known"              # given in the key file, nothing seen yet
    REQUESTED = "requested"
    REJECTED = "rejected"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"


S = KeyState
#: event -> states it may happen in, and the state it leads to (None: unchanged).
TRANSITIONS: dict[str, tuple[frozenset[KeyState], KeyState | None]] = {
    "requested": (frozenset({S.KNOWN, S.REQUESTED, S.REJECTED, S.DELIVERED, S.ACKNOWLEDGED,
                             S.ACTIVE, S.SUPERSEDED}), None),
    "challenged": (frozenset(S), None),
    "rejected": (frozenset(S), None),  # per UE: the key's state changes only if nobody has it
    "delivered": (frozenset(S), S.DELIVERED),
    "acknowledged": (frozenset({S.DELIVERED, S.ACKNOWLEDGED, S.ACTIVE}), None),
    "first_use": (frozenset({S.KNOWN, S.DELIVERED, S.ACKNOWLEDGED, S.ACTIVE, S.SUPERSEDED}),
                  S.ACTIVE),
    "last_use": (frozenset(S), None),
    "updated": (frozenset(S), None),  # its validity data updated (TS 33.246 §6.5.3)
    "superseded": (frozenset({S.KNOWN, S.DELIVERED, S.ACKNOWLEDGED, S.ACTIVE}), S.SUPERSEDED),
    "expired": (frozenset(S), S.EXPIRED),
}


def next_state(state: KeyState, event: str) -> tuple[KeyState, bool]:
    """(new state, allowed) for *event* in *state*."""
    allowed, target = TRANSITIONS[event]
    if state not in allowed:
        return state, False
    if event == "acknowledged" and state == S.DELIVERED:
        return S.ACKNOWLEDGED, True
    if event == "requested" and state in (S.KNOWN, S.REJECTED):
        return S.REQUESTED, True
    if event == "rejected" and state in (S.KNOWN, S.REQUESTED):
        return S.REJECTED, True
    return (target or state), True


@dataclass
class KeyEvent:
    """One event in a key's life (timeline JSON ``keys[].events[]``)."""

    time: float
    capture: int
    frame: int
    event: str
    ue: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class KeyRecord:
    """A MUK, MSK or MTK and its life."""

    kind: str
    key_domain: str | None = None
    msk_id: str | None = None
    mtk_id: str | None = None
    idr: str | None = None
    idi: str | None = None
    value: str | None = field(default=None, repr=False)
    salt: str | None = field(default=None, repr=False)   # an MTK's master salt
    state: KeyState = KeyState.KNOWN
    events: list[KeyEvent] = field(default_factory=list)
    counter: int | None = None          # last accepted MIKEY counter under this key
    #: an MSK: the MTK ID of the last MTK message accepted under it (SEQl once one
    #: was, TS 33.246 §6.5.4), and its key validity interval (SEQl, SEQu) when known
    last_mtk: int | None = None
    kv: tuple[int, int] | None = None
    first_use: KeyEvent | None = None
    last_use: KeyEvent | None = None
    uses: int = 0
    files: int = 0                      # downloaded files it protected


@dataclass
class UERecord:
    """A UE: address and B-TID, and the keys it requested, received, acknowledged, used."""

    ip: str
    btid: str | None = None
    requested: set[str] = field(default_factory=set)
    received: set[str] = field(default_factory=set)
    acknowledged: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)
    failed: bool = False   # its last MSK request was refused
    left: bool = False     # it deregistered


@dataclass
class Procedure:
    """One procedure of the seed (timeline JSON ``procedures[]``)."""

    procedure: str
    ue: str | None
    start: float
    end: float
    outcome: str = "incomplete"
    frames: list[tuple[int, int]] = field(default_factory=list)
    state: str = "open"           # internal: open / challenged / awaiting_delivery / awaiting_ack / done
    keys: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def add(self, capture: int, frame: int, time: float) -> None:
        if (capture, frame) not in self.frames:
            self.frames.append((capture, frame))
        self.end = max(self.end, time)

    def close(self, outcome: str) -> None:
        self.outcome = outcome
        self.state = "done"


@dataclass
class Finding:
    """A finding (timeline JSON ``findings[]``), a code of :data:`FINDING_CODES`."""

    code: str
    severity: str
    time: float
    capture: int
    frame: int
    message: str


#: Stable finding codes of the reconstructor (the dissectors' issue codes come too).
FINDING_CODES = {
    "mikey.replay": "MIKEY counter not above the last accepted one for its MUK or MSK "
                    "(RFC 1982 serial arithmetic; an unchanged MTK re-send is no replay)",
    "mikey.port": "MIKEY over UDP on a port other than 2269, the one TS 33.246 §6.4.1 names "
                  "(a tolerated variant: read all the same)",
    "mikey.mtk_rand": "an MTK message with a RAND payload, which TS 33.246 §6.4.5.3 leaves out "
                      "(its keys are derived from that RAND here, as its sender did)",
    "mikey.ack_no_idr": "a verification message without the IDr that TS 33.246 §6.4.5.2 makes "
                        "mandatory (paired all the same)",
    "mikey.mtk_window": "an MTK ID a conformant ME refuses: not above SEQl (the last accepted "
                        "MTK ID or the MSK's Valid From) or above SEQu (TS 33.246 §6.5.4); "
                        "the key is still learned and used",
    "mikey.mac_bad": "a MIKEY MAC does not verify with the known key",
    "mikey.unknown_key": "an MSK or MTK message under a key that is not known",
    "mikey.ack_missing": "an acknowledgement was requested (V=1) and never came",
    "mikey.ack_unexpected": "a verification message for a message never seen",
    "srtp.unknown_mki": "SRTP under an MKI that names no known MTK",
    "srtp.auth_failed": "SRTP that fails authentication under the key its MKI names",
    "srtp.stale_key": "SRTP under an MTK whose MSK was superseded more than a grace period "
                      "before (MTK messages may precede the switch) or has expired, or after "
                      "the stream already moved to the newer MSK",
    "ue.no_msk_traffic": "a UE that failed to get an MSK and holds none still shows traffic",
    "bmsc.request_storm": "many MSK requests in a short window after a solicitation",
    "flow.unexpected": "an event that the key's state does not allow",
    "flute.incomplete": "a FLUTE object whose bytes were not all received (listed with what is missing)",
    "flute.md5_mismatch": "a FLUTE object that does not match the FDT's Content-MD5",
    "dcf.no_key": "a DCF protected by an MTK that is not known (analysis with keys)",
    "dcf.bad_key": "a DCF that the known MTK named by its KeyID does not decrypt",
    "dcf.signature_bad": "a DCF whose HMAC-SHA1 signature (odfs) does not verify",
    "dcf.stale_key": "a DCF under an MTK whose MSK has been superseded or expired",
    "dcf.malformed": "a downloaded object that looks like a DCF but has no usable container",
}
