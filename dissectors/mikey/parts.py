"""What a receiver reads of a dissected MIKEY message, in one walk (RFC 3830 §6).

The key hierarchy (checking MACs, decrypting KEMACs) and the typed facts the
analysis observes both start from these parts, so a payload that matters to
either is read here and only here. Where a message repeats a payload, the
first one counts (a receiver parses in order; TS 33.246 §6.4 messages carry
each once).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from scapy.packet import Packet

from .base import iter_layers
from .extension import KEY_ID_EXT, MIKEY_EXT
from .header import MIKEY
from .payloads import MIKEY_ID, MIKEY_IDR, MIKEY_KEMAC, MIKEY_RAND, MIKEY_T, MIKEY_V
from .policy import MIKEY_SP

#: RFC 3830 §6.6 TS type of a 32-bit counter
TS_COUNTER = 2


@dataclass
class MessageParts:
    """The parts of one message that keys and flows depend on.

    Attributes:
        header: the common header (None: the message did not parse that far).
        timestamp: the first T payload's (TS type, TS value).
        counter: the first T payload with a counter (TS type 2), as a number.
        rand: the first RAND payload's value.
        ids: every ID / IDR payload's (ID type, ID data), in order.
        key_ids: the first Key ID extension (RFC 4563): Key ID type -> value.
        kemac: the first KEMAC payload.
        v: the first verification (V) payload.
        srtp_policy: the first SRTP security policy (SP, protocol 0): type -> value.
    """

    header: MIKEY | None = None
    timestamp: tuple[int, bytes] | None = None
    counter: int | None = None
    rand: bytes | None = None
    ids: list[tuple[int, bytes]] = field(default_factory=list)
    key_ids: dict[int, bytes] | None = None
    kemac: MIKEY_KEMAC | None = None
    v: MIKEY_V | None = None
    srtp_policy: dict[int, bytes] | None = None


def message_parts(msg: Packet) -> MessageParts:
    """The :class:`MessageParts` of a message from :func:`dissectors.mikey.parse`."""
    out = MessageParts(msg if isinstance(msg, MIKEY) else None)
    for layer in iter_layers(msg):
        if isinstance(layer, MIKEY_T):
            value = layer.ts_value or b""
            if out.timestamp is None:
                out.timestamp = (layer.ts_type, value)
            if out.counter is None and layer.ts_type == TS_COUNTER and len(value) == 4:
                out.counter = struct.unpack("!I", value)[0]
        elif isinstance(layer, MIKEY_RAND):
            if out.rand is None:
                out.rand = layer.rand or b""
        elif isinstance(layer, (MIKEY_ID, MIKEY_IDR)):
            out.ids.append((layer.id_type, layer.id_data or b""))
        elif isinstance(layer, MIKEY_EXT):
            if layer.ext_type == KEY_ID_EXT and out.key_ids is None:
                out.key_ids = layer.key_ids_by_type()
        elif isinstance(layer, MIKEY_KEMAC):
            if out.kemac is None:
                out.kemac = layer
        elif isinstance(layer, MIKEY_V):
            if out.v is None:
                out.v = layer
        elif isinstance(layer, MIKEY_SP):
            if layer.prot_type == 0 and out.srtp_policy is None:
                out.srtp_policy = {p.type: bytes(p.value or b"") for p in layer.params or []}
    return out
