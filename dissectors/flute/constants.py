"""Code points and names of LCT, ALC, the FEC building block and FLUTE.

Sources: RFC 5651 §5 (LCT header and header extension types), RFC 5775 §5
(ALC: EXT_FTI, FEC Payload ID), RFC 5052 §5 and the IANA "Reliable Multicast
Transport (RMT) FEC Encoding IDs" registry, RFC 6726 §3.4 (FLUTE EXT_FDT,
EXT_CENC, Content Encoding Algorithms).
"""

from __future__ import annotations

#: LCT header extension types (RFC 5651 §5.2; RFC 5775 §5.1; RFC 6726 §3.4.1).
HET_NAMES: dict[int, str] = {
    0: "EXT_NOP",
    1: "EXT_AUTH",
    2: "EXT_TIME",
    64: "EXT_FTI",
    192: "EXT_FDT",
    193: "EXT_CENC",
}
EXT_NOP, EXT_AUTH, EXT_TIME, EXT_FTI, EXT_FDT, EXT_CENC = 0, 1, 2, 64, 192, 193

#: FEC Encoding IDs (IANA RMT registry) -> (name, FEC Payload ID layout).
#: A layout is ``(sbn bits, sbl bits, esi bits)``; sbl is 0 where the Payload ID
#: carries no source block length. Only ID 0 (and its twin 130, which carries
#: the same 16/16 ID) is reassembled here: the others are recognised and reported.
FEC_SCHEMES: dict[int, tuple[str, tuple[int, int, int]]] = {
    0: ("Compact No-Code (RFC 5445)", (16, 0, 16)),
    1: ("Raptor (RFC 5053)", (16, 0, 16)),
    2: ("Reed-Solomon over GF(2^m) (RFC 5510)", (24, 0, 8)),
    3: ("LDPC Staircase (RFC 5170)", (12, 0, 20)),
    4: ("LDPC Triangle (RFC 5170)", (12, 0, 20)),
    5: ("Reed-Solomon over GF(2^8) (RFC 5510)", (24, 0, 8)),
    6: ("RaptorQ (RFC 6330)", (8, 0, 24)),
    128: ("Small Block, Large Block and Expandable FEC (RFC 5445)", (32, 0, 32)),
    129: ("Small Block Systematic FEC (RFC 5445)", (32, 16, 16)),
    130: ("Compact FEC (RFC 3695)", (16, 0, 16)),
}
#: FEC Encoding IDs whose source symbols this analyzer places in an object.
NO_CODE_FEC = frozenset({0, 130})

#: FLUTE Content Encoding Algorithms (RFC 6726 §3.4.1, EXT_CENC).
CENC_NAMES: dict[int, str] = {0: "null", 1: "ZLIB", 2: "DEFLATE", 3: "GZIP"}

#: The FDT XML namespace (RFC 6726 §3.4.2).
FDT_NAMESPACE = "urn:IETF:metadata:2005:FLUTE:FDT"
