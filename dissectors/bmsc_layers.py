"""The BM-SC key-management bodies as Scapy layers, on Scapy's own HTTP layer.

Importing this module binds them below ``scapy.layers.http``'s ``HTTPRequest`` and
``HTTPResponse``: the body's media type (TS 33.246 Annex G, TS 26.346 §11) picks
the layer, so ``rdpcap``/``sniff`` - with ``session=TCPSession`` for bodies split
over segments or chunked - give ``HTTPRequest / MBMS_MSKRequest`` and ``show()``
lists the MBMS fields::

    >>> from scapy.all import sniff, TCPSession
    >>> import dissectors.bmsc_layers
    >>> for p in sniff(offline="captures/lab-basic.pcapng", session=TCPSession):
    ...     if p.haslayer(MBMS_MSKRequest):
    ...         print(p[MBMS_MSKRequest].keys[0].msk_id.hex())

The fields come from :func:`dissectors.bmsc.parse_body`, the parser the analyzer's
own HTTP path uses (``bmsc.*`` fields of ``dissect``), so both read a body alike.
The B-TID is the digest user name of the request (its ``Authorization`` header)
or, failing that, one the body names. Building works too: a layer made from
fields (``MBMS_MSKRequest(keys=[MBMS_Key(key_domain=..., msk_id=...)])``) writes
TS 26.346 XML; one dissected from the wire writes its bytes back unchanged.
"""

from __future__ import annotations

import base64
from typing import Any

from scapy.config import conf
from scapy.fields import FieldListField, PacketListField, ShortField, StrField, XStrField
from scapy.layers.http import HTTPRequest, HTTPResponse
from scapy.packet import Packet, bind_layers

from dissectors.bmsc import MEDIA_TYPES, BmscBody, parse_body
from dissectors.digest import parse_params

NAMESPACE = "urn:3GPP:metadata:2005:MBMS:"


class _Virtual(Packet):
    """A sub-structure of a parsed body: fields only, no bytes of its own."""

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s

    def do_build(self) -> bytes:
        return b""


class MBMS_Key(_Virtual):
    """One requested or answered MSK: Key Domain ID (MCC || MNC), MSK ID, status, reason."""

    name = "MBMS MSK"
    fields_desc = [XStrField("key_domain", b""), XStrField("msk_id", b""),
                   ShortField("status", None), StrField("reason", b"")]


class MBMS_Status(_Virtual):
    """A message-level status of a response (per service, or for the whole message)."""

    name = "MBMS status"
    fields_desc = [StrField("service_id", b""), ShortField("status", None),
                   StrField("reason", b"")]


class MBMS_Body(Packet):
    """Base of the BM-SC body layers; picks the layer by the HTTP media type.

    ``load`` is the XML as on the wire (after Scapy's HTTP de-chunking); the other
    fields are what it says.
    """

    name = "MBMS key management body"
    match_subclass = True  # p.haslayer(MBMS_Body) finds every body layer
    kind = ""
    root_name = ""
    fields_desc = [
        StrField("root", b""),
        FieldListField("service_ids", [], StrField("", b"")),
        PacketListField("keys", [], MBMS_Key),
        PacketListField("statuses", [], MBMS_Status),
        StrField("btid", b""),
        StrField("load", b""),
    ]

    @classmethod
    def dispatch_hook(cls, _pkt: bytes | None = None, *args: Any, **kargs: Any) -> type:
        under = kargs.get("_underlayer")
        media = _media_type(under)
        if cls is not MBMS_Body or under is None:
            return cls
        return LAYERS.get(MEDIA_TYPES.get(media, ""), conf.raw_layer)

    def do_dissect(self, s: bytes) -> bytes:
        self.setfieldval("load", s)
        return b""

    def setfieldval(self, attr: str, val: Any) -> None:
        super().setfieldval(attr, val)
        if attr == "load" and isinstance(val, bytes):
            self._read(val)  # also when Scapy's HTTP layer sets the de-chunked body

    def _read(self, data: bytes) -> None:
        body = parse_body(_media_type(self.underlayer) or _media_of(self.kind), data)
        if body is None:
            return
        fields = _fields(body)
        fields["btid"] = _digest_user(self.underlayer) or fields["btid"]
        for name, value in fields.items():
            Packet.setfieldval(self, name, value)

    @property
    def body(self) -> BmscBody | None:
        """The parsed body (issues included), as the analyzer's HTTP path reads it."""
        return parse_body(_media_of(self.kind), bytes(self.load or b""))

    def do_build(self) -> bytes:
        if self.load:
            return bytes(self.load)
        return _xml(self)

    def mysummary(self) -> str:
        keys = ", ".join(f"{k.key_domain.hex()}/{k.msk_id.hex()}" for k in self.keys or [])
        return f"MBMS {self.kind} {keys}".strip()


class MBMS_Register(MBMS_Body):
    """User service registration (TS 33.246 §6.3.2.1, TS 26.346 §11.4)."""

    name = "MBMS registration"
    kind, root_name = "register", "mbmsUserServiceRegistration"


class MBMS_RegisterResponse(MBMS_Body):
    """Response to a registration (TS 26.346 §11.4.2)."""

    name = "MBMS registration response"
    kind, root_name = "register-response", "mbmsRegisterResponse"


class MBMS_Deregister(MBMS_Body):
    """User service deregistration (TS 33.246 §6.3.2.1, TS 26.346 §11.5)."""

    name = "MBMS deregistration"
    kind, root_name = "deregister", "mbmsUserServiceDeregistration"


class MBMS_MSKRequest(MBMS_Body):
    """MSK request (TS 33.246 §6.3.2.1, TS 26.346 §11.8): the MSKs a UE asks for."""

    name = "MBMS MSK request"
    kind, root_name = "msk-request", "mbmsMSKRequest"


class MBMS_MSKResponse(MBMS_Body):
    """MSK request response (TS 33.246 Annex G): a status per MSK."""

    name = "MBMS MSK response"
    kind, root_name = "msk-response", "mbmsMSKResponse"


#: body kind (dissectors.bmsc.MEDIA_TYPES) -> layer
LAYERS: dict[str, type[MBMS_Body]] = {cls.kind: cls for cls in (
    MBMS_Register, MBMS_RegisterResponse, MBMS_Deregister, MBMS_MSKRequest, MBMS_MSKResponse)}


def _media_of(kind: str) -> str:
    return next((m for m, k in MEDIA_TYPES.items() if k == kind), "")


def _media_type(http: Any) -> str:
    value = getattr(http, "Content_Type", None) if http is not None else None
    if not value:
        return ""
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return text.split(";", 1)[0].strip().lower()


def _digest_user(http: Any) -> bytes:
    value = getattr(http, "Authorization", None) if http is not None else None
    if not value:
        return b""
    params = parse_params(value.decode("latin-1") if isinstance(value, bytes) else str(value))
    if params is None or params.scheme.lower() != "digest":
        return b""
    return params.get("username").encode()


def _fields(body: BmscBody) -> dict[str, Any]:
    return {
        "root": body.root.encode(),
        "service_ids": [s.encode() for s in body.service_ids],
        "keys": [MBMS_Key(key_domain=k.key_domain or b"", msk_id=k.msk_id or b"",
                          status=k.status, reason=k.reason.encode()) for k in body.keys],
        "statuses": [MBMS_Status(service_id=s.encode(), status=c, reason=r.encode())
                     for s, c, r in body.statuses],
        "btid": body.btid.encode(),
    }


def _xml(layer: MBMS_Body) -> bytes:
    """TS 26.346 §11 XML for a layer built from fields (IDs in base64, as §11.8 writes)."""
    def b64(value: bytes) -> str:
        return base64.b64encode(value).decode()

    inner = []
    for sid in layer.service_ids or []:
        inner.append(f"  <serviceId>{sid.decode()}</serviceId>")
    for key in layer.keys or []:
        parts = [f"<keyDomainID>{b64(key.key_domain)}</keyDomainID>",
                 f"<MSKID>{b64(key.msk_id)}</MSKID>"]
        if key.status is not None:
            parts.append(f"<ResponseCode>{key.status}</ResponseCode>")
        inner.append("  <MSK>" + "".join(parts) + "</MSK>")
    for status in layer.statuses or []:
        if status.status is not None:
            inner.append(f"  <ResponseCode>{status.status}</ResponseCode>")
    ns = NAMESPACE + {"register": "serviceRegistration", "deregister": "serviceDeregistration",
                      "msk-request": "mskRequest", "msk-response": "mskResponse",
                      "register-response": "serviceRegistrationResponse"}[layer.kind]
    return ("<?xml version='1.0' encoding='UTF-8'?>\n"
            f"<{layer.root_name} xmlns='{ns}'>\n" + "\n".join(inner)
            + f"\n</{layer.root_name}>\n").encode()


# the media type picks the layer (MBMS_Body.dispatch_hook); any other body stays Raw
bind_layers(HTTPRequest, MBMS_Body)
bind_layers(HTTPResponse, MBMS_Body)

__all__ = ["LAYERS", "MBMS_Body", "MBMS_Deregister", "MBMS_Key", "MBMS_MSKRequest",
           "MBMS_MSKResponse", "MBMS_Register", "MBMS_RegisterResponse", "MBMS_Status"]
