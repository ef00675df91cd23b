"""OMA DRM v2.0 DCF (OMA-TS-DRM-DCF-V2_0), as MBMS download protection uses it
(TS 33.246 §6.6.3.2): the container format of a protected downloaded file.

Boxes (ISO base media file format: ``size(32) | type(4) [| largesize(64)]``;
a FullBox adds ``version(8) | flags(24)``)::

    ftyp                 major brand 'odcf', minor version 2 = MBMS download data
    odrm  (FullBox)      one per protected content object
      odhe (FullBox)     ContentTypeLength(8) | ContentType | ohdr | other boxes
        ohdr (FullBox)   EncryptionMethod(8) | PaddingScheme(8) | PlaintextLength(64) |
                         ContentIDLength(16) | RightsIssuerURLLength(16) |
                         TextualHeadersLength(16) | ContentID | RightsIssuerURL |
                         TextualHeaders (NUL-terminated "name:value") | ExtendedHeaders
          obki (FullBox) OMA BCAST key info: MBMS KeyIDType 0x02,
                         KeyID = base64(Key Domain ID || MSK ID || MTK ID)
          grpi (FullBox) group key (unused by MBMS)
      odda (FullBox)     DataLength(64) | Data (IV or initial counter, then ciphertext)
    mdri                 mutable DRM information; in MBMS holds odfs (FullBox):
                         SignatureMethod(8: 0 NULL, 1 HMAC-SHA1) | Signature

EncryptionMethod: 0 NULL, 1 AES_128_CBC (IV = first 16 data bytes, RFC 2630
padding), 2 AES_128_CTR (initial counter = first 16 data bytes); PaddingScheme
0 none, 1 RFC 2630. Sources: TS 33.246 §6.6.3.2 (minor version, odfs, obki use)
[C]; the DCF box layouts as Bento4 implements them [S]; the ``obki`` field
layout itself (OMA DRM XBS) was not available - see :func:`_obki` [U].

Never raises: lengths that lie are issues, the bytes are kept.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass, field

from dissectors.issues import Issue
from dissectors.mikey.base import Field_, Node, enum_display

ENCRYPTION_METHODS = {0: "NULL", 1: "AES_128_CBC", 2: "AES_128_CTR", 3: "AES_128_BYTE_CTR",
                      4: "MPEG-2 TS"}
PADDING_SCHEMES = {0: "none", 1: "RFC 2630"}
SIGNATURE_METHODS = {0: "NULL", 1: "HMAC-SHA1"}
#: KeyIDType that OMA BCAST reserves for 3GPP MBMS (TS 33.246 §6.6.3.2).
MBMS_KEY_ID_TYPE = 0x02
#: Most boxes read in one file, and the deepest nesting.
MAX_BOXES = 256
MAX_DEPTH = 6
_B64 = re.compile(rb"[A-Za-z0-9+/]{12}(?:==|[A-Za-z0-9+/]{4})?")


@dataclass
class DcfContainer:
    """One ``odrm`` box: the headers of a content object and where its data lies."""

    content_type: str = ""
    encryption_method: int | None = None
    padding_scheme: int | None = None
    plaintext_length: int | None = None
    content_id: str = ""
    rights_issuer_url: str = ""
    textual_headers: list[tuple[str, str]] = field(default_factory=list)
    key_id_type: int | None = None
    key_id: bytes | None = None          # decoded: Key Domain ID || MSK ID || MTK ID
    key_issuer_url: str = ""
    data_offset: int = 0                 # in the file, of the odda data
    data_length: int = 0
    signature_method: int | None = None
    signature: bytes = b""

    @property
    def mtk(self) -> tuple[str, str, str] | None:
        """(Key Domain ID, MSK ID, MTK ID) in hex, when the KeyID is MBMS's 3+4+2 bytes."""
        k = self.key_id
        if k is None or len(k) != 9:
            return None
        return k[:3].hex(), k[3:7].hex(), k[7:9].hex()


@dataclass
class Dcf:
    """A parsed DCF file."""

    major_brand: str = ""
    minor_version: int | None = None
    compatible: list[str] = field(default_factory=list)
    containers: list[DcfContainer] = field(default_factory=list)
    #: file offset of the top-level ``mdri`` box (None: there is none); the bytes
    #: before it are what the odfs signature covers ([U], TS 33.246 §6.6.3.2)
    mdri_offset: int | None = None
    items: list = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def is_dcf(self) -> bool:
        return self.major_brand == "odcf" or "odcf" in self.compatible

    @property
    def mbms(self) -> bool:
        """Minor version 2: MBMS download data (TS 33.246 §6.6.3.2)."""
        return self.minor_version == 2


def looks_like_dcf(data: bytes) -> bool:
    """An ``ftyp`` box first whose brands name ``odcf``."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return False
    size = int.from_bytes(data[:4], "big")
    return 16 <= size <= min(len(data), 4096) and b"odcf" in data[8:size]


def _boxes(data: bytes, start: int, end: int, issues: list[Issue], budget: list[int]):
    """``(type, body start, body end, box start)`` of the boxes in ``data[start:end]``."""
    pos = start
    while pos < end:
        if budget[0] <= 0:
            issues.append(Issue("dcf.too_many_boxes", f"over {MAX_BOXES} boxes: the rest is "
                                "not read"))
            return
        budget[0] -= 1
        if end - pos < 8:
            issues.append(Issue("dcf.malformed", f"{end - pos} stray bytes at offset {pos}"))
            return
        size = int.from_bytes(data[pos:pos + 4], "big")
        btype = data[pos + 4:pos + 8].decode("latin-1")
        head = 8
        if size == 1:
            if end - pos < 16:
                issues.append(Issue("dcf.malformed", f"box {btype!r} at {pos}: no room for its "
                                    "64-bit size"))
                return
            size = int.from_bytes(data[pos + 8:pos + 16], "big")
            head = 16
        elif size == 0:
            size = end - pos  # to the end of the enclosing space
        if size < head or pos + size > end:
            issues.append(Issue("dcf.bad_length", f"box {btype!r} at offset {pos} says "
                                f"{size} bytes; {end - pos} are there"))
            yield btype, pos + head, end, pos, True
            return
        yield btype, pos + head, pos + size, pos, False
        pos += size


def parse_dcf(data: bytes) -> Dcf:
    """Parse a DCF file's boxes and headers; never raises."""
    dcf = Dcf()
    budget = [MAX_BOXES]
    add = dcf.items.append
    add(Node("OMA DRM Content Format (DCF)", -1))
    for btype, body, end, at, cut in _boxes(data, 0, len(data), dcf.issues, budget):
        if btype == "ftyp" and end - body >= 8:
            dcf.major_brand = data[body:body + 4].decode("latin-1")
            dcf.minor_version = int.from_bytes(data[body + 4:body + 8], "big")
            dcf.compatible = [data[p:p + 4].decode("latin-1")
                              for p in range(body + 8, end - 3, 4)][:32]
            add(Field_("oma_dcf.major_brand", dcf.major_brand, "Major brand"))
            add(Field_("oma_dcf.minor_version", dcf.minor_version, "Minor version",
                       f"{dcf.minor_version}" + (" (MBMS download data)"
                                                 if dcf.minor_version == 2 else "")))
        elif btype == "odrm" and end - body >= 4:
            container = DcfContainer()
            dcf.containers.append(container)
            add(Node(f"OMA DRM container #{len(dcf.containers)}", 0))
            _odrm(data, body + 4, end, container, dcf, budget)
        elif btype == "mdri":
            if dcf.mdri_offset is None:
                dcf.mdri_offset = at
            _mdri(data, body, end, dcf, budget)
        if cut:
            break
    if not dcf.is_dcf:
        dcf.issues.append(Issue("dcf.not_dcf", "no ftyp box with brand 'odcf'", "warning"))
    elif not dcf.containers:
        dcf.issues.append(Issue("dcf.malformed", "a DCF without an odrm container"))
    return dcf


def _odrm(data: bytes, start: int, end: int, c: DcfContainer, dcf: Dcf, budget: list[int]):
    add, issues = dcf.items.append, dcf.issues
    for btype, body, bend, _at, cut in _boxes(data, start, end, issues, budget):
        if btype == "odhe" and bend - body >= 5:
            n = data[body + 4]
            c.content_type = data[body + 5:min(body + 5 + n, bend)].decode("utf-8", "replace")
            add(Field_("oma_dcf.content_type", c.content_type, "Content type", depth=1))
            if body + 5 + n > bend:
                issues.append(Issue("dcf.bad_length", f"ContentTypeLength {n} overruns odhe"))
                continue
            for t2, b2, e2, _a2, _c2 in _boxes(data, body + 5 + n, bend, issues, budget):
                if t2 == "ohdr":
                    _ohdr(data, b2, e2, c, dcf, budget)
        elif btype == "odda" and bend - body >= 12:
            declared = int.from_bytes(data[body + 4:body + 12], "big")
            c.data_offset = body + 12
            c.data_length = min(declared, bend - body - 12)
            if declared != bend - body - 12:
                issues.append(Issue("dcf.bad_length", f"odda DataLength {declared} but "
                                    f"{bend - body - 12} data bytes in the box"))
            add(Field_("oma_dcf.data_length", declared, "Encrypted data length", depth=1))
        elif btype == "mdri":
            _mdri(data, body, bend, dcf, budget)
        if cut:
            break


def _ohdr(data: bytes, start: int, end: int, c: DcfContainer, dcf: Dcf, budget: list[int]):
    add, issues = dcf.items.append, dcf.issues
    if end - start < 4 + 16:
        issues.append(Issue("dcf.malformed", "ohdr shorter than its fixed fields"))
        return
    p = start + 4
    (c.encryption_method, c.padding_scheme, c.plaintext_length, cid_len, ri_len,
     th_len) = struct.unpack_from("!BBQHHH", data, p)
    add(Field_("oma_dcf.encryption_method", c.encryption_method, "Encryption method",
               enum_display(ENCRYPTION_METHODS, c.encryption_method), depth=1))
    add(Field_("oma_dcf.padding_scheme", c.padding_scheme, "Padding scheme",
               enum_display(PADDING_SCHEMES, c.padding_scheme), depth=1))
    add(Field_("oma_dcf.plaintext_length", c.plaintext_length, "Plaintext length", depth=1))
    p += 16
    if p + cid_len + ri_len + th_len > end:
        issues.append(Issue("dcf.bad_length", f"ohdr string lengths {cid_len}+{ri_len}+{th_len}"
                            f" overrun the box ({end - p} bytes left)"))
        return
    c.content_id = data[p:p + cid_len].decode("utf-8", "replace")
    p += cid_len
    c.rights_issuer_url = data[p:p + ri_len].decode("utf-8", "replace")
    p += ri_len
    for raw in data[p:p + th_len].split(b"\0")[:64]:
        if raw:
            name, _, value = raw.decode("utf-8", "replace").partition(":")
            c.textual_headers.append((name.strip(), value.strip()))
    p += th_len
    add(Field_("oma_dcf.content_id", c.content_id, "Content ID", depth=1))
    if c.rights_issuer_url:
        add(Field_("oma_dcf.rights_issuer_url", c.rights_issuer_url, "Rights issuer URL",
                   depth=1))
    for name, value in c.textual_headers:
        add(Field_("oma_dcf.textual_header", f"{name}: {value}", "Textual header", depth=1))
    for btype, body, bend, _at, cut in _boxes(data, p, end, issues, budget):
        if btype == "obki":
            _obki(data, body, bend, c, dcf)
        elif btype == "grpi":
            add(Field_("oma_dcf.group_id", data[body + 6:bend][:64].hex(), "Group ID box",
                       depth=1))
        if cut:
            break


def _obki(data: bytes, start: int, end: int, c: DcfContainer, dcf: Dcf) -> None:
    """The OMA BCAST key info box. Its layout (OMA DRM XBS) was not available; the
    one read here is [U]: FullBox | flags(8: KeyIssuerPresent, STKMPresent,
    TBKPresent, TBKIssuerURLPresent, 4 reserved) | KeyIDType(8) | KeyIDLength(16) |
    KeyID | [KeyIssuerURLLength(16) | KeyIssuerURL]. When that does not give a
    KeyID that decodes to 9 bytes, the box is searched for a base64 string that
    does (Key Domain ID || MSK ID || MTK ID), so a different field order still
    names the key."""
    add, issues = dcf.items.append, dcf.issues
    body = data[start + 4:end]
    key_id = None
    if len(body) >= 4:
        flags, kid_type, kid_len = body[0], body[1], int.from_bytes(body[2:4], "big")
        if 4 + kid_len <= len(body):
            key_id = _b64(body[4:4 + kid_len])
            c.key_id_type = kid_type
            rest = body[4 + kid_len:]
            if flags & 0x80 and len(rest) >= 2:
                n = int.from_bytes(rest[:2], "big")
                c.key_issuer_url = rest[2:2 + n].decode("utf-8", "replace")
    if key_id is None or len(key_id) != 9:
        for m in _B64.finditer(body):
            found = _b64(m.group())
            if found is not None and len(found) == 9:
                key_id = found
                break
    c.key_id = key_id
    if c.key_id_type is not None:
        add(Field_("oma_dcf.obki.key_id_type", c.key_id_type, "KeyIDType",
                   f"{c.key_id_type}" + (" (3GPP MBMS)" if c.key_id_type == MBMS_KEY_ID_TYPE
                                         else ""), depth=1))
    if key_id is not None:
        add(Field_("oma_dcf.obki.key_id", key_id.hex(), "KeyID (decoded)", depth=1))
    if c.mtk is not None:
        kd, msk, mtk = c.mtk
        add(Field_("mikey.mbms.key_domain_id", kd, "Key Domain ID", depth=2))
        add(Field_("mikey.mbms.msk_id", msk, "MSK ID", depth=2))
        add(Field_("mikey.mbms.mtk_id", mtk, "MTK ID", depth=2))
    else:
        issues.append(Issue("dcf.no_key_id", "obki box without an MBMS KeyID (base64 of Key "
                            "Domain ID || MSK ID || MTK ID)", "warning"))
    if c.key_issuer_url:
        add(Field_("oma_dcf.obki.key_issuer_url", c.key_issuer_url, "Key issuer URL", depth=1))


def _mdri(data: bytes, start: int, end: int, dcf: Dcf, budget: list[int]) -> None:
    for btype, body, bend, _at, cut in _boxes(data, start, end, dcf.issues, budget):
        if btype == "odfs" and bend - body >= 5 and dcf.containers:
            c = dcf.containers[-1]
            c.signature_method = data[body + 4]
            c.signature = data[body + 5:bend]
            dcf.items.append(Field_("oma_dcf.signature_method", c.signature_method,
                                    "Signature method",
                                    enum_display(SIGNATURE_METHODS, c.signature_method), depth=1))
        if cut:
            break


def _b64(raw: bytes) -> bytes | None:
    try:
        return base64.b64decode(raw.strip(b"\0 "), validate=True)
    except (binascii.Error, ValueError):
        return None


def build_dcf(ciphertext: bytes, *, key_id: bytes, plaintext_length: int,
              method: int = 1, content_type: str = "application/octet-stream",
              content_id: str = "cid:download@bmsc", textual: tuple[str, ...] = (),
              signature: bytes | None = None) -> bytes:
    """A DCF file around *ciphertext* (IV/counter first), as the lab's BM-SC makes it."""
    def box(btype: bytes, body: bytes) -> bytes:
        return struct.pack("!I", 8 + len(body)) + btype + body

    def full(btype: bytes, body: bytes) -> bytes:
        return box(btype, b"\0\0\0\0" + body)

    kid = base64.b64encode(key_id)
    obki = full(b"obki", bytes([0, MBMS_KEY_ID_TYPE]) + struct.pack("!H", len(kid)) + kid)
    th = b"".join(t.encode() + b"\0" for t in textual)
    cid = content_id.encode()
    ohdr = full(b"ohdr", struct.pack("!BBQHHH", method, 1 if method == 1 else 0,
                                     plaintext_length, len(cid), 0, len(th)) + cid + th + obki)
    ct = content_type.encode()
    odhe = full(b"odhe", bytes([len(ct)]) + ct + ohdr)
    odda = full(b"odda", struct.pack("!Q", len(ciphertext)) + ciphertext)
    out = box(b"ftyp", b"odcf" + struct.pack("!I", 2) + b"odcf") + full(b"odrm", odhe + odda)
    if signature is not None:
        out += box(b"mdri", full(b"odfs", b"\x01" + signature))
    return out
