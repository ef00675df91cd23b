"""Problems found in wire data: the dissectors' (and HTTP/TCP layers') "expert info".

Dissectors never raise on wire bytes (STYLE.md rule 1). What they cannot
decode is kept as bytes and described by an :class:`Issue` with a stable,
dotted code (Wireshark expert-info style), which the ``dissect`` JSON shows
under ``errors`` and the analyzer turns into findings.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Issue codes raised by the dissectors, with their meaning.
ISSUE_CODES: dict[str, str] = {
    "mikey.malformed": "a MIKEY payload is shorter than its own length fields say",
    "mikey.unknown_payload": "a payload type with no known layout; the rest is kept as bytes",
    "mikey.unknown_algorithm": "an algorithm value whose length is unknown; the rest is kept as bytes",
    "mikey.missing_payload": "next payload names a payload but the message ends",
    "mikey.trailing_data": "bytes after the last payload",
    "mikey.too_many_payloads": "the payload chain is longer than the dissector's cap",
    "mikey.bad_version": "HDR version is not 1",
    "mikey.cs_map_mismatch": "the CS ID map does not match #CS or its type",
    "mikey.key_id.malformed": "a Key ID sub-payload of the Key ID extension is truncated",
    "mikey.sp.malformed": "a security policy parameter is truncated",
    "mikey.kemac.key_data_malformed": "the Key data sub-payload chain of a NULL KEMAC is malformed",
    "mikey.base64": "a base64 MIKEY blob (SDP/RTSP/HTTP) does not decode",
    "mikey.mac_bad": "a MIKEY MAC does not verify with the known key (analysis with keys)",
    "http.bad_start_line": "a stream position where an HTTP message should start holds none",
    "http.bad_header": "a header line without a name",
    "http.header_cap": "the header block is over the size or count cap",
    "http.bad_length": "Content-Length is not a number",
    "http.bad_chunk": "a chunk size line of the chunked coding is malformed",
    "http.body_cap": "a body longer than the cap: counted, not kept",
    "http.incomplete": "the stream ended or broke inside a message",
    "tcp.missing_segment": "bytes of a TCP stream were never captured",
    "tcp.overlap_conflict": "retransmitted TCP bytes differ from the first copy",
    "tcp.buffer_cap": "too much data waits behind a gap: the gap is given up",
    "bmsc.xml_refused": "XML with a DTD, entities or external references is refused",
    "bmsc.xml_malformed": "a BM-SC XML body does not parse",
    "bmsc.xml_too_large": "a BM-SC XML body over the size limit",
    "bmsc.bad_key_id": "a requested key ID is not 3/4 bytes of hex, decimal or base64",
    "bmsc.digest_bad": "an HTTP digest response does not match the key file's password",
    "alc.malformed": "an ALC/LCT header or FEC Payload ID does not fit the datagram",
    "alc.bad_version": "LCT version is not 1",
    "alc.no_tsi": "an ALC packet without a Transport Session Identifier",
    "alc.bad_extension": "an LCT header extension overruns HDR_LEN",
    "alc.too_many_extensions": "more LCT header extensions than the dissector's cap",
    "alc.unknown_fec": "an FEC Encoding ID not in the IANA registry",
    "alc.fec_not_decoded": "an FEC scheme that is recognised but not decoded (Raptor, RS, ...)",
    "flute.bad_version": "EXT_FDT names a FLUTE version other than 1 or 2",
    "flute.bad_fti": "FEC Object Transmission Information that cannot place symbols",
    "flute.buffer_cap": "more download data held than the reassembly's memory bound",
    "flute.object_too_large": "a transfer length over the object size bound: not reassembled",
    "flute.symbol_conflict": "a repeated encoding symbol whose bytes differ from the first copy",
    "flute.symbol_out_of_range": "an encoding symbol outside the object its FTI describes",
    "flute.too_many_objects": "more open objects in a session than the bound",
    "flute.too_many_sessions": "more FLUTE sessions than the bound",
    "flute.fdt_refused": "FDT XML with a DTD, entities or external references is refused",
    "flute.fdt_malformed": "an FDT Instance that does not parse",
    "flute.fdt_too_large": "an FDT Instance over the size limit",
    "flute.fdt_too_many_files": "an FDT Instance with more File entries than the cap",
    "flute.fdt_bad_file": "an FDT File entry without TOI or Content-Location",
    "flute.fdt_bad_value": "an FDT attribute that is not a number / not base64 MD5",
    "flute.fdt_absurd_length": "an FDT length or TOI outside any sane range",
    "flute.fdt_no_expires": "an FDT Instance without Expires",
    "bmsc.digest_realm": "a digest realm whose host part is not the BM-SC's (TS 33.246 H.2.1: "
                         "3GPP-bootstrapping@<BM-SC FQDN>)",
    "flute.fdt_encoding": "an FDT Instance whose content encoding does not decode",
    "flute.fdt_protected": "an FDT Instance wrapped in a DCF (TS 33.246 §6.6.3) that could not "
                           "be opened (its MTK not known): its File entries are unknown",
    "flute.fdt_signature_bad": "an FDT Instance wrapped in a DCF whose HMAC-SHA1 signature does "
                               "not verify with its MTK",
    "dcf.malformed": "a DCF box or header shorter than its fixed fields",
    "dcf.bad_length": "a DCF length field that overruns its box or disagrees with it",
    "dcf.too_many_boxes": "more DCF boxes than the cap",
    "dcf.not_dcf": "an object that looked like a DCF has no 'odcf' brand",
    "dcf.no_key_id": "a DCF obki box without an MBMS KeyID",
}


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in wire data.

    Attributes:
        code: stable dotted code, a key of :data:`ISSUE_CODES`.
        message: one human-readable sentence.
        severity: ``error`` (malformed data) or ``warning`` (legal but odd).
    """

    code: str
    message: str
    severity: str = "error"

    def to_json(self) -> dict[str, str]:
        """The JSON form used in ``dissect --json`` ``errors`` lists."""
        return {"code": self.code, "severity": self.severity, "message": self.message}
