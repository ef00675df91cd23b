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
    "Node", "all_issues", "field_list", "iter_layers", "parse", "tree",
]


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
