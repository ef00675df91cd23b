"""General Extension payload, EXT (RFC 3830 §6.15) and the MBMS Key ID extension.

Layout: ``next payload | Type | Length (2) | Data``.

Type 3 (RFC 4563 §4) carries Key ID information for MBMS: a run of
``Key ID Type (1) | Key ID Length (1) | Key ID`` sub-payloads, type 0 the
Key Domain ID (3 bytes, MCC||MNC), 1 the MSK ID (4 bytes), 2 the MTK ID. Those
are shown as ``mikey.mbms.key_domain_id``, ``mikey.mbms.msk_id`` and
``mikey.mbms.mtk_id``. Type 1 (SDP IDs) is shown as text like Wireshark; type 4
(CSB_ID, RFC 4738) and type 5 (OMA BCAST, RFC 4909/5410) are decoded too.
The raw ``mikey.ext.data`` is always given, as Wireshark gives it.
"""

from __future__ import annotations

import struct
from typing import Iterator

from scapy.fields import (
    ByteEnumField,
    ConditionalField,
    FieldLenField,
    ShortField,
    XStrLenField,
)
from scapy.packet import Packet

from .base import (
    Field_,
    MIKEYPacket,
    MIKEYPayload,
    Node,
    Show,
    enum_display,
    hexstr,
    text_of,
)
from .constants import (
    EXT_TYPES,
    KEY_ID_TYPES,
    OMA_BCAST_SUBTYPES,
    PAYLOAD_TYPES,
)
from .fields import BoundedListField

#: Key ID type -> field name of its value (RFC 4563 §4 Table 1).
KEY_ID_FIELDS: dict[int, str] = {
    0: "mikey.mbms.key_domain_id",
    1: "mikey.mbms.msk_id",
    2: "mikey.mbms.mtk_id",
}

KEY_ID_EXT = 3


class MIKEY_KeyID(MIKEYPacket):
    """One Key ID sub-payload of the Key ID extension (RFC 4563 §4)."""

    name = "Key ID"
    fields_desc = [
        ByteEnumField("key_id_type", 0, KEY_ID_TYPES),
        FieldLenField("key_id_len", None, length_of="key_id", fmt="B"),
        XStrLenField("key_id", b"", length_from=lambda pkt: pkt.key_id_len),
    ]

    def tree(self, depth: int = 0) -> Iterator[Field_ | Node]:
        yield Node(f"Key ID: {KEY_ID_TYPES.get(self.key_id_type, 'Unknown')}", depth)
        d = depth + 1
        yield Field_("mikey.ext.key_id.type", self.key_id_type, "Key ID Type",
                     enum_display(KEY_ID_TYPES, self.key_id_type), depth=d)
        yield Field_("mikey.ext.key_id.len", self.key_id_len, "Key ID Length", depth=d)
        name = KEY_ID_FIELDS.get(self.key_id_type, "mikey.ext.key_id.value")
        label = KEY_ID_TYPES.get(self.key_id_type, "Key ID")
        yield Field_(name, hexstr(self.key_id), label, depth=d)


def _choose_key_id(pkt: Packet, items: list, rest: bytes):
    if len(rest) < 2:
        return MIKEY_KeyID, None
    return MIKEY_KeyID, 2 + rest[1]


class MIKEY_EXT(MIKEYPayload):
    """General Extension payload (RFC 3830 §6.15; RFC 4563 §4 for type 3)."""

    name = "EXT"
    payload_type = 21
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        ByteEnumField("ext_type", KEY_ID_EXT, EXT_TYPES),
        ShortField("ext_len", None),
        ConditionalField(
            BoundedListField("key_ids", _choose_key_id, length_from=lambda pkt: pkt.ext_len,
                             issue_code="mikey.key_id.malformed"),
            lambda pkt: pkt.ext_type == KEY_ID_EXT),
        ConditionalField(
            XStrLenField("ext_data", b"", length_from=lambda pkt: pkt.ext_len),
            lambda pkt: pkt.ext_type != KEY_ID_EXT),
    ]

    def data_bytes(self) -> bytes:
        """The Data field exactly as on the wire."""
        if self.ext_type == KEY_ID_EXT:
            return b"".join(bytes(k) for k in self.key_ids or [])
        return self.ext_data or b""

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.ext_len is None:
            pkt = pkt[:2] + struct.pack("!H", len(self.data_bytes())) + pkt[4:]
        return super().post_build(pkt, pay)

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        if len(buf) < 4:
            return 4
        return 4 + struct.unpack_from("!H", buf, 2)[0]

    def sub_packets(self) -> list[Packet]:
        return list(self.key_ids or []) if self.ext_type == KEY_ID_EXT else []

    def key_ids_by_type(self) -> dict[int, bytes]:
        """Key ID type -> value of a Key ID extension (first of each type)."""
        out: dict[int, bytes] = {}
        for kid in self.sub_packets():
            if isinstance(kid, MIKEY_KeyID):
                out.setdefault(kid.key_id_type, kid.key_id or b"")
        return out

    @property
    def title(self) -> str:
        return f"General Extension (EXT) Type: {EXT_TYPES.get(self.ext_type, 'Unknown')}"

    prefix = "mikey.ext"
    shows = (Show("ext_type", "type", "Extension type"), Show("ext_len", "len", "Length"),
             lambda pkt, d: _ext_data(pkt, d))


def _ext_data(pkt: Packet, d: int) -> Iterator[Field_ | Node]:
    """The extension's data, by its type (RFC 3830 §6.15, RFC 4563, RFC 6043)."""
    data = pkt.data_bytes()
    if pkt.ext_type == 1:
        yield Field_("mikey.ext.value", text_of(data), "Value", depth=d)
        return
    yield Field_("mikey.ext.data", hexstr(data), "Data", depth=d)
    if pkt.ext_type == KEY_ID_EXT:
        for kid in pkt.key_ids or []:
            yield from kid.tree(d)
    elif pkt.ext_type == 4 and len(data) == 4:
        csb = struct.unpack("!I", data)[0]
        yield Field_("mikey.ext.csb_id", csb, "Responder's CSB ID", f"0x{csb:08x}", depth=d)
    elif pkt.ext_type == 5 and data:
        yield Field_("mikey.ext.oma_bcast.subtype", data[0], "OMA BCAST subtype",
                     enum_display(OMA_BCAST_SUBTYPES, data[0]), depth=d)
        yield Field_("mikey.ext.oma_bcast.data", hexstr(data[1:]),
                     "Subtype specific data", depth=d)
