"""ALC packets: the LCT header (RFC 5651 §5), its header extensions, and the FEC
Payload ID (RFC 5775 §4, RFC 5445 §2) - the transport of FLUTE (RFC 6726).

::

     0                   1                   2                   3
    |   V   | C |PSI|S| O |H|Res|A|B|   HDR_LEN     | Codepoint (CP)|
    | Congestion Control Information (CCI, 32*(C+1) bits)           |
    | Transport Session Identifier (TSI, 32*S + 16*H bits)          |
    | Transport Object Identifier (TOI, 32*O + 16*H bits)           |
    | Header Extensions (if applicable)                             |
    | FEC Payload ID (its layout set by the FEC Encoding ID)        |
    | Encoding symbol(s)                                            |

``HDR_LEN`` counts 32-bit words of the whole LCT header. A header extension
with HET < 128 carries its length (HEL, in words) in its second byte; one with
HET >= 128 is one word. In FLUTE the code point is the FEC Encoding ID
(RFC 6726 §3.4.1; Wireshark's ``alc.lct.codepoint_as_fec_id``).

Parsed with ``struct`` and slices: a download is many packets, and each would
cost a Scapy object. :func:`parse_alc` never raises; what does not fit is
reported as an :class:`~dissectors.issues.Issue`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from dissectors.issues import Issue
from dissectors.mikey.base import Field_, Node, enum_display

from .constants import (
    CENC_NAMES,
    EXT_CENC,
    EXT_FDT,
    EXT_FTI,
    FEC_SCHEMES,
    HET_NAMES,
    NO_CODE_FEC,
)

#: Most header extensions one packet may carry before the rest is given up.
MAX_EXTENSIONS = 32
#: ALC version of RFC 5775 (the LCT version is 1 as well).
ALC_VERSION = 1


@dataclass(frozen=True, slots=True)
class Fti:
    """FEC Object Transmission Information of the Compact No-Code scheme, from
    EXT_FTI (RFC 5445 §3.2.3 / RFC 5775 §5.1) or the FDT."""

    transfer_length: int
    symbol_length: int
    max_source_block_length: int


@dataclass
class AlcPacket:
    """One ALC/LCT packet.

    Attributes:
        version, cci, tsi, toi, codepoint: the LCT header fields.
        close_session, close_object: the A and B flags.
        fec_id: the FEC Encoding ID (the code point, in FLUTE).
        sbn, esi: the FEC Payload ID (None when the scheme is unknown).
        fdt_version, fdt_instance_id: EXT_FDT, present on FDT packets (TOI 0).
        cenc: EXT_CENC content encoding, fti: EXT_FTI.
        payload: the encoding symbol(s).
        items, issues: the dissection tree and what did not fit.
    """

    version: int = 0
    cci: bytes = b""
    tsi: int = 0
    toi: int = 0
    codepoint: int = 0
    close_session: bool = False
    close_object: bool = False
    hdr_len: int = 0
    fec_id: int = 0
    sbn: int | None = None
    esi: int | None = None
    sbl: int | None = None
    fdt_version: int | None = None
    fdt_instance_id: int | None = None
    cenc: int | None = None
    fti: Fti | None = None
    payload: bytes = b""
    items: list = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def is_fdt(self) -> bool:
        """An FDT Instance packet: TOI 0 with EXT_FDT (RFC 6726 §3.4.1)."""
        return self.toi == 0 and self.fdt_instance_id is not None

    @property
    def decodable(self) -> bool:
        """Are its symbols placed in objects here (Compact No-Code FEC)?"""
        return self.fec_id in NO_CODE_FEC and self.sbn is not None

    @property
    def ok(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)


def header_size(b0: int, b1: int) -> int:
    """Bytes the fixed part, CCI, TSI and TOI take, from the first two bytes."""
    c, s, o, h = (b0 >> 2) & 3, (b1 >> 7) & 1, (b1 >> 5) & 3, (b1 >> 4) & 1
    t, r = (b1 >> 3) & 1, (b1 >> 2) & 1  # RFC 3451's SCT/ERT flags (RFC 5651: reserved)
    return 4 + 4 * (c + 1) + 4 * s + 2 * h + 4 * o + 2 * h + 4 * t + 4 * r


def _extension_size(data: bytes, at: int, end: int) -> int:
    """Bytes of the header extension at *at* (RFC 5651 §5.2: one word for HET >= 128,
    else HEL words), 0 when its length byte lies at or past *end* (the LCT header's)."""
    if data[at] >= 128:
        return 4
    return data[at + 1] * 4 if at + 1 < end else 0


def looks_like_alc(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """The strict heuristic for ALC on a port nobody named: version 1, reserved
    bits 0, a TSI, a known FEC code point, HDR_LEN inside the datagram and the
    header extensions ending exactly at it. *start*/*end*: the datagram is
    ``data[start:end]`` (read in place, not copied)."""
    if end is None:
        end = len(data)
    n = end - start
    if n < 12 or data[start] >> 4 != ALC_VERSION:
        return False
    b1 = data[start + 1]
    if not (b1 >> 7 or b1 & 0x10) or data[start + 3] not in FEC_SCHEMES:
        return False  # ALC requires a TSI (RFC 5775 §2.1)
    hlen = data[start + 2] * 4
    fixed = header_size(data[start], b1)
    if hlen < fixed or hlen > n:
        return False
    pos = fixed
    for _ in range(MAX_EXTENSIONS):
        if pos == hlen:
            return True
        size = _extension_size(data, start + pos, start + hlen)
        if size == 0 or pos + size > hlen:
            return False
        pos += size
    return pos == hlen


def parse_alc(data: bytes, codepoint_as_fec_id: bool = True, fec_id: int = 0) -> AlcPacket:
    """Dissect one ALC packet. *codepoint_as_fec_id*: the code point names the
    FEC Encoding ID (FLUTE); otherwise *fec_id* is used."""
    pkt = AlcPacket()
    items, issues = pkt.items, pkt.issues
    add = items.append
    n = len(data)
    add(Node("Asynchronous Layered Coding", -1))
    if n < 4:
        issues.append(Issue("alc.malformed", f"{n} bytes: shorter than an LCT header"))
        return pkt
    b0, b1, hlen_words, cp = data[0], data[1], data[2], data[3]
    pkt.version = b0 >> 4
    pkt.codepoint = cp
    add(Field_("alc.version", pkt.version, "Version"))
    add(Node("Layered Coding Transport (LCT) header", 0))
    c, psi, s, o, h = (b0 >> 2) & 3, b0 & 3, b1 >> 7, (b1 >> 5) & 3, (b1 >> 4) & 1
    t, r = (b1 >> 3) & 1, (b1 >> 2) & 1
    cci_len, tsi_len, toi_len = 4 * (c + 1), 4 * s + 2 * h, 4 * o + 2 * h
    for name, value, label in (("rmt-lct.version", pkt.version, "Version"),
                               ("rmt-lct.fsize.cci", cci_len, "Field size: CCI (bytes)"),
                               ("rmt-lct.fsize.tsi", tsi_len, "Field size: TSI (bytes)"),
                               ("rmt-lct.fsize.toi", toi_len, "Field size: TOI (bytes)"),
                               ("rmt-lct.psi", psi, "Protocol-Specific Indication"),
                               ("rmt-lct.flags.sct_present", t, "Sender Current Time present"),
                               ("rmt-lct.flags.ert_present", r, "Expected Residual Time present"),
                               ("rmt-lct.flags.close_session", (b1 >> 1) & 1, "Close Session"),
                               ("rmt-lct.flags.close_object", b1 & 1, "Close Object"),
                               ("rmt-lct.hlen", hlen_words * 4, "Header length (bytes)"),
                               ("rmt-lct.codepoint", cp, "Codepoint")):
        add(Field_(name, value, label, depth=1))
    pkt.close_session, pkt.close_object = bool((b1 >> 1) & 1), bool(b1 & 1)
    pkt.hdr_len = hlen = hlen_words * 4
    if pkt.version != ALC_VERSION:
        issues.append(Issue("alc.bad_version", f"LCT version {pkt.version}, not 1 (RFC 5651)"))
    fixed = header_size(b0, b1)
    if hlen < fixed or hlen > n:
        issues.append(Issue("alc.malformed", f"HDR_LEN {hlen} bytes does not fit the "
                            f"{fixed}-byte fixed header and the {n}-byte datagram"))
        pkt.payload = data[min(fixed, n):]
        return pkt
    pos = 4
    pkt.cci = data[pos:pos + cci_len]
    add(Field_("rmt-lct.cci", pkt.cci.hex(), "Congestion Control Information", depth=1))
    pos += cci_len
    if tsi_len:
        pkt.tsi = int.from_bytes(data[pos:pos + tsi_len], "big")
        add(Field_("rmt-lct.tsi", pkt.tsi, "Transport Session Identifier", depth=1))
    else:
        issues.append(Issue("alc.no_tsi", "no TSI: ALC requires one (RFC 5775 §2.1)", "warning"))
    pos += tsi_len
    if toi_len:
        pkt.toi = int.from_bytes(data[pos:pos + toi_len], "big")
        add(Field_("rmt-lct.toi", pkt.toi, "Transport Object Identifier", depth=1))
    pos += toi_len
    for present, name, label in ((t, "rmt-lct.sct", "Sender Current Time (ms)"),
                                 (r, "rmt-lct.ert", "Expected Residual Time (ms)")):
        if present:  # RFC 3451 §5.1 (the LCT of FLUTE v1, RFC 3926)
            add(Field_(name, int.from_bytes(data[pos:pos + 4], "big"), label, depth=1))
            pos += 4
    pos = _extensions(pkt, data, pos, hlen)
    pkt.fec_id = cp if codepoint_as_fec_id else fec_id
    _payload_id(pkt, data, hlen)
    return pkt


def _extensions(pkt: AlcPacket, data: bytes, pos: int, hlen: int) -> int:
    """The header extensions between *pos* and *hlen* (RFC 5651 §5.2)."""
    add, issues = pkt.items.append, pkt.issues
    count = 0
    while pos < hlen:
        if count >= MAX_EXTENSIONS:
            issues.append(Issue("alc.too_many_extensions",
                                f"over {MAX_EXTENSIONS} header extensions: the rest is skipped"))
            return hlen
        het = data[pos]
        size = _extension_size(data, pos, hlen)
        if size == 0 or pos + size > hlen:
            issues.append(Issue("alc.bad_extension",
                                f"header extension {het} at byte {pos} overruns HDR_LEN"))
            add(Field_("rmt-lct.hec.data", data[pos:hlen].hex(), "Malformed extension",
                       depth=1))
            return hlen
        ext = data[pos:pos + size]
        count += 1
        add(Node(f"Header extension: {HET_NAMES.get(het, 'unknown')} ({het})", 1))
        add(Field_("rmt-lct.hec.type", het, "Header Extension Type", depth=2))
        if het < 128:
            add(Field_("rmt-lct.hec.len", data[pos + 1], "Header Extension Length (words)",
                       depth=2))
        if het == EXT_FDT:
            word = int.from_bytes(ext[1:4], "big")
            pkt.fdt_version, pkt.fdt_instance_id = word >> 20, word & 0xFFFFF
            add(Field_("rmt-lct.flute_version", pkt.fdt_version, "FLUTE version", depth=2))
            add(Field_("rmt-lct.fdt_instance_id", pkt.fdt_instance_id, "FDT Instance ID",
                       depth=2))
            if pkt.fdt_version not in (1, 2):
                issues.append(Issue("flute.bad_version", f"EXT_FDT FLUTE version "
                                    f"{pkt.fdt_version} (RFC 3926: 1, RFC 6726: 2)", "warning"))
        elif het == EXT_CENC:
            pkt.cenc = ext[1]
            add(Field_("rmt-lct.cenc", ext[1], "Content Encoding Algorithm",
                       enum_display(CENC_NAMES, ext[1]), depth=2))
        elif het == EXT_FTI and size >= 16:
            # RFC 5445 §3.2.3 (FEC Encoding ID 0): Transfer-Length (48) | Reserved (16) |
            # Encoding-Symbol-Length (16) | Max-Source-Block-Length (32)
            tl = int.from_bytes(ext[2:8], "big")
            esl, msbl = struct.unpack_from("!xxHI", ext, 8)
            pkt.fti = Fti(tl, esl, msbl)
            add(Field_("rmt-fec.fti.transfer_length", tl, "Transfer Length", depth=2))
            add(Field_("rmt-fec.fti.encoding_symbol_length", esl, "Encoding Symbol Length",
                       depth=2))
            add(Field_("rmt-fec.fti.max_source_block_length", msbl,
                       "Maximum Source Block Length", depth=2))
        else:
            add(Field_("rmt-lct.hec.data", ext[1 if het >= 128 else 2:].hex(), "Data",
                       depth=2))
        pos += size
    return pos


def _payload_id(pkt: AlcPacket, data: bytes, hlen: int) -> None:
    """The FEC Payload ID after the LCT header (RFC 5775 §4.2), then the symbols."""
    add, issues = pkt.items.append, pkt.issues
    scheme = FEC_SCHEMES.get(pkt.fec_id)
    add(Node("Forward Error Correction (FEC)", 0))
    name = scheme[0] if scheme else "unknown"
    add(Field_("rmt-fec.encoding_id", pkt.fec_id, "FEC Encoding ID",
               f"{name} ({pkt.fec_id})", depth=1))
    if scheme is None:
        issues.append(Issue("alc.unknown_fec", f"FEC Encoding ID {pkt.fec_id} is not in the "
                            "IANA registry: the payload is kept whole", "warning"))
        pkt.payload = data[hlen:]
        return
    sbn_bits, sbl_bits, esi_bits = scheme[1]
    size = (sbn_bits + sbl_bits + esi_bits) // 8
    if hlen + size > len(data):
        issues.append(Issue("alc.malformed", f"no room for the {size}-byte FEC Payload ID"))
        pkt.payload = data[hlen:]
        return
    word = int.from_bytes(data[hlen:hlen + size], "big")
    pkt.esi = word & ((1 << esi_bits) - 1)
    if sbl_bits:
        pkt.sbl = (word >> esi_bits) & ((1 << sbl_bits) - 1)
    pkt.sbn = word >> (esi_bits + sbl_bits)
    add(Field_("rmt-fec.sbn", pkt.sbn, "Source Block Number", depth=1))
    if pkt.sbl is not None:
        add(Field_("rmt-fec.sbl", pkt.sbl, "Source Block Length", depth=1))
    add(Field_("rmt-fec.esi", pkt.esi, "Encoding Symbol ID", f"0x{pkt.esi:x}", depth=1))
    pkt.payload = data[hlen + size:]
    if pkt.fec_id not in NO_CODE_FEC:
        issues.append(Issue("alc.fec_not_decoded", f"FEC scheme {name}: symbols are "
                            "recognised, not decoded", "warning"))


def build_alc(tsi: int, toi: int, payload: bytes, *, codepoint: int = 0, sbn: int = 0,
              esi: int = 0, cci: bytes = b"\0\0\0\0", close_object: bool = False,
              close_session: bool = False, fdt_instance_id: int | None = None,
              fdt_version: int = 2, cenc: int | None = None, fti: Fti | None = None) -> bytes:
    """An ALC packet with a 32-bit TSI and TOI and the Compact No-Code Payload ID
    (what the lab sends; the inverse of :func:`parse_alc`)."""
    c = len(cci) // 4 - 1
    exts = b""
    if fdt_instance_id is not None:
        exts += bytes([EXT_FDT]) + ((fdt_version << 20) | fdt_instance_id).to_bytes(3, "big")
    if cenc is not None:
        exts += bytes([EXT_CENC, cenc, 0, 0])
    if fti is not None:
        exts += bytes([EXT_FTI, 4]) + fti.transfer_length.to_bytes(6, "big") + \
            struct.pack("!HHI", 0, fti.symbol_length, fti.max_source_block_length)
    hlen = 4 + len(cci) + 8 + len(exts)
    b0 = (ALC_VERSION << 4) | (c << 2)
    b1 = 0x80 | (1 << 5) | (int(close_session) << 1) | int(close_object)  # S=1, O=1, H=0
    head = bytes([b0, b1, hlen // 4, codepoint]) + cci + struct.pack("!II", tsi, toi) + exts
    return head + struct.pack("!HH", sbn, esi) + payload
