"""The analyzer's vocabularies: every state, outcome, event and result name that
reaches the timeline JSON (DESIGN.md "Timeline JSON") or passes between layers.

They are :class:`~enum.StrEnum` s, so a member *is* its wire string
(``Outcome.SUCCESS == "success"``, ``json.dumps`` writes ``"success"``), and a name
not in the vocabulary is a ``ValueError`` where the record is made, not a silent
new value in the output. ``timeline.schema.json`` lists the same values; a test
checks that the two agree (tests/test_vocab.py).
"""

from __future__ import annotations

from enum import StrEnum


class KeyKind(StrEnum):
    """Which key of the hierarchy (TS 33.246 §6.1): MBMS User, Service, Traffic Key."""

    MUK = "MUK"
    MSK = "MSK"
    MTK = "MTK"


class KeyState(StrEnum):
    """Lifecycle state of a key (:data:`analyzer.flows.model.TRANSITIONS`)."""

    KNOWN = "known"              # given in the key file, nothing seen yet
    REQUESTED = "requested"
    REJECTED = "rejected"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"


class Event(StrEnum):
    """An event in a key's life (timeline ``keys[].events[].event``)."""

    REQUESTED = "requested"
    CHALLENGED = "challenged"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    REJECTED = "rejected"
    FIRST_USE = "first_use"
    LAST_USE = "last_use"
    UPDATED = "updated"          # validity data updated, no new key (TS 33.246 §6.5.3)
    SUPERSEDED = "superseded"
    EXPIRED = "expired"


class ProcedureName(StrEnum):
    """The procedures of TS 33.246 §6.3 the reconstructor recognises."""

    REGISTRATION = "registration"
    DEREGISTRATION = "deregistration"
    MSK_REQUEST = "msk_request"
    MSK_PUSH = "msk_push"
    SOLICITED_PULL = "solicited_pull"
    MTK_UPDATE = "mtk_update"


class Outcome(StrEnum):
    """How a procedure ended (timeline ``procedures[].outcome``)."""

    SUCCESS = "success"
    REJECTED = "rejected"
    FAILED = "failed"
    INCOMPLETE = "incomplete"


class ProcState(StrEnum):
    """Where an open procedure stands (internal to the reconstructor)."""

    OPEN = "open"
    CHALLENGED = "challenged"
    AWAITING_DELIVERY = "awaiting_delivery"
    AWAITING_ACK = "awaiting_ack"
    DONE = "done"


class Severity(StrEnum):
    """How bad a finding is (timeline ``findings[].severity``)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class MacStatus(StrEnum):
    """A MIKEY MAC or an HTTP digest checked with the known key (RFC 3830 §5.2)."""

    GOOD = "good"
    BAD = "bad"
    NOT_CHECKED = "not checked"


class DownloadResult(StrEnum):
    """What became of a downloaded object (timeline ``downloads[].result``)."""

    CLEAR = "clear"              # not protected
    OK = "ok"                    # a DCF, decrypted, signature verified
    UNCHECKED = "unchecked"      # a DCF, decrypted, no signature to check
    NO_KEY = "no_key"
    BAD_KEY = "bad_key"
    INCOMPLETE = "incomplete"
    MALFORMED = "malformed"
    MIKEY = "mikey"              # an MTK message delivered as a file (application/mikey)
