"""MIKEY (RFC 3830, RFC 4563, RFC 6043, RFC 6509) as Scapy layers.

Build::

    msg = MIKEY(data_type=0, v=1, csb_id=0x01020304, cs_id_map_type=1) / MIKEY_T(...) / ...
    raw = bytes(msg)

Dissect (never raises; problems are issues)::

    msg = parse(raw)
    fields = field_list(msg)        # [(name, value), ...] in wire order
    problems = all_issues(msg)

The layer classes are re-exported here; the chain bindings live at the bottom
of each payload module.
"""

from __future__ import annotations

from typing import Any

from scapy.packet import Packet

from dissectors.issues import Issue

from . import payloads as _payloads  # noqa: F401  (registers the bindings)
from .base import (
    MAX_PAYLOADS,
    PAYLOAD_CLASSES,
    Field_,
    MIKEY_Capped,
    MIKEY_Malformed,
    MIKEY_Trailing,
    MIKEY_Unknown,
    MIKEY_UnknownLength,
    Node,
    all_issues,
    field_candidates,
    iter_layers,
)
from .extension import KEY_ID_FIELDS, MIKEY_EXT, MIKEY_KeyID
from .header import HDR_LENGTH, MIKEY, MIKEY_GENERIC_ID, MIKEY_SRTP_ID
from .keydata import MIKEY_KeyData
from .payloads import (
    MIKEY_CERT,
    MIKEY_CHASH,
    MIKEY_DH,
    MIKEY_ERR,
    MIKEY_ID,
    MIKEY_IDR,
    MIKEY_KEMAC,
    MIKEY_PKE,
    MIKEY_RAND,
    MIKEY_RANDR,
    MIKEY_SAKKE,
    MIKEY_SIGN,
    MIKEY_T,
    MIKEY_TR,
    MIKEY_V,
)
from .policy import MIKEY_SP, MIKEY_SPParam
from .ticket import MIKEY_TICKET, MIKEY_TP

__all__ = [
    "HDR_LENGTH", "KEY_ID_FIELDS", "MAX_PAYLOADS", "PAYLOAD_CLASSES", "MIKEY", "MIKEY_CERT",
    "MIKEY_CHASH", "MIKEY_Capped", "MIKEY_DH", "MIKEY_ERR", "MIKEY_EXT", "MIKEY_GENERIC_ID",
    "MIKEY_ID", "MIKEY_IDR", "MIKEY_KEMAC", "MIKEY_KeyData", "MIKEY_KeyID", "MIKEY_Malformed",
    "MIKEY_PKE", "MIKEY_RAND", "MIKEY_RANDR", "MIKEY_SAKKE", "MIKEY_SIGN", "MIKEY_SP",
    "MIKEY_SPParam", "MIKEY_SRTP_ID", "MIKEY_T", "MIKEY_TICKET", "MIKEY_TP", "MIKEY_TR",
    "MIKEY_Trailing", "MIKEY_Unknown", "MIKEY_UnknownLength", "MIKEY_V", "Field_", "Issue",
    "Node", "PORTS", "all_issues", "bind_ports", "field_list", "iter_layers", "parse", "tree",
]


#: UDP and TCP ports of MIKEY: 2269 (IANA's, the one TS 33.246 §6.4.1 names) and 4359
#: (used by MBMS deployments too; the analyzer's default profile reads both)
PORTS = (2269, 4359)


def bind_ports(ports: tuple[int, ...] = PORTS) -> None:
    """Bind MIKEY below Scapy's UDP and TCP on *ports*, in either direction, as Scapy's
    own layers bind: ``rdpcap``, ``sniff`` and ``show()`` then give MIKEY layers with
    their payload chain, and ``UDP(dport=2269) / MIKEY(...)`` builds. Done for
    :data:`PORTS` when this package is imported."""
    from scapy.layers.inet import TCP, UDP
    from scapy.packet import bind_bottom_up, bind_layers

    for transport in (UDP, TCP):
        for port in ports:
            bind_bottom_up(transport, MIKEY, dport=port)
            bind_bottom_up(transport, MIKEY, sport=port)
            bind_layers(transport, MIKEY, sport=port, dport=port)


bind_ports()


class MIKEY_Short(MIKEY_Malformed):
    """A message shorter than the 10-byte common header."""

    name = "Truncated MIKEY header"


def parse(data: bytes) -> Packet:
    """Dissect one MIKEY message; never raises on wire bytes.

    A message shorter than the common header, or one Scapy cannot dissect for
    any other reason, comes back as a raw layer carrying an issue.
    """
    data = bytes(data)
    if len(data) < HDR_LENGTH:
        pkt = MIKEY_Short(data)
        pkt.add_issue("mikey.malformed",
                      f"{len(data)} bytes: shorter than the {HDR_LENGTH}-byte common header")
        return pkt
    try:
        return MIKEY(data)
    except Exception as exc:  # robustness net: wire bytes must never raise
        pkt = MIKEY_Malformed(data)
        pkt.add_issue("mikey.malformed", f"undecodable message ({type(exc).__name__})")
        return pkt


def tree(pkt: Packet) -> list:
    """The message's dissection tree: :class:`Node` titles and :class:`Field_` s."""
    out: list = []
    for layer in iter_layers(pkt):
        walker = getattr(layer, "tree", None)
        if walker is not None:
            out.extend(walker(0))
    return out


def field_list(pkt: Packet) -> list[Field_]:
    """The message's fields in wire order (names may repeat)."""
    return [item for item in tree(pkt) if isinstance(item, Field_)]


def _field_spans(layer: Packet, raw: bytes) -> dict[str, tuple[int, int]]:
    """Byte span of each field in *layer*'s own bytes, by walking its fields again.

    Fields are re-read with ``getfield`` exactly as dissection read them (length
    and condition rules see the layer's values); bit fields cover the bytes they
    touch. The layer's issues are left as they were.
    """
    spans: dict[str, tuple[int, int]] = {}
    issues = getattr(layer, "issues", None)
    saved = list(issues) if issues is not None else None
    s: Any = raw
    try:
        for f in layer.fields_desc:
            before = len(s[0]) if isinstance(s, tuple) else len(s)
            bit_start = s[1] if isinstance(s, tuple) else 0
            s, _ = f.getfield(layer, s)
            after = len(s[0]) if isinstance(s, tuple) else len(s)
            start = len(raw) - before
            end = len(raw) - after + (1 if isinstance(s, tuple) and s[1] else 0)
            if end <= start and bit_start:
                end = start + 1
            spans[f.name] = (start, max(end, start))
    except Exception:  # noqa: BLE001 - a span is a nicety: a layer that resists has none
        pass
    finally:
        if saved is not None:
            issues[:] = saved
    return spans


def _own_span(name: str, spans: dict[str, tuple[int, int]],
              layer: Packet | None = None) -> tuple[int, int] | None:
    """The span of the layer field shown as *name*: the one its display map names
    (:attr:`~dissectors.mikey.base.MIKEYPacket.shows`), else one guessed from the name."""
    source = getattr(layer, "source_field", None)
    field = source(name) if source is not None else None
    if field is not None:
        span = spans.get(field)
        return span if span is not None and span[1] > span[0] else None
    for candidate in field_candidates(name):
        span = spans.get(candidate)
        if span is not None and span[1] > span[0]:
            return span
    return None


def _holds(raw: bytes, value: Any) -> bool:
    """Do these bytes plausibly carry this field value? (a guard on name matching)"""
    if isinstance(value, bool) or not raw:
        return bool(raw)
    if isinstance(value, int):
        return value < 256 ** len(raw) and (len(raw) == 1 or int.from_bytes(raw, "big") == value)
    if isinstance(value, str):
        try:
            return len(value) != 2 * len(raw) or bytes.fromhex(value) == raw
        except ValueError:
            return True  # text (an ID, a URI): shown where the layer put it
    return True


def tree_spans(pkt: Packet) -> list[tuple[Any, tuple[int, int] | None]]:
    """:func:`tree` with the byte span of each item in the message.

    A payload's title spans the payload; a field spans its own bytes where its
    name matches the layer's field (``mikey.kemac.mac`` and the layer's ``mac``),
    otherwise the payload it belongs to (sub-structures, derived values).
    """
    out: list[tuple[Any, tuple[int, int] | None]] = []
    off = 0
    for layer in iter_layers(pkt):
        raw = getattr(layer, "raw_packet_cache", None)
        if raw is None:
            raw = bytes(getattr(layer, "load", b"") or b"")
        whole = (off, off + len(raw))
        spans = _field_spans(layer, raw)
        walker = getattr(layer, "tree", None)
        if walker is not None:
            for item in walker(0):
                if isinstance(item, Field_):
                    # the layer's own fields; items of sub-structures (deeper) get the layer
                    own = _own_span(item.name, spans, layer) if item.depth <= 1 else None
                    if own is not None and not _holds(raw[own[0]:own[1]], item.value):
                        own = None  # a value derived elsewhere: show the payload instead
                    out.append((item, (off + own[0], off + own[1]) if own else whole))
                else:
                    out.append((item, whole))
        off += len(raw)
    return out
