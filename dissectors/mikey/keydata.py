"""Key data sub-payload (type 20) and key validity data - RFC 3830 §6.13, §6.14.

Layout (digest §2.2)::

    next payload | Type:4 KV:4 | Key data len (2) | Key data
    | [Salt len (2) | Salt data]      -- only for the +SALT types (1, 3, 5)
    | [KV data]                      -- SPI: len (1) | SPI;  Interval: VF len | VF | VT len | VT

The KV data layouts are shared with the DH payload (RFC 3830 §6.4).
"""

from __future__ import annotations

import struct
from typing import Iterator

from scapy.fields import (
    BitEnumField,
    ByteEnumField,
    ConditionalField,
    FieldLenField,
    XStrLenField,
)

from .base import Field_, MIKEYPayload, Show, hexstr
from .constants import (
    KEY_DATA_TYPES,
    KV_TYPES,
    PAYLOAD_TYPES,
    SALTED_KEY_TYPES,
)


def kv_data_length(kv: int, buf: bytes, off: int) -> int | None:
    """Length of the KV data of type *kv* starting at *buf[off]* (RFC 3830 §6.14).

    Returns None for an unknown KV type; the result may run past *buf*.
    """
    if kv == 0:
        return 0
    if kv == 1:
        if len(buf) <= off:
            return 1
        return 1 + buf[off]
    if kv == 2:
        if len(buf) <= off:
            return 2
        from_len = buf[off]
        if len(buf) <= off + 1 + from_len:
            return 1 + from_len + 1
        return 1 + from_len + 1 + buf[off + 1 + from_len]
    return None


def kv_fields(kv: int) -> list:
    """The Scapy fields of KV data of the SPI and Interval kinds (RFC 3830 §6.14)."""
    return [
        ConditionalField(FieldLenField("spi_len", None, length_of="spi", fmt="B"),
                         lambda pkt: pkt.kv == 1),
        ConditionalField(XStrLenField("spi", b"", length_from=lambda pkt: pkt.spi_len),
                         lambda pkt: pkt.kv == 1),
        ConditionalField(FieldLenField("vf_len", None, length_of="valid_from", fmt="B"),
                         lambda pkt: pkt.kv == 2),
        ConditionalField(XStrLenField("valid_from", b"", length_from=lambda pkt: pkt.vf_len),
                         lambda pkt: pkt.kv == 2),
        ConditionalField(FieldLenField("vt_len", None, length_of="valid_to", fmt="B"),
                         lambda pkt: pkt.kv == 2),
        ConditionalField(XStrLenField("valid_to", b"", length_from=lambda pkt: pkt.vt_len),
                         lambda pkt: pkt.kv == 2),
    ]


def kv_tree(pkt, depth: int) -> Iterator[Field_]:
    """KV data fields with Wireshark's names (``mikey.key.kv.*``)."""
    if pkt.kv == 1:
        yield Field_("mikey.key.kv.spi.len", pkt.spi_len, "Valid SPI len", depth=depth)
        yield Field_("mikey.key.kv.spi", hexstr(pkt.spi), "Valid SPI", depth=depth)
    elif pkt.kv == 2:
        yield Field_("mikey.key.kv.from.len", pkt.vf_len, "Valid from len", depth=depth)
        yield Field_("mikey.key.kv.from", hexstr(pkt.valid_from), "Valid from", depth=depth)
        yield Field_("mikey.key.kv.to.len", pkt.vt_len, "Valid to len", depth=depth)
        yield Field_("mikey.key.kv.to", hexstr(pkt.valid_to), "Valid to", depth=depth)


class MIKEY_KeyData(MIKEYPayload):
    """Key data sub-payload (RFC 3830 §6.13): a TGK/TEK, optional salt and validity."""

    name = "Key data"
    payload_type = 20
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        BitEnumField("key_type", 0, 4, KEY_DATA_TYPES),
        BitEnumField("kv", 0, 4, KV_TYPES),
        FieldLenField("key_data_len", None, length_of="key_data", fmt="!H"),
        XStrLenField("key_data", b"", length_from=lambda pkt: pkt.key_data_len),
        ConditionalField(FieldLenField("salt_len", None, length_of="salt", fmt="!H"),
                         lambda pkt: pkt.key_type in SALTED_KEY_TYPES),
        ConditionalField(XStrLenField("salt", b"", length_from=lambda pkt: pkt.salt_len),
                         lambda pkt: pkt.key_type in SALTED_KEY_TYPES),
    ] + kv_fields(0)

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        if len(buf) < 4:
            return 4
        key_type, kv = buf[1] >> 4, buf[1] & 0x0F
        n = 4 + struct.unpack_from("!H", buf, 2)[0]
        if key_type in SALTED_KEY_TYPES:
            if len(buf) < n + 2:
                return n + 2
            n += 2 + struct.unpack_from("!H", buf, n)[0]
        kvlen = kv_data_length(kv, buf, n)
        return None if kvlen is None else n + kvlen

    @property
    def title(self) -> str:
        return f"Key data (KEY) Type: {KEY_DATA_TYPES.get(self.key_type, 'Unknown')}"

    prefix = "mikey.key"
    shows = (
        Show("key_type", "type", "Type"),
        Show("kv", "kv", "KV"),
        Show("key_data_len", "data.len", "Key data len"),
        Show("key_data", "data", "Key data", secret=True),
        lambda pkt, d: (Show("salt_len", "salt.len", "Salt key len").field_of(pkt, d),
                        Show("salt", "salt", "Salt key", secret=True).field_of(pkt, d))
        if pkt.key_type in SALTED_KEY_TYPES else (),
        lambda pkt, d: kv_tree(pkt, d),
    )
