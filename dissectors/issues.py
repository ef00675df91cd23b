"""Problems found in wire data: the dissectors' "expert info".

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
