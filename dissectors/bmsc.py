"""BM-SC key-management bodies: MBMS registration and MSK request/response XML.

Media types (IANA, published specification TS 26.346; fact check §1 item 12):
``application/mbms-register+xml``, ``mbms-register-response+xml``,
``mbms-deregister+xml``, ``mbms-msk+xml`` (the MSKs a UE wants: Key Domain ID +
MSK ID pairs), ``mbms-msk-response+xml`` (per-key response codes, namespace
``urn:3GPP:metadata:2005:MBMS:mskResponse``, TS 26.346 §11.8).

What we could and could not confirm (research of 2026-11, see ``../shared/spec``):
the media types, that namespace and the identifier sizes (Key Domain ID 3
bytes, MSK ID 4 bytes, TS 31.102 §4.2.80) are confirmed; **the element names of
the schemas (TS 26.346 §11, TS 33.246 §6.3.2.1A-6.3.2.4) were not readable
here**. The parser is therefore name-tolerant: it ignores namespaces and case
and accepts the synonyms in :data:`NAMES` (``mbmsUserServiceRegistration`` /
``serviceId`` as we recall TS 33.246; ``keyDomainID``/``MSKID`` and
``status``/``natureOfError`` as commonly written), pairs a Key Domain ID with
the MSK ID beside it, and reads hex, decimal or base64 identifiers. Adding a
name to :data:`NAMES` is how a real BM-SC's dialect is taught.

XML goes through ``defusedxml`` with DTDs forbidden: entity expansion (billion
laughs) and external entities are refused with an issue, as are bodies over
:data:`MAX_XML` bytes.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from .issues import Issue

MAX_XML = 256 * 1024
MAX_ITEMS = 1024

MEDIA_TYPES = {
    "application/mbms-register+xml": "register",
    "application/mbms-register-response+xml": "register-response",
    "application/mbms-deregister+xml": "deregister",
    "application/mbms-msk+xml": "msk-request",
    "application/mbms-msk-response+xml": "msk-response",
}

#: What a status code means in MBMS key management (TS 33.246 §6.3.2.4, Table G.2.4-1),
#: and whether the UE should repeat the request.
STATUS_MEANINGS: dict[int, str] = {
    400: "request missing or malformed (do not repeat)",
    401: "authentication needed or pending: digest challenge (repeat)",
    402: "reserved (do not repeat)",
    403: "valid request refused: not allowed for this service, MSK of a service the UE is "
         "not registered to, or unacceptable parameters (do not repeat)",
    404: "Request-URI malformed (do not repeat)",
    405: "method not allowed for that URI (do not repeat)",
    501: "requested BM-SC function not supported (do not repeat)",
    503: "BM-SC temporarily unavailable: repeat after Retry-After",
    504: "no answer over Zn from the BSF (do not repeat)",
    505: "HTTP version not supported: use HTTP/1.1 (do not repeat)",
}
for _code in range(406, 418):
    STATUS_MEANINGS[_code] = "not used by the BM-SC (do not repeat)"
for _code in (500, 502):
    STATUS_MEANINGS[_code] = "not used by the BM-SC (do not repeat)"


def status_meaning(code: int | None) -> str | None:
    """The meaning of *code* for MBMS key management (2xx: success for that item)."""
    if code is None:
        return None
    if 200 <= code < 300:
        return "success"
    return STATUS_MEANINGS.get(code)


#: Accepted local names (lowercase, without "_" and "-") per meaning.
NAMES = {
    "key_domain": {"keydomainid", "keydomain", "kdid", "domainid"},
    "msk_id": {"mskid", "msk", "servicekeyid", "mbmsservicekeyid"},
    "service_id": {"serviceid", "userserviceid", "serviceidentifier", "mbmsserviceid"},
    "status": {"status", "statuscode", "responsecode", "resultcode", "result", "errorcode"},
    "reason": {"natureoferror", "reason", "description", "errordescription", "cause"},
    "btid": {"btid", "bootstrappingtransactionidentifier"},
}


def _norm(tag: str) -> str:
    local = tag.rsplit("}", 1)[-1]
    return re.sub(r"[_\-]", "", local).lower()


def _meaning(name: str) -> str | None:
    for meaning, names in NAMES.items():
        if name in names:
            return meaning
    return None


def ident_bytes(text: str, size: int) -> bytes | None:
    """An identifier written as hex (exactly 2 * *size* digits), base64 (TS 26.346's
    encoding) or decimal, as *size* bytes (None if neither)."""
    value = text.strip()
    compact = value.replace(":", "").replace(" ", "")
    if compact.lower().startswith("0x"):
        compact = compact[2:]
    if re.fullmatch(r"[0-9a-fA-F]+", compact) and len(compact) == 2 * size:
        return bytes.fromhex(compact)
    try:  # xs:base64Binary, as TS 26.346 §11.6/§11.8 define the IDs
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == size:
        return raw
    if re.fullmatch(r"\d+", compact):
        number = int(compact)
        if number < 1 << (8 * size):
            return number.to_bytes(size, "big")
    return None


@dataclass
class KeyRequest:
    """One requested or answered MSK: Key Domain ID and MSK ID (bytes), status, reason."""

    key_domain: bytes | None = None
    msk_id: bytes | None = None
    status: int | None = None
    reason: str = ""


@dataclass
class BmscBody:
    """What a BM-SC XML body says.

    Attributes:
        kind: ``register``, ``register-response``, ``deregister``, ``msk-request``,
            ``msk-response``.
        root: the root element's local name.
        keys: requested or answered MSKs.
        service_ids: user services named (registration).
        statuses: ``(service id or "", status, reason)`` of responses.
        btid: a B-TID named in the body, if any.
        issues: refused or malformed XML.
    """

    kind: str
    root: str = ""
    keys: list[KeyRequest] = field(default_factory=list)
    service_ids: list[str] = field(default_factory=list)
    statuses: list[tuple[str, int | None, str]] = field(default_factory=list)
    btid: str = ""
    issues: list[Issue] = field(default_factory=list)


def _values(elem) -> dict[str, str]:
    """Meaningful children and attributes of *elem*: meaning -> text."""
    out: dict[str, str] = {}
    for name, value in elem.attrib.items():
        meaning = _meaning(_norm(name))
        if meaning:
            out.setdefault(meaning, value)
    for child in list(elem)[:MAX_ITEMS]:
        meaning = _meaning(_norm(child.tag))
        if meaning and len(child) == 0:
            out.setdefault(meaning, (child.text or "").strip())
    return out


def _status(text: str) -> int | None:
    m = re.match(r"\s*(\d{1,3})\b", text or "")
    return int(m.group(1)) if m else None


def _leaves(elem, meaning: str) -> list[str]:
    """Text of every leaf child (or attribute) of *elem* with that meaning, in order."""
    out = [value for name, value in elem.attrib.items() if _meaning(_norm(name)) == meaning]
    out += [(child.text or "").strip() for child in list(elem)[:MAX_ITEMS]
            if len(child) == 0 and _meaning(_norm(child.tag)) == meaning]
    return out


def _walk(elem, out: "BmscBody", inherited: dict[str, str], budget: list[int]) -> None:
    """Read *elem* and its descendants, each element inheriting the Key Domain ID,
    status and reason of its ancestors: a key's status may stand beside its MSK ID
    (``<mskStatus><MSKID/><statusCode/>``), in an enclosing element, or once for the
    whole message (TS 26.346 §11.8 writes a per-key code; BM-SCs vary)."""
    budget[0] += 1
    if budget[0] > MAX_ITEMS:
        return
    vals = _values(elem)
    ctx = dict(inherited)
    for meaning in ("key_domain", "status", "reason"):
        if meaning in vals:
            ctx[meaning] = vals[meaning]
    msks = _leaves(elem, "msk_id")
    domains = _leaves(elem, "key_domain") or ([ctx["key_domain"]] if "key_domain" in ctx else [])
    for n, msk_text in enumerate(msks):
        if len(out.keys) >= MAX_ITEMS:
            break
        kd_text = domains[min(n, len(domains) - 1)] if domains else None
        own = "status" in vals
        key = KeyRequest(ident_bytes(kd_text, 3) if kd_text is not None else None,
                         ident_bytes(msk_text, 4),
                         _status(ctx["status"]) if own or "status" in inherited else None,
                         ctx.get("reason", "") if own or "status" in inherited else "")
        if (kd_text is not None and key.key_domain is None) or key.msk_id is None:
            out.issues.append(Issue("bmsc.bad_key_id", f"key IDs {kd_text!r}/{msk_text!r} "
                                    "are not 3 and 4 bytes in hex, decimal or base64",
                                    "warning"))
        out.keys.append(key)
    if not msks:
        out.service_ids.extend(t for t in _leaves(elem, "service_id")
                               if t and t not in out.service_ids)
    if "status" in vals and not msks and not _has_msk_below(elem):
        out.statuses.append((vals.get("service_id", ""), _status(vals["status"]),
                             vals.get("reason", "")))
    if "btid" in vals and not out.btid:
        out.btid = vals["btid"]
    for child in list(elem)[:MAX_ITEMS]:
        if len(child):
            _walk(child, out, ctx, budget)


def _has_msk_below(elem) -> bool:
    """Whether a descendant (not a leaf child) names an MSK: then *elem*'s status is
    inherited by those keys rather than standing for a service."""
    for _, sub in zip(range(MAX_ITEMS), elem.iter()):
        if sub is not elem and len(sub) and _leaves(sub, "msk_id"):
            return True
    return False


def parse_body(media_type: str, body: bytes) -> BmscBody | None:
    """Read a BM-SC body of *media_type*; None when the type is not one of ours."""
    kind = MEDIA_TYPES.get(media_type.lower())
    if kind is None:
        return None
    out = BmscBody(kind)
    if len(body) > MAX_XML:
        out.issues.append(Issue("bmsc.xml_too_large", f"{len(body)} bytes of XML: over the "
                                f"{MAX_XML}-byte limit, not parsed"))
        return out
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        out.issues.append(Issue("bmsc.xml_refused", f"XML refused: {type(exc).__name__} "
                                "(DTDs, entities and external references are not accepted)"))
        return out
    except (ParseError, ValueError, UnicodeError, LookupError) as exc:  # LookupError: an
        # encoding declaration Python does not know (found by fuzz/fuzz_bmsc.py)
        out.issues.append(Issue("bmsc.xml_malformed", f"XML does not parse: {exc}"))
        return out
    out.root = root.tag.rsplit("}", 1)[-1]
    _walk(root, out, {}, [0])
    if out.keys:  # a status written once for the message applies to every key without one
        for key in out.keys:
            if key.status is None and out.statuses:
                key.status, key.reason = out.statuses[0][1], key.reason or out.statuses[0][2]
    return out
