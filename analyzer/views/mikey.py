"""One MIKEY message as a dissected packet shows it, wherever it came from (UDP or TCP,
SDP/RTSP/HTTP bodies, a FLUTE file): its tree, its issues, its Info text and, with a key
hierarchy, what the hierarchy made of it (RFC 3830; TS 33.246 §6.4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analyzer.views.facts import MikeyFact
from analyzer.views.result import summarize
from dissectors.issues import Issue
from dissectors.mikey import (
    MIKEY,
    all_issues,
    parse,
    tree,
)
from dissectors.mikey.base import Node
from dissectors.mikey.constants import DATA_TYPES


@dataclass
class MikeyView:
    """What one MIKEY message adds to a packet.

    Attributes:
        items: its title node, its dissection tree, and the hierarchy's items.
        errors: its issues (and ``mikey.mac_bad`` when its MAC does not verify).
        summary: Info text (without the MAC verdict: see :attr:`mac`).
        fact: the message's :class:`~analyzer.views.facts.MikeyFact` (with the
            hierarchy's outcome when keys are given); None when it has no MIKEY header.
    """

    items: list = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    summary: str = ""
    fact: Any = None

    @property
    def mac(self) -> str:
        """``, MAC good`` (bad, not checked) when the hierarchy judged it, else ""."""
        outcome = self.fact.outcome if self.fact is not None else None
        if outcome is None or outcome.kind is None:
            return ""
        return f", MAC {outcome.mac_status}"


def mikey_view(data: bytes, title: str, cand: Any, hierarchy: Any = None,
               depth: int = -1, carrier: str = "udp", display: bool = True) -> MikeyView:
    """Dissect MIKEY message *data* of candidate *cand* (come by *carrier*) under the
    title *title* (at *depth*); with a key *hierarchy* check it and learn what it
    carries (in capture order: the caller's). Without *display* (nothing shows the
    packet: ``export``), the tree and Info text are left out; issues and facts are
    the same."""
    msg = parse(data)
    out = MikeyView()
    if display:
        kind = DATA_TYPES.get(getattr(msg, "data_type", -1), "Malformed")
        out.items.append(Node(f"{title}: {kind}", depth))
        out.items.extend(tree(msg))
        out.summary = summarize(msg)
    out.errors.extend(all_issues(msg))
    outcome = None
    if hierarchy is not None:
        outcome = hierarchy.process(msg, data, f"mikey:{cand.capture}:{cand.frame}", cand.src,
                                    cand.dst, (cand.capture, cand.frame))
        if display:
            out.items.extend(outcome.tree())
        if outcome.mac_status == "bad":
            out.errors.append(Issue("mikey.mac_bad", f"{outcome.kind} message: MAC does not "
                                    "verify with the known key (wrong key or forged message)"))
    if isinstance(msg, MIKEY):
        out.fact = MikeyFact(msg, carrier, outcome)
    return out


__all__ = ["MikeyView", "mikey_view"]
