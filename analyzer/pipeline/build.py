"""Building, the global part's first step: a candidate becomes a dissected packet.

The Scapy layers are built here, and with a key hierarchy each MIKEY message
is checked and decrypted and the keys it carries are learned, so candidates
must come in capture time order across all captures (the session's merge).
The result is a :class:`~analyzer.views.result.Dissected` with its display tree
(``dissect``'s output) and its typed facts (what the flows observe).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.capture.reading import Record
from analyzer.pipeline.find import Candidate, classify
from analyzer.views.alc import build_alc_packet
from analyzer.views.bmsc import build_http
from analyzer.views.mikey import mikey_view
from analyzer.views.result import Dissected
from analyzer.views.srtp import build_srtp
from dissectors.issues import Issue

if TYPE_CHECKING:
    from analyzer.keys.hierarchy import KeyHierarchy


def build(cand: Candidate, hierarchy: "KeyHierarchy | None" = None,
          profile: Profile = DEFAULT_PROFILE, display: bool = True) -> Dissected:
    """Dissect the MIKEY messages of a candidate with the Scapy layers.

    With a key *hierarchy* (``--keys``), each message is also checked and
    decrypted, and the keys it carries are learned for the packets after it;
    the DCF files an ALC packet completes are decrypted with those keys.
    Without *display* (``export``: nothing shows the packet), MIKEY trees and
    Info texts are not made; issues and facts are the same.
    """
    if cand.alc is not None:
        return build_alc_packet(cand, hierarchy.store if hierarchy is not None else None,
                                profile, hierarchy)
    if cand.http is not None:
        return build_http(cand, hierarchy)
    if cand.srtp is not None:
        return build_srtp(cand)
    items: list = []
    errors: list[Issue] = []
    summaries: list[str] = []
    facts: list = []
    for carrier, data, issue in cand.found:
        if issue is not None:
            errors.append(issue)
            continue
        view = mikey_view(data, f"Multimedia Internet KEYing{_via(carrier)}", cand, hierarchy,
                          carrier=carrier, display=display)
        items.extend(view.items)
        errors.extend(view.errors)
        if view.fact is not None:
            facts.append(view.fact)
        summaries.append(view.summary + _via(carrier) + view.mac)
    return Dissected(cand.capture, cand.frame, cand.time, cand.src, cand.dst, "mikey",
                     "; ".join(summaries) or "MIKEY (undecodable carrier)", items, errors,
                     mikey=facts)


def dissect_record(record: Record, capture: int = 0,
                   profile: Profile = DEFAULT_PROFILE) -> Dissected | None:
    """Dissect one record; None when it carries nothing MBMS-relevant."""
    cand = classify(record, capture, profile)
    return None if cand is None else build(cand)


def _via(carrier: str) -> str:
    return f" (in {carrier.upper()})" if carrier in ("sdp", "rtsp", "http") else ""


__all__ = ["build", "dissect_record"]
