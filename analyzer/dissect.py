"""From capture records to dissected MBMS packets (the ``dissect`` pipeline).

For each record: decode the transport by slicing (:mod:`analyzer.decode`),
decide cheaply whether it carries MIKEY (profile ports, the strict heuristic,
SDP/RTSP/HTTP carriers), and only then build Scapy layers. The result per
packet is a :class:`Dissected` whose ``to_json`` is the DESIGN.md JSON Lines
object of ``dissect --json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from dissectors.carriers import find_embedded
from dissectors.issues import Issue
from dissectors.mikey import MIKEY_EXT, all_issues, iter_layers, parse, tree
from dissectors.mikey.base import Field_, Node
from dissectors.mikey.constants import DATA_TYPES
from dissectors.mikey.heuristic import looks_like_mikey

from .decode import Transport, decode_transport
from .mikey_keys import KeyHierarchy
from .profile import DEFAULT_PROFILE, Profile
from .reading import Record

#: Short data-type names used in summaries (Wireshark's Info column style).
SHORT_TYPES = {0: "PSK msg", 1: "PSK ver msg", 2: "PK msg", 3: "PK ver msg"}

#: The text shown instead of a hidden secret.
HIDDEN = "<hidden, use --reveal-keys>"


@dataclass
class Dissected:
    """One MBMS-relevant packet and what the dissectors made of it.

    Attributes:
        capture: index of the capture file in the command line (0-based).
        frame: 1-based frame number in that file.
        time: capture timestamp (seconds since the epoch).
        src, dst: ``ip:port`` (``[ip]:port`` for IPv6).
        protocol: ``mikey`` for now (later ``bmsc``, ``srtp``, ...).
        summary: one-line Info text.
        items: the dissection tree, :class:`Node` and :class:`Field_` items.
        errors: issues found in the packet.
    """

    capture: int
    frame: int
    time: float
    src: str
    dst: str
    protocol: str
    summary: str
    items: list = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)

    def fields(self, reveal_keys: bool = False) -> list[list[Any]]:
        """``[name, value]`` pairs in wire order; secrets are None unless revealed."""
        return [[f[0], f[1] if (reveal_keys or not f[4]) else None]
                for f in self.items if type(f) is Field_]

    def to_json(self, reveal_keys: bool = False) -> dict[str, Any]:
        """The ``dissect --json`` object of DESIGN.md."""
        return {
            "capture": self.capture,
            "frame": self.frame,
            "time": self.time,
            "src": self.src,
            "dst": self.dst,
            "protocol": self.protocol,
            "summary": self.summary,
            "fields": self.fields(reveal_keys),
            "errors": [e.to_json() for e in self.errors],
        }

    def to_text(self, reveal_keys: bool = False) -> str:
        """A readable tree like ``tshark -V``."""
        lines = [f"Frame {self.frame} (capture {self.capture}): {self.src} -> {self.dst}, "
                 f"time {self.time:.6f}", f"    {self.summary}"]
        for item in self.items:
            indent = "    " * (item.depth + 1)
            if isinstance(item, Node):
                lines.append(f"{indent}{item.title}")
            else:
                shown = item.display if (reveal_keys or not item.secret) else HIDDEN
                lines.append(f"{indent}{item.label}: {shown}")
        for err in self.errors:
            lines.append(f"    [{err.severity}] {err.code}: {err.message}")
        return "\n".join(lines)


def endpoint(ip: str, port: int) -> str:
    """``ip:port``, with brackets around IPv6 addresses."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def mikey_payloads(tp: Transport, profile: Profile) -> list[tuple[str, bytes, Issue | None]]:
    """The MIKEY messages a transport payload carries: ``(carrier, bytes, issue)``."""
    data = tp.payload
    if not data:
        return []
    ports = profile.mikey_udp_ports if tp.proto == "udp" else profile.mikey_tcp_ports
    if tp.sport in ports or tp.dport in ports:
        if not (profile.embedded_mikey and data[:1].isalpha()):
            return [(tp.proto, data, None)]
    if tp.proto == "udp" and profile.mikey_heuristic and looks_like_mikey(data):
        return [("udp", data, None)]
    if profile.embedded_mikey and data[:1].isalpha():
        return [(e.carrier, e.data, e.issue) for e in find_embedded(data)]
    return []


def summarize(msg) -> str:
    """Info-column text for one MIKEY message."""
    dtype = getattr(msg, "data_type", None)
    if dtype is None:
        return "MIKEY (malformed)"
    parts = [f"MIKEY {SHORT_TYPES.get(dtype, DATA_TYPES.get(dtype, f'type {dtype}'))}"]
    for layer in iter_layers(msg):
        if isinstance(layer, MIKEY_EXT) and layer.ext_type == 3:
            ids = layer.key_ids_by_type()
            kd, msk, mtk = ids.get(0), ids.get(1), ids.get(2)
            if msk is not None and not any(msk) and (mtk is None or not any(mtk)):
                parts.append("key IDs 0 (solicited pull)")
            elif mtk is not None:
                parts.append(f"MTK {_h(kd)}/{_h(msk)}/{mtk.hex()}")
            elif msk is not None:
                parts.append(f"MSK {_h(kd)}/{msk.hex()}")
            break
    if getattr(msg, "v", 0):
        parts.append("V=1")
    return ", ".join(parts)


def _h(value: bytes | None) -> str:
    return value.hex() if value is not None else "?"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A record found to carry MIKEY, before any Scapy work (cheap to pickle).

    Attributes:
        capture, frame, time, src, dst: as in :class:`Dissected`.
        found: ``(carrier, message bytes, carrier issue)`` for each message.
    """

    capture: int
    frame: int
    time: float
    src: str
    dst: str
    found: tuple[tuple[str, bytes, Issue | None], ...]


def classify(record: Record, capture: int = 0,
             profile: Profile = DEFAULT_PROFILE) -> Candidate | None:
    """Decode one record by slicing and find its MIKEY messages; None if it has none."""
    tp = decode_transport(record.linktype, record.data)
    if tp is None:
        return None
    found = mikey_payloads(tp, profile)
    if not found:
        return None
    return Candidate(capture, record.number, record.time, endpoint(tp.src, tp.sport),
                     endpoint(tp.dst, tp.dport), tuple(found))


def build(cand: Candidate, hierarchy: "KeyHierarchy | None" = None) -> Dissected:
    """Dissect the MIKEY messages of a candidate with the Scapy layers.

    With a key *hierarchy* (``--keys``), each message is also checked and
    decrypted, and the keys it carries are learned for the packets after it.
    """
    items: list = []
    errors: list[Issue] = []
    summaries: list[str] = []
    for carrier, data, issue in cand.found:
        if issue is not None:
            errors.append(issue)
            continue
        msg = parse(data)
        items.append(Node(f"Multimedia Internet KEYing{_via(carrier)}: "
                          f"{DATA_TYPES.get(getattr(msg, 'data_type', -1), 'Malformed')}", -1))
        items.extend(tree(msg))
        errors.extend(all_issues(msg))
        summary = summarize(msg) + _via(carrier)
        if hierarchy is not None:
            outcome = hierarchy.process(msg, data, f"mikey:{cand.capture}:{cand.frame}")
            items.extend(outcome.tree())
            if outcome.kind is not None:
                summary += f", MAC {outcome.mac_status}"
            if outcome.mac_status == "bad":
                errors.append(Issue("mikey.mac_bad", f"{outcome.kind} message: MAC does not "
                                    "verify with the known key (wrong key or forged message)"))
        summaries.append(summary)
    return Dissected(cand.capture, cand.frame, cand.time, cand.src, cand.dst, "mikey",
                     "; ".join(summaries) or "MIKEY (undecodable carrier)", items, errors)


def dissect_record(record: Record, capture: int = 0,
                   profile: Profile = DEFAULT_PROFILE) -> Dissected | None:
    """Dissect one record; None when it carries nothing MBMS-relevant."""
    cand = classify(record, capture, profile)
    return None if cand is None else build(cand)


def candidates(records: Iterable[Record], capture: int = 0,
               profile: Profile = DEFAULT_PROFILE) -> Iterator[Candidate]:
    """The records of a stream that carry MIKEY, in capture order."""
    for record in records:
        cand = classify(record, capture, profile)
        if cand is not None:
            yield cand


def _via(carrier: str) -> str:
    return f" (in {carrier.upper()})" if carrier in ("sdp", "rtsp", "http") else ""


def dissect_records(records: Iterable[Record], capture: int = 0,
                    profile: Profile = DEFAULT_PROFILE) -> Iterator[Dissected]:
    """Every MBMS-relevant packet of a record stream, in capture order."""
    for record in records:
        result = dissect_record(record, capture, profile)
        if result is not None:
            yield result
