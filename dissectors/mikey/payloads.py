"""MIKEY payloads of RFC 3830 §6.2-§6.12, RFC 6043 §6 and RFC 6509 §4.2.

Each class cites its clause; ``wire_length`` follows digest §2.12. Each class
registers its payload type for the chain walk when it is defined
(:data:`dissectors.mikey.base.PAYLOAD_CLASSES`), and its display tree is its
``fields_desc`` shown through ``prefix`` and ``shows``
(:class:`dissectors.mikey.base.Show`).
"""

from __future__ import annotations

import struct
from typing import Iterator

from scapy.fields import (
    BitEnumField,
    BitField,
    ByteEnumField,
    ConditionalField,
    FieldLenField,
    ShortField,
    StrField,
    StrLenField,
    XStrFixedLenField,
    XStrLenField,
)
from scapy.packet import Packet

from .base import (
    Field_,
    MIKEY_Trailing,
    MIKEYPacket,
    MIKEYPayload,
    Node,
    Show,
    hexstr,
    text_of,
)
from .constants import (
    CERT_TYPES,
    DH_GROUPS,
    DH_LENGTHS,
    ENCR_ALGS,
    ERR_NOS,
    HASH_FUNCS,
    HASH_LENGTHS,
    ID_ROLES,
    ID_TYPES,
    KV_TYPES,
    MAC_ALGS,
    MAC_LENGTHS,
    PAYLOAD_TYPES,
    PK_DATA_TYPES,
    PKE_CACHE,
    RAND_ROLES,
    SAKKE_ID_SCHEMES,
    SAKKE_PARAMS,
    SIGN_TYPES,
    TS_LENGTHS,
    TS_ROLES,
    TS_TYPES,
)
from .fields import BoundedListField
from .keydata import MIKEY_KeyData, kv_data_length, kv_fields, kv_tree

#: Seconds between the NTP epoch (1900) and the Unix epoch (1970).
NTP_UNIX_OFFSET = 2_208_988_800


def _u16(buf: bytes, off: int) -> int | None:
    return struct.unpack_from("!H", buf, off)[0] if len(buf) >= off + 2 else None




# --------------------------------------------------------------------------- KEMAC


def _kemac_inner_first(pkt: Packet) -> int:
    """Type of the first sub-payload of a NULL KEMAC (digest §2.1)."""
    first = getattr(pkt, "inner_first", None)
    if first is not None:
        return first
    hdr = pkt.message_header() if hasattr(pkt, "message_header") else None
    if hdr is not None and getattr(hdr, "data_type", 0) in PK_DATA_TYPES:
        return 6
    return 20


def _choose_kemac_item(pkt: Packet, items: list, rest: bytes):
    if items:
        nxt = items[-1].next_payload
        if not nxt:
            return MIKEY_KeyChainRest, len(rest)
    else:
        nxt = _kemac_inner_first(pkt)
    cls = {20: MIKEY_KeyData, 6: MIKEY_ID}.get(nxt)
    if cls is None:
        return None
    return cls, cls.wire_length(rest)


class MIKEY_KEMAC(MIKEYPayload):
    """Key data transport payload, KEMAC (RFC 3830 §6.2).

    ``next payload | Encr alg | Encr data len (2) | Encr data | MAC alg | MAC``.
    With NULL encryption the Encr data is the Key data sub-payload chain
    (after an ID payload in public-key messages) and is dissected as
    ``key_data``; otherwise it is kept as the bytes ``encr_data``.
    """

    name = "KEMAC"
    payload_type = 1
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        ByteEnumField("encr_alg", 1, ENCR_ALGS),
        ShortField("encr_data_len", None),
        ConditionalField(
            BoundedListField("key_data", _choose_kemac_item,
                             length_from=lambda pkt: pkt.encr_data_len,
                             issue_code="mikey.kemac.key_data_malformed"),
            lambda pkt: pkt.encr_alg == 0),
        ConditionalField(
            XStrLenField("encr_data", b"", length_from=lambda pkt: pkt.encr_data_len),
            lambda pkt: pkt.encr_alg != 0),
        ByteEnumField("mac_alg", 1, MAC_ALGS),
        XStrLenField("mac", b"", length_from=lambda pkt: MAC_LENGTHS.get(pkt.mac_alg, 0)),
    ]

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.encr_data_len is None:
            pkt = pkt[:2] + struct.pack("!H", len(self._encr_bytes(self))) + pkt[4:]
        return super().post_build(pkt, pay)

    @staticmethod
    def _encr_bytes(pkt: Packet) -> bytes:
        if pkt.encr_alg == 0:
            return b"".join(bytes(p) for p in pkt.key_data or [])
        return pkt.encr_data or b""

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        elen = _u16(buf, 2)
        if elen is None:
            return 5
        n = 4 + elen
        if len(buf) <= n:
            return n + 1
        mac = MAC_LENGTHS.get(buf[n])
        return None if mac is None else n + 1 + mac

    def sub_packets(self) -> list[Packet]:
        return list(self.key_data or []) if self.encr_alg == 0 else []

    def encr_data_bytes(self) -> bytes:
        """The Encr data field exactly as on the wire."""
        return self._encr_bytes(self)

    prefix = "mikey.kemac"
    shows = (
        Show("encr_alg", "encr_alg", "Encr alg"),
        Show("encr_data_len", "key_data_len", "Key data len"),
        Show("encr_data", "key_data", "Key data",
             fmt=lambda pkt, _v: (hexstr(pkt.encr_data_bytes()), None),
             secret=lambda pkt: pkt.encr_alg == 0),  # the plaintext under NULL encryption
        lambda pkt, d: (item for sub in (pkt.key_data or [] if pkt.encr_alg == 0 else [])
                        for item in sub.tree(d)),
        Show("mac_alg", "mac_alg", "Mac alg"),
        Show("mac", "mac", "MAC"),
    )



class MIKEY_KeyChainRest(MIKEYPayload):
    """Bytes inside a NULL KEMAC after the sub-payload whose next payload is 0."""

    name = "Data after the last key data"
    fields_desc = [StrField("load", b"")]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.load:
            self.add_issue("mikey.kemac.key_data_malformed",
                           f"{len(self.load)} bytes after the last Key data sub-payload")

    def tree(self, depth: int = 0) -> Iterator[Field_ | Node]:
        yield Node(f"{self.name} ({len(self.load)} bytes)", depth)
        yield Field_("mikey.raw", hexstr(self.load), "Data", secret=True, depth=depth + 1)


class MIKEY_KeyDataChain(MIKEYPacket):
    """The plaintext of an encrypted KEMAC: Key data sub-payloads (after an ID in PK messages).

    Built by the decryption layer (:mod:`analyzer.crypto.kemac`), never found on the
    wire by itself (RFC 3830 §6.2).
    """

    name = "Decrypted key data"
    inner_first = 20
    fields_desc = [BoundedListField("key_data", _choose_kemac_item,
                                    issue_code="mikey.kemac.key_data_malformed")]

    def sub_packets(self) -> list[Packet]:
        return list(self.key_data or [])


class MIKEY_KeyDataChainPK(MIKEY_KeyDataChain):
    """Decrypted KEMAC data of a public-key message: an ID payload, then Key data."""

    inner_first = 6


def parse_key_data(data: bytes, public_key: bool = False) -> MIKEY_KeyDataChain:
    """Dissect decrypted KEMAC data; never raises (problems are the chain's issues)."""
    cls = MIKEY_KeyDataChainPK if public_key else MIKEY_KeyDataChain
    try:
        return cls(data)
    except Exception:  # robustness net: wire bytes never raise
        chain = cls()
        chain.add_issue("mikey.kemac.key_data_malformed", "undecodable key data")
        return chain


# --------------------------------------------------------------------------- PKE, DH, SIGN


class MIKEY_PKE(MIKEYPayload):
    """Envelope data payload, PKE (RFC 3830 §6.3): ``next | C:2 Data len:14 | Data``."""

    name = "PKE"
    payload_type = 2
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        BitEnumField("c", 0, 2, PKE_CACHE),
        BitField("data_len", None, 14),
        XStrLenField("data", b"", length_from=lambda pkt: pkt.data_len),
    ]

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.data_len is None:
            n = len(self.data or b"") & 0x3FFF
            pkt = pkt[:1] + struct.pack("!H", (pkt[1] & 0xC0) << 8 | n) + pkt[3:]
        return super().post_build(pkt, pay)

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        n = _u16(buf, 1)
        return 3 if n is None else 3 + (n & 0x3FFF)

    prefix = "mikey.pke"
    shows = (Show("c", "c", "C"), Show("data_len", "len", "Data len"), Show("data", "data", "Data"))


class MIKEY_DH(MIKEYPayload):
    """DH data payload (RFC 3830 §6.4): ``next | DH-Group | DH-value | Reserv:4 KV:4 | KV data``."""

    name = "DH"
    payload_type = 3
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        ByteEnumField("dh_group", 0, DH_GROUPS),
        XStrLenField("dh_value", b"", length_from=lambda pkt: DH_LENGTHS.get(pkt.dh_group, 0)),
        BitField("reserved", 0, 4),
        BitEnumField("kv", 0, 4, KV_TYPES),
    ] + kv_fields(0)

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        if len(buf) < 2:
            return 3
        glen = DH_LENGTHS.get(buf[1])
        if glen is None:
            return None
        n = 2 + glen
        if len(buf) <= n:
            return n + 1
        kvlen = kv_data_length(buf[n] & 0x0F, buf, n + 1)
        return None if kvlen is None else n + 1 + kvlen

    prefix = "mikey.dh"
    shows = (
        Show("dh_group", "group", "DH-Group"),
        Show("dh_value", "value", "DH-Value"),
        Show("reserved", "reserv", "Reserv", fmt=lambda _pkt, v: (v, f"0x{v:x}")),
        Show("kv", "kv", "KV"),
        kv_tree,
    )


class MIKEY_SIGN(MIKEYPayload):
    """Signature payload (RFC 3830 §6.5): ``S type:4 | Signature len:12 | Signature``.

    It has no next-payload byte and always ends the message.
    """

    name = "SIGN"
    payload_type = 4
    next_payload_offset = None
    fields_desc = [
        BitEnumField("s_type", 0, 4, SIGN_TYPES),
        BitField("sig_len", None, 12),
        XStrLenField("signature", b"", length_from=lambda pkt: pkt.sig_len),
    ]
    next_payload = 0  # for the chain walk: nothing may follow

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.sig_len is None:
            n = len(self.signature or b"") & 0x0FFF
            pkt = struct.pack("!H", (pkt[0] & 0xF0) << 8 | n) + pkt[2:]
        return pkt + pay

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        n = _u16(buf, 0)
        return 2 if n is None else 2 + (n & 0x0FFF)

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        return MIKEY_Trailing

    prefix = "mikey.sign"
    shows = (Show("s_type", "type", "Signature type"), Show("sig_len", "len", "Signature len"),
             Show("signature", "data", "Signature"))


# --------------------------------------------------------------------------- T, TR


def ts_fields(prefix: str, ts_type: int, value: bytes, depth: int) -> Iterator[Field_]:
    """Decoded timestamp value fields of a T or TR payload (RFC 3830 §6.6)."""
    if ts_type in (0, 1) and len(value) == 8:
        secs, frac = struct.unpack("!II", value)
        epoch = secs - NTP_UNIX_OFFSET + frac / 2**32
        yield Field_(f"{prefix}.ntp", value.hex(), "NTP timestamp", value.hex(), depth=depth)
        yield Field_(f"{prefix}.time", round(epoch, 9), "Time (Unix epoch)", depth=depth)
    elif ts_type == 2 and len(value) == 4:
        yield Field_(f"{prefix}.counter", struct.unpack("!I", value)[0], "Counter", depth=depth)
    elif ts_type == 3 and len(value) == 4:
        secs = struct.unpack("!I", value)[0]
        yield Field_(f"{prefix}.ntp_utc_32", secs, "NTP-UTC-32 seconds", depth=depth)
        yield Field_(f"{prefix}.time", secs - NTP_UNIX_OFFSET, "Time (Unix epoch)", depth=depth)


class MIKEY_T(MIKEYPayload):
    """Timestamp payload, T (RFC 3830 §6.6): ``next | TS type | TS value``."""

    name = "T"
    payload_type = 5
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        ByteEnumField("ts_type", 2, TS_TYPES),
        XStrLenField("ts_value", b"\x00" * 4, length_from=lambda pkt: TS_LENGTHS.get(pkt.ts_type, 0)),
    ]

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        if len(buf) < 2:
            return 2
        vlen = TS_LENGTHS.get(buf[1])
        return None if vlen is None else 2 + vlen

    @property
    def title(self) -> str:
        return f"Timestamp (T) Type: {TS_TYPES.get(self.ts_type, 'Unknown')}"

    prefix = "mikey.t"
    shows = (Show("ts_type", "ts_type", "TS type"),
             lambda pkt, d: ts_fields("mikey.t", pkt.ts_type, pkt.ts_value or b"", d))


class MIKEY_TR(MIKEYPayload):
    """Timestamp payload with role, TR (RFC 6043 §6.4): ``next | TS role | TS type | TS value``."""

    name = "TR"
    payload_type = 13
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        ByteEnumField("ts_role", 1, TS_ROLES),
        ByteEnumField("ts_type", 0, TS_TYPES),
        XStrLenField("ts_value", b"\x00" * 8, length_from=lambda pkt: TS_LENGTHS.get(pkt.ts_type, 0)),
    ]

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        if len(buf) < 3:
            return 3
        vlen = TS_LENGTHS.get(buf[2])
        return None if vlen is None else 3 + vlen

    prefix = "mikey.tr"
    shows = (Show("ts_role", "ts_role", "TS role"), Show("ts_type", "ts_type", "TS type"),
             lambda pkt, d: ts_fields("mikey.tr", pkt.ts_type, pkt.ts_value or b"", d))


# --------------------------------------------------------------------------- ID, IDR, CERT


def id_value(id_type: int, data: bytes) -> tuple[object, str]:
    """JSON value and display of ID data: text for NAI/URI, hex for byte strings."""
    if id_type in (0, 1):
        text = text_of(data)
        return text, text
    return hexstr(data), hexstr(data)


class MIKEY_ID(MIKEYPayload):
    """ID payload (RFC 3830 §6.7): ``next | ID type | ID len (2) | ID data``."""

    name = "ID"
    payload_type = 6
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        ByteEnumField("id_type", 1, ID_TYPES),
        FieldLenField("id_len", None, length_of="id_data", fmt="!H"),
        StrLenField("id_data", b"", length_from=lambda pkt: pkt.id_len),
    ]

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        n = _u16(buf, 2)
        return 4 if n is None else 4 + n

    @property
    def title(self) -> str:
        return f"ID {ID_TYPES.get(self.id_type, 'Unknown')}: {id_value(self.id_type, self.id_data or b'')[1]}"

    prefix = "mikey.id"
    shows = (Show("id_type", "type", "ID type"), Show("id_len", "len", "ID len"),
             Show("id_data", "data", "ID", fmt=lambda pkt, v: id_value(pkt.id_type, v or b"")))


class MIKEY_IDR(MIKEYPayload):
    """ID payload with role, IDR (RFC 6043 §6.6): ``next | ID role | ID type | ID len (2) | ID data``."""

    name = "IDR"
    payload_type = 14
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        ByteEnumField("id_role", 1, ID_ROLES),
        ByteEnumField("id_type", 1, ID_TYPES),
        FieldLenField("id_len", None, length_of="id_data", fmt="!H"),
        StrLenField("id_data", b"", length_from=lambda pkt: pkt.id_len),
    ]

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        n = _u16(buf, 3)
        return 5 if n is None else 5 + n

    prefix = "mikey.id"
    shows = (Show("id_role", "role", "ID role"), Show("id_type", "type", "ID type"),
             Show("id_len", "len", "ID len"),
             Show("id_data", "data", "ID", fmt=lambda pkt, v: id_value(pkt.id_type, v or b"")))


class MIKEY_CERT(MIKEYPayload):
    """Certificate payload, CERT (RFC 3830 §6.7): ``next | Cert type | Cert len (2) | Cert data``."""

    name = "CERT"
    payload_type = 7
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        ByteEnumField("cert_type", 0, CERT_TYPES),
        FieldLenField("cert_len", None, length_of="cert_data", fmt="!H"),
        XStrLenField("cert_data", b"", length_from=lambda pkt: pkt.cert_len),
    ]

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        n = _u16(buf, 2)
        return 4 if n is None else 4 + n

    @property
    def title(self) -> str:
        return f"Certificate (CERT) Type: {CERT_TYPES.get(self.cert_type, 'Unknown')}"

    prefix = "mikey.cert"
    shows = (
        Show("cert_type", "type", "Certificate type"),
        Show("cert_len", "len", "Certificate len"),
        lambda pkt, d: ([Field_("mikey.cert.url", text_of(pkt.cert_data or b""),
                                "Certificate URL", depth=d)] if pkt.cert_type == 1 else []),
        Show("cert_data", "data", "Certificate"),
    )


# --------------------------------------------------------------------------- CHASH, V, RAND, RANDR, ERR


class MIKEY_CHASH(MIKEYPayload):
    """Cert hash payload, CHASH (RFC 3830 §6.8; RFC 6043): ``next | Hash func | Hash``."""

    name = "CHASH"
    payload_type = 8
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        ByteEnumField("hash_func", 0, HASH_FUNCS),
        XStrLenField("hash", b"", length_from=lambda pkt: HASH_LENGTHS.get(pkt.hash_func, 0)),
    ]

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        if len(buf) < 2:
            return 2
        hlen = HASH_LENGTHS.get(buf[1])
        return None if hlen is None else 2 + hlen

    prefix = "mikey.chash"
    shows = (Show("hash_func", "hash_func", "Hash func"), Show("hash", "hash", "Hash"))


class MIKEY_V(MIKEYPayload):
    """Verification payload, V (RFC 3830 §6.9): ``next | Auth alg | Ver data``."""

    name = "V"
    payload_type = 9
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        ByteEnumField("auth_alg", 1, MAC_ALGS),
        XStrLenField("ver_data", b"", length_from=lambda pkt: MAC_LENGTHS.get(pkt.auth_alg, 0)),
    ]

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        if len(buf) < 2:
            return 2
        mlen = MAC_LENGTHS.get(buf[1])
        return None if mlen is None else 2 + mlen

    prefix = "mikey.v"
    shows = (Show("auth_alg", "auth_alg", "Auth alg"),
             Show("ver_data", "ver_data", "Verification data"))


class MIKEY_RAND(MIKEYPayload):
    """RAND payload (RFC 3830 §6.11): ``next | RAND len | RAND``."""

    name = "RAND"
    payload_type = 11
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        FieldLenField("rand_len", None, length_of="rand", fmt="B"),
        XStrLenField("rand", b"", length_from=lambda pkt: pkt.rand_len),
    ]

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        return 2 if len(buf) < 2 else 2 + buf[1]

    prefix = "mikey.rand"
    shows = (Show("rand_len", "len", "RAND len"), Show("rand", "data", "RAND"))


class MIKEY_RANDR(MIKEYPayload):
    """RAND payload with role, RANDR (RFC 6043 §6.8): ``next | RAND role | RAND len | RAND``."""

    name = "RANDR"
    payload_type = 15
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        ByteEnumField("rand_role", 1, RAND_ROLES),
        FieldLenField("rand_len", None, length_of="rand", fmt="B"),
        XStrLenField("rand", b"", length_from=lambda pkt: pkt.rand_len),
    ]

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        return 3 if len(buf) < 3 else 3 + buf[2]

    prefix = "mikey.randr"
    shows = (Show("rand_role", "role", "RAND role"), Show("rand_len", "len", "RAND len"),
             Show("rand", "data", "RAND"))


class MIKEY_ERR(MIKEYPayload):
    """Error payload, ERR (RFC 3830 §6.12): ``next | Error no | Reserved (2)``."""

    name = "ERR"
    payload_type = 12
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        ByteEnumField("err_no", 12, ERR_NOS),
        XStrFixedLenField("reserved", b"\x00\x00", 2),
    ]

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        return 4

    @property
    def title(self) -> str:
        return f"Error (ERR): {ERR_NOS.get(self.err_no, 'Unknown')}"

    prefix = "mikey.err"
    shows = (Show("err_no", "no", "Error no."), Show("reserved", "reserved", "Reserved"))


# --------------------------------------------------------------------------- SAKKE


class MIKEY_SAKKE(MIKEYPayload):
    """SAKKE payload (RFC 6509 §4.2): ``next | SAKKE params | ID scheme | data len (2) | data``."""

    name = "SAKKE"
    payload_type = 26
    fields_desc = [
        ByteEnumField("next_payload", None, PAYLOAD_TYPES),
        ByteEnumField("sakke_params", 1, SAKKE_PARAMS),
        ByteEnumField("id_scheme", 1, SAKKE_ID_SCHEMES),
        FieldLenField("sakke_len", None, length_of="sakke_data", fmt="!H"),
        XStrLenField("sakke_data", b"", length_from=lambda pkt: pkt.sakke_len),
    ]

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        n = _u16(buf, 3)
        return 5 if n is None else 5 + n

    prefix = "mikey.sakke"
    shows = (Show("sakke_params", "params", "SAKKE params"),
             Show("id_scheme", "idscheme", "ID scheme"),
             Show("sakke_len", "len", "SAKKE data length"),
             Show("sakke_data", "data", "SAKKE data"))
