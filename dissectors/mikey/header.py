"""MIKEY common header (HDR) and its CS ID map - RFC 3830 §6.1.

Layout (digest §1)::

    version | data type | next payload | V:1 PRF func:7 | CSB ID (4) | #CS | CS ID map type
    | CS ID map info

CS ID map info, by map type:

* 0 SRTP-ID (RFC 3830 §6.1.1): #CS entries ``Policy_no | SSRC (4) | ROC (4)``;
* 1 Empty map (RFC 4563 §5): no bytes;
* 2 GENERIC-ID (RFC 6043 §6.1.1): #CS blocks ``CS ID | Prot type | S:1 #P:7 |
  Policy_no x #P | Session Data Length (2) | Session Data | SPI Length | SPI``,
  Session Data for SRTP being ``SSRC (4) [ROC (4) SEQ (2)]`` (ROC and SEQ when S=1).
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
    FieldListField,
    IntField,
    XIntField,
    XStrLenField,
)
from scapy.packet import Packet

from .base import Field_, MIKEY_Malformed, MIKEYPayload, Node, enum_display, hexstr
from .constants import (
    CS_ID_MAP_TYPES,
    DATA_TYPES,
    PAYLOAD_TITLES,
    PAYLOAD_TYPES,
    PRF_FUNCS,
    SP_PROT_TYPES,
)
from .fields import BoundedListField

HDR_LENGTH = 10


class MIKEY_SRTP_ID(MIKEYPayload):
    """One SRTP-ID map entry (RFC 3830 §6.1.1): the crypto session is its index."""

    name = "SRTP ID"
    fields_desc = [
        ByteField("policy_no", 0),
        XIntField("ssrc", 0),
        IntField("roc", 0),
    ]

    def tree(self, depth: int = 0) -> Iterator[Field_ | Node]:
        yield Node(f"SRTP ID: Policy: {self.policy_no}, SSRC: 0x{self.ssrc:x}, "
                   f"ROC: 0x{self.roc:x}", depth)
        d = depth + 1
        yield Field_("mikey.srtp_id.policy_no", self.policy_no, "Policy", depth=d)
        yield Field_("mikey.srtp_id.ssrc", self.ssrc, "SSRC", f"0x{self.ssrc:08x}", depth=d)
        yield Field_("mikey.srtp_id.roc", self.roc, "ROC", f"0x{self.roc:08x}", depth=d)


class MIKEY_GENERIC_ID(MIKEYPayload):
    """One GENERIC-ID map block (RFC 6043 §6.1.1)."""

    name = "GENERIC ID"
    fields_desc = [
        ByteField("cs_id", 1),
        ByteEnumField("prot_type", 0, SP_PROT_TYPES),
        BitField("s", 0, 1),
        BitField("num_policies", None, 7),
        FieldListField("policy_nos", [], ByteField("", 0),
                       count_from=lambda pkt: pkt.num_policies),
        FieldLenField("session_data_len", None, length_of="session_data", fmt="!H"),
        XStrLenField("session_data", b"", length_from=lambda pkt: pkt.session_data_len),
        FieldLenField("spi_len", None, length_of="spi", fmt="B"),
        XStrLenField("spi", b"", length_from=lambda pkt: pkt.spi_len),
    ]

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        # #P (bits 6..0 of byte 2, beside the S flag) counts the policy list.
        if self.num_policies is None:
            pkt = pkt[:2] + bytes([(pkt[2] & 0x80) | (len(self.policy_nos) & 0x7F)]) + pkt[3:]
        return pkt + pay

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        if len(buf) < 3:
            return 3 + 2 + 1
        n = 3 + (buf[2] & 0x7F)
        if len(buf) < n + 2:
            return n + 2 + 1
        n += 2 + struct.unpack_from("!H", buf, n)[0]
        if len(buf) < n + 1:
            return n + 1
        return n + 1 + buf[n]

    def tree(self, depth: int = 0) -> Iterator[Field_ | Node]:
        yield Node(f"GENERIC ID: CS ID {self.cs_id}", depth)
        d = depth + 1
        yield Field_("mikey.generic_id.cs_id", self.cs_id, "CS ID", depth=d)
        yield Field_("mikey.generic_id.prot_type", self.prot_type, "Prot type",
                     enum_display(SP_PROT_TYPES, self.prot_type), depth=d)
        yield Field_("mikey.generic_id.s", self.s, "S (ROC and SEQ present)", depth=d)
        yield Field_("mikey.generic_id.num_policies", self.num_policies, "#P", depth=d)
        for no in self.policy_nos:
            yield Field_("mikey.generic_id.policy_no", no, "Policy no", depth=d)
        yield Field_("mikey.generic_id.session_data_len", self.session_data_len,
                     "Session Data Length", depth=d)
        data = self.session_data or b""
        yield Field_("mikey.generic_id.session_data", hexstr(data), "Session Data", depth=d)
        if self.prot_type == 0:
            yield from _srtp_session_data(data, self.s, d + 1)
        yield Field_("mikey.generic_id.spi_len", self.spi_len, "SPI Length", depth=d)
        yield Field_("mikey.generic_id.spi", hexstr(self.spi), "SPI (MKI)", depth=d)


def _srtp_session_data(data: bytes, s_flag: int, depth: int) -> Iterator[Field_]:
    """SRTP Session Data of a GENERIC-ID block: SSRC [ROC SEQ] (RFC 6043 §6.1.1)."""
    if len(data) >= 4:
        ssrc = struct.unpack_from("!I", data)[0]
        yield Field_("mikey.generic_id.ssrc", ssrc, "SSRC", f"0x{ssrc:08x}", depth=depth)
    if s_flag and len(data) >= 10:
        roc, seq = struct.unpack_from("!IH", data, 4)
        yield Field_("mikey.generic_id.roc", roc, "ROC", depth=depth)
        yield Field_("mikey.generic_id.seq", seq, "SEQ", depth=depth)


def _choose_map_entry(pkt: Packet, items: list, rest: bytes):
    if pkt.cs_id_map_type == 0:
        return MIKEY_SRTP_ID, 9
    if pkt.cs_id_map_type == 2:
        return MIKEY_GENERIC_ID, MIKEY_GENERIC_ID.wire_length(rest)
    return None


def _map_count(pkt: Packet) -> int:
    if pkt.cs_id_map_type in (0, 2):
        return pkt.cs_count or 0
    return 0


class MIKEY(MIKEYPayload):
    """MIKEY message: the common header (RFC 3830 §6.1), first layer of the chain."""

    name = "MIKEY"
    payload_type = -1
    next_payload_offset = 2
    fields_desc = [
        ByteField("version", 1),
        ByteEnumField("data_type", 0, DATA_TYPES),
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        BitField("v", 0, 1),
        BitEnumField("prf_func", 0, 7, PRF_FUNCS),
        XIntField("csb_id", 0),
        ByteField("cs_count", None),
        ByteEnumField("cs_id_map_type", 0, CS_ID_MAP_TYPES),
        BoundedListField("cs_map", _choose_map_entry, count_from=_map_count,
                         issue_code="mikey.cs_map_mismatch"),
    ]

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        return HDR_LENGTH

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.cs_count is None:
            pkt = pkt[:8] + bytes([len(self.cs_map or [])]) + pkt[9:]
        return super().post_build(pkt, pay)

    def post_dissection(self, pkt: Packet) -> None:
        if self.version != 1:
            self.add_issue("mikey.bad_version", f"version {self.version}, expected 1",
                           "warning")
        if self.cs_id_map_type not in (0, 1, 2) and self.cs_count:
            self.add_issue("mikey.cs_map_mismatch",
                           f"CS ID map type {self.cs_id_map_type} unknown: "
                           f"{self.cs_count} entries cannot be sized")

    def do_dissect_payload(self, s: bytes) -> None:
        if self.cs_id_map_type not in (0, 1, 2) and self.cs_count and s:
            pkt = MIKEY_Malformed(s, _internal=1, _underlayer=self)
            pkt.describe(self.next_payload)
            self.add_payload(pkt)
            return
        super().do_dissect_payload(s)

    def sub_packets(self) -> list[Packet]:
        return list(self.cs_map or [])

    def tree(self, depth: int = 0) -> Iterator[Field_ | Node]:
        yield Node(f"Common Header (HDR) Type: {DATA_TYPES.get(self.data_type, 'Unknown')}",
                   depth)
        d = depth + 1
        yield Field_("mikey.version", self.version, "Version", depth=d)
        yield Field_("mikey.type", self.data_type, "Data Type",
                     enum_display(DATA_TYPES, self.data_type), depth=d)
        yield Field_("mikey.next_payload", self.next_payload, "Next Payload",
                     enum_display(PAYLOAD_TITLES, self.next_payload), depth=d)
        yield Field_("mikey.v.set", self.v, "V", "Set" if self.v else "Not set", depth=d)
        yield Field_("mikey.prf_func", self.prf_func, "PRF func",
                     enum_display(PRF_FUNCS, self.prf_func), depth=d)
        yield Field_("mikey.csb_id", self.csb_id, "CSB ID", f"0x{self.csb_id:08x}", depth=d)
        yield Field_("mikey.cs_count", self.cs_count, "#CS", depth=d)
        yield Field_("mikey.cs_id_map_type", self.cs_id_map_type, "CS ID map type",
                     enum_display(CS_ID_MAP_TYPES, self.cs_id_map_type), depth=d)
        for entry in self.cs_map or []:
            yield from entry.tree(d)
