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
from typing import Any

from analyzer.vocab import (
    Event,
    KeyKind,
    KeyState,
    Outcome,
    ProcedureName,
    ProcState,
    Severity,
)

S = KeyState
#: event -> states it may happen in, and the state it leads to (None: unchanged).
TRANSITIONS: dict[Event, tuple[frozenset[KeyState], KeyState | None]] = {
    Event.REQUESTED: (frozenset({S.KNOWN, S.REQUESTED, S.REJECTED, S.DELIVERED, S.ACKNOWLEDGED,
                             S.ACTIVE, S.SUPERSEDED}), None),
    Event.CHALLENGED: (frozenset(S), None),
    Event.REJECTED: (frozenset(S), None),  # per UE: the key's state changes only if nobody has it
    Event.DELIVERED: (frozenset(S), S.DELIVERED),
    Event.ACKNOWLEDGED: (frozenset({S.DELIVERED, S.ACKNOWLEDGED, S.ACTIVE}), None),
    Event.FIRST_USE: (frozenset({S.KNOWN, S.DELIVERED, S.ACKNOWLEDGED, S.ACTIVE, S.SUPERSEDED}),
                  S.ACTIVE),
    Event.LAST_USE: (frozenset(S), None),
    Event.UPDATED: (frozenset(S), None),  # its validity data updated (TS 33.246 §6.5.3)
    Event.SUPERSEDED: (frozenset({S.KNOWN, S.DELIVERED, S.ACKNOWLEDGED, S.ACTIVE}), S.SUPERSEDED),
    Event.EXPIRED: (frozenset(S), S.EXPIRED),
}


def next_state(state: KeyState, event: Event | str) -> tuple[KeyState, bool]:
    """(new state, allowed) for *event* in *state*."""
    event = Event(event)
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
    event: Event
    ue: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.event) is not Event:
            self.event = Event(self.event)


@dataclass
class KeyRecord:
    """A MUK, MSK or MTK and its life."""

    kind: KeyKind
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

    def __post_init__(self) -> None:
        if type(self.kind) is not KeyKind:
            self.kind = KeyKind(self.kind)


@dataclass
class UERecord:
    """A UE: address and B-TID, and the MSKs it requested, received and acknowledged."""

    ip: str
    btid: str | None = None
    requested: set[str] = field(default_factory=set)
    received: set[str] = field(default_factory=set)
    acknowledged: set[str] = field(default_factory=set)
    failed: bool = False   # its last MSK request was refused
    left: bool = False     # it deregistered


@dataclass
class Procedure:
    """One procedure of the seed (timeline JSON ``procedures[]``)."""

    procedure: ProcedureName
    ue: str | None
    start: float
    end: float
    outcome: Outcome = Outcome.INCOMPLETE
    frames: list[tuple[int, int]] = field(default_factory=list)
    state: ProcState = ProcState.OPEN
    keys: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.procedure) is not ProcedureName:
            self.procedure = ProcedureName(self.procedure)

    def add(self, capture: int, frame: int, time: float) -> None:
        if (capture, frame) not in self.frames:
            self.frames.append((capture, frame))
        self.end = max(self.end, time)

    def close(self, outcome: Outcome | str) -> None:
        self.outcome = Outcome(outcome)
        self.state = ProcState.DONE


@dataclass
class Finding:
    """A finding (timeline JSON ``findings[]``), a code of :data:`analyzer.flows.findings.FINDING_CODES`
    or a dissector's issue code."""

    code: str
    severity: Severity
    time: float
    capture: int
    frame: int
    message: str
