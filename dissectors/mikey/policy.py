"""Security policy payload, SP (RFC 3830 §6.10) and its parameters.

Layout::

    next payload | Policy no | Prot type | Policy param length (2) | Policy params
    Policy param = Type (1) | Length (1) | Value

SRTP parameters (RFC 3830 Table 6.10.1.a, RFC 4771, RFC 7714) are decoded by
name with Wireshark's field names (``mikey.sp.encr_alg`` ...); others keep the
generic ``mikey.sp.param``. The parameter value field is ``mikey.sp.patam.value``,
spelled exactly as Wireshark registers it (``packet-mikey.c``), so that display
filters written for Wireshark work here too; the TUI's filter also accepts the
corrected spelling ``mikey.sp.param.value``.
"""

from __future__ import annotations

import struct
from typing import Iterator

from scapy.fields import (
    ByteEnumField,
    ByteField,
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
)
from .constants import (
    PAYLOAD_TYPES,
    SP_PROT_TYPES,
    SRTP_POLICY_PARAMS,
    SRTP_POLICY_VALUE_NAMES,
)
from .fields import BoundedListField

#: TESLA policy parameter names (RFC 4442 §4.3).
TESLA_POLICY_PARAMS: dict[int, str] = {
    1: "PRF for f and f'",
    2: "PRF f' output length",
    3: "TESLA MAC",
    4: "MAC output length",
    5: "Start of session",
    6: "Interval duration",
    7: "Key disclosure delay",
    8: "Key chain length",
    9: "Local timestamp at media receiver",
}


class MIKEY_SPParam(MIKEYPacket):
    """One policy parameter TLV of an SP payload (RFC 3830 §6.10)."""

    name = "Policy param"
    fields_desc = [
        ByteField("type", 0),
        FieldLenField("length", None, length_of="value", fmt="B"),
        XStrLenField("value", b"", length_from=lambda pkt: pkt.length),
    ]

    def prot_type(self) -> int:
        parent = self.parent
        return getattr(parent, "prot_type", 0) if parent is not None else 0

    def tree(self, depth: int = 0) -> Iterator[Field_ | Node]:
        value = self.value or b""
        prot = self.prot_type()
        if prot == 0 and self.type in SRTP_POLICY_PARAMS:
            label, ws_name = SRTP_POLICY_PARAMS[self.type]
        elif prot == 1 and self.type in TESLA_POLICY_PARAMS:
            label, ws_name = TESLA_POLICY_PARAMS[self.type], None
        else:
            label, ws_name = f"Unknown parameter {self.type}", None
        if ws_name is not None and len(value) == 1:
            names = SRTP_POLICY_VALUE_NAMES.get(self.type)
            shown = enum_display(names, value[0]) if names else str(value[0])
            yield Field_(ws_name, value[0], label, shown, depth=depth)
        elif ws_name is not None and 1 < len(value) <= 4:
            number = int.from_bytes(value, "big")
            yield Field_(ws_name, number, label, depth=depth)
        else:
            yield Field_("mikey.sp.param", hexstr(value), label, depth=depth)
        d = depth + 1
        yield Field_("mikey.sp.param.type", self.type, "Type", depth=d)
        yield Field_("mikey.sp.param.len", self.length, "Length", depth=d)
        yield Field_("mikey.sp.patam.value", hexstr(value), "Value", depth=d)


def _choose_param(pkt: Packet, items: list, rest: bytes):
    if len(rest) < 2:
        return MIKEY_SPParam, None
    return MIKEY_SPParam, 2 + rest[1]


class MIKEY_SP(MIKEYPayload):
    """Security policy payload, SP (RFC 3830 §6.10)."""

    name = "SP"
    payload_type = 10
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        ByteField("policy_no", 0),
        ByteEnumField("prot_type", 0, SP_PROT_TYPES),
        ShortField("param_len", None),
        BoundedListField("params", _choose_param, length_from=lambda pkt: pkt.param_len,
                         issue_code="mikey.sp.malformed"),
    ]

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.param_len is None:
            n = sum(len(bytes(p)) for p in self.params or [])
            pkt = pkt[:3] + struct.pack("!H", n) + pkt[5:]
        return super().post_build(pkt, pay)

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        if len(buf) < 5:
            return 5
        return 5 + struct.unpack_from("!H", buf, 3)[0]

    def sub_packets(self) -> list[Packet]:
        return list(self.params or [])

    @property
    def title(self) -> str:
        return (f"Security Policy (SP) No: {self.policy_no}, "
                f"Type: {SP_PROT_TYPES.get(self.prot_type, 'Unknown')}")

    prefix = "mikey.sp"
    shows = (
        Show("policy_no", "no", "Policy No"),
        Show("prot_type", "proto_type", "Protocol Type"),
        Show("param_len", "param_len", "Policy param length"),
        lambda pkt, d: (item for param in pkt.params or [] for item in param.tree(d)),
    )
