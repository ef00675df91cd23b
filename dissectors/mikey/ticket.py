"""Ticket Policy (TP) and Ticket (TICKET) payloads - RFC 6043 §6.10.

Both share the head::

    next payload | Ticket Type (2) | Subtype | Version | PRF Func:7 flags D..O:12 Res:5
    | TP Data length (2) | TP Data

and TICKET adds ``Ticket Data length (2) | Ticket Data | Initiator Data length (2)
| Initiator Data``.
"""

from __future__ import annotations

import struct
from typing import Iterator

from scapy.fields import (
    BitEnumField,
    BitField,
    ByteEnumField,
    ByteField,
    FieldLenField,
    FlagsField,
    ShortEnumField,
    XStrLenField,
)

from .base import Field_, MIKEYPayload, Node, enum_display, hexstr
from .constants import PAYLOAD_TITLES, PAYLOAD_TYPES, PRF_FUNCS

#: Ticket Type (RFC 6043 Table 6.15).
TICKET_TYPES: dict[int, str] = {1: "MIKEY Base Ticket", 2: "3GPP Base Ticket"}

#: The twelve TP flags in wire order (RFC 6043 §6.10), most significant first.
TP_FLAGS = "DEFGHIJKLMNO"


def _tp_head() -> list:
    return [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        ShortEnumField("ticket_type", 1, TICKET_TYPES),
        ByteField("subtype", 1),
        ByteField("version", 1),
        BitEnumField("prf_func", 0, 7, PRF_FUNCS),
        FlagsField("flags", 0, 12, list(reversed(TP_FLAGS))),
        BitField("reserved", 0, 5),
        FieldLenField("tp_data_len", None, length_of="tp_data", fmt="!H"),
        XStrLenField("tp_data", b"", length_from=lambda pkt: pkt.tp_data_len),
    ]


def _tp_head_length(buf: bytes) -> int:
    if len(buf) < 10:
        return 10
    return 10 + struct.unpack_from("!H", buf, 8)[0]


class MIKEY_TP(MIKEYPayload):
    """Ticket Policy payload, TP (RFC 6043 §6.10)."""

    name = "TP"
    payload_type = 16
    fields_desc = _tp_head()

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        return _tp_head_length(buf)

    def tree(self, depth: int = 0) -> Iterator[Field_ | Node]:
        yield Node(self.title, depth)
        yield from _tp_tree(self, "mikey.tp", depth + 1)


class MIKEY_TICKET(MIKEYPayload):
    """Ticket payload, TICKET (RFC 6043 §6.10)."""

    name = "TICKET"
    payload_type = 17
    fields_desc = _tp_head() + [
        FieldLenField("ticket_data_len", None, length_of="ticket_data", fmt="!H"),
        XStrLenField("ticket_data", b"", length_from=lambda pkt: pkt.ticket_data_len),
        FieldLenField("initiator_data_len", None, length_of="initiator_data", fmt="!H"),
        XStrLenField("initiator_data", b"", length_from=lambda pkt: pkt.initiator_data_len),
    ]

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        n = _tp_head_length(buf)
        if len(buf) < n + 2:
            return n + 4
        n += 2 + struct.unpack_from("!H", buf, n)[0]
        if len(buf) < n + 2:
            return n + 2
        return n + 2 + struct.unpack_from("!H", buf, n)[0]

    def tree(self, depth: int = 0) -> Iterator[Field_ | Node]:
        yield Node(self.title, depth)
        d = depth + 1
        yield from _tp_tree(self, "mikey.ticket", d)
        yield Field_("mikey.ticket.data_len", self.ticket_data_len, "Ticket Data length", depth=d)
        yield Field_("mikey.ticket.data", hexstr(self.ticket_data), "Ticket Data", depth=d)
        yield Field_("mikey.ticket.initiator_data_len", self.initiator_data_len,
                     "Initiator Data length", depth=d)
        yield Field_("mikey.ticket.initiator_data", hexstr(self.initiator_data),
                     "Initiator Data", depth=d)


def _tp_tree(pkt, prefix: str, d: int) -> Iterator[Field_]:
    yield Field_("mikey.next_payload", pkt.next_payload, "Next Payload",
                 enum_display(PAYLOAD_TITLES, pkt.next_payload), depth=d)
    yield Field_(f"{prefix}.ticket_type", pkt.ticket_type, "Ticket Type",
                 enum_display(TICKET_TYPES, pkt.ticket_type), depth=d)
    yield Field_(f"{prefix}.subtype", pkt.subtype, "Subtype", depth=d)
    yield Field_(f"{prefix}.version", pkt.version, "Version", depth=d)
    yield Field_(f"{prefix}.prf_func", pkt.prf_func, "PRF Func",
                 enum_display(PRF_FUNCS, pkt.prf_func), depth=d)
    flags = int(pkt.flags)
    set_names = [TP_FLAGS[i] for i in range(12) if flags & (1 << (11 - i))]
    yield Field_(f"{prefix}.flags", flags, "Flags", f"0x{flags:03x} ({''.join(set_names) or 'none'})",
                 depth=d)
    yield Field_(f"{prefix}.data_len", pkt.tp_data_len, "TP Data length", depth=d)
    yield Field_(f"{prefix}.data", hexstr(pkt.tp_data), "TP Data", depth=d)
