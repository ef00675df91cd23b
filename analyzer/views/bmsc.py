"""BM-SC HTTP messages as dissected packets (``bmsc.*`` fields, TS 33.246 §6.2-§6.3).

An HTTP message is MBMS-relevant when its body is a BM-SC media type, MIKEY
(``application/mikey``) or SDP with ``a=key-mgmt``, or when it carries HTTP
digest authentication of GBA (a ``3GPP-bootstrapping`` realm, or a B-TID as
user name); a response is relevant when the request it answers was. The
fields:

* start line: ``bmsc.request.method``, ``bmsc.request.uri``, ``bmsc.response.code``,
  ``bmsc.response.phrase``; ``bmsc.content_type``, ``bmsc.content_length``;
* digest (RFC 7616): ``bmsc.digest.challenge.*`` (WWW-Authenticate, with
  ``stale``), ``bmsc.btid`` (the Authorization user name: the UE's B-TID),
  ``bmsc.digest.*`` (realm, nonce, uri, qop, nc, cnonce, algorithm, response),
  ``bmsc.digest.verified`` (good / bad / not checked, with a ``[[digest]]``
  password), ``bmsc.digest.info.*`` (Authentication-Info);
* body: ``bmsc.body.kind``, ``bmsc.service_id``, ``bmsc.key.key_domain_id`` /
  ``bmsc.key.msk_id`` / ``bmsc.key.status`` / ``bmsc.key.reason`` per requested or
  answered MSK, ``bmsc.status`` / ``bmsc.reason`` for other responses; MIKEY in
  the body is dissected with its ``mikey.*`` fields after them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from analyzer.views.facts import HttpFact
from analyzer.views.mikey import mikey_view
from analyzer.views.result import Dissected, endpoint
from dissectors.bmsc import MEDIA_TYPES, parse_body, status_meaning
from dissectors.carriers import find_embedded
from dissectors.digest import DigestParams, parse_params, verify
from dissectors.http import HttpMessage
from dissectors.issues import Issue
from dissectors.mikey.base import Field_, Node

if TYPE_CHECKING:
    from analyzer.keys.hierarchy import KeyHierarchy

BODY_LABELS = {"register": "registration", "register-response": "registration response",
               "deregister": "deregistration", "msk-request": "MSK request",
               "msk-response": "MSK response"}


def _digest_header(msg: HttpMessage, name: str, with_scheme: bool = True) -> DigestParams | None:
    for value in msg.headers_named(name):
        params = parse_params(value, with_scheme)
        if params is not None and (not with_scheme or params.scheme.lower() == "digest"):
            return params
    return None


def is_relevant(msg: HttpMessage) -> bool:
    """Does this message belong to MBMS key management (see the module docstring)?"""
    ctype = msg.content_type
    if ctype in MEDIA_TYPES or ctype == "application/mikey":
        return True
    if ctype == "application/sdp" and b"key-mgmt" in msg.body:
        return True
    for name in ("www-authenticate", "authorization"):
        params = _digest_header(msg, name)
        if params is not None and ("3gpp-bootstrapping" in params.get("realm").lower()
                                   or "@" in params.get("username")):
            return True
    return False


def build_http(cand: Any, hierarchy: "KeyHierarchy | None" = None) -> Dissected:
    """The dissected form of the HTTP message of candidate *cand* (``cand.http``)."""
    event = cand.http
    msg: HttpMessage = event.message
    items: list = [Node("BM-SC HTTP " + ("request" if msg.is_request else "response"), -1)]
    errors: list[Issue] = list(msg.issues)
    add = items.append
    parts: list[str] = []
    if msg.is_request and msg.method:
        add(Field_("bmsc.request.method", msg.method, "Method", depth=0))
        add(Field_("bmsc.request.uri", msg.uri, "URI", depth=0))
        parts.append(f"{msg.method} {msg.uri}")
    elif msg.status:
        add(Field_("bmsc.response.code", msg.status, "Status", depth=0))
        add(Field_("bmsc.response.phrase", msg.reason, "Reason", depth=0))
        if msg.status >= 300 and (meaning := status_meaning(msg.status)) is not None:
            add(Field_("bmsc.response.meaning", meaning, "Meaning (TS 33.246 G.2.4)", depth=0))
        parts.append(f"{msg.status} {msg.reason}".strip())
    if msg.content_type:
        add(Field_("bmsc.content_type", msg.content_type, "Content type", depth=0))
    add(Field_("bmsc.content_length", msg.body_length, "Body length", depth=0))
    parts.extend(_digest_fields(msg, items, errors, hierarchy))
    facts: list = []
    body = parse_body(msg.content_type, msg.body)
    parts.extend(_body_fields(msg, body, items, errors, hierarchy, cand, facts))
    if not msg.complete:
        parts.append("incomplete")
    return Dissected(cand.capture, cand.frame, cand.time, cand.src, cand.dst, "bmsc",
                     "BM-SC " + ", ".join(p for p in parts if p), items, errors, mikey=facts,
                     http=_http_fact(msg, body, errors))


def _http_fact(msg: HttpMessage, body: Any, errors: list[Issue]) -> HttpFact:
    """The typed facts of a BM-SC message (what the flows read; see the fields above)."""
    challenge = _digest_header(msg, "www-authenticate")
    creds = _digest_header(msg, "authorization")
    keys = tuple((k.key_domain.hex() if k.key_domain else None,
                  k.msk_id.hex() if k.msk_id else None, k.status)
                 for k in body.keys) if body is not None else ()
    request = bool(msg.is_request and msg.method)
    return HttpFact(request, (msg.status or None) if not request else None,
                    body.kind if body is not None else None, keys,
                    tuple(k.reason or "" for k in body.keys) if body is not None else (),
                    creds.get("username") if creds is not None else None,
                    challenge is not None and challenge.stale,
                    not any(e.code == "http.incomplete" for e in errors))


def _realm_issue(realm: str, host: str | None) -> Issue | None:
    """TS 33.246 H.2.1: the realm is ``3GPP-bootstrapping@<BM-SC FQDN>``; both ends check
    that its host part names the BM-SC (the request's Host). Another host there (the BSF's,
    as some implementations write) is a tolerated variant: a warning."""
    if not realm.lower().startswith("3gpp-bootstrapping@") or not host:
        return None
    named = realm.split("@", 1)[1].lower()
    server = host.rsplit(":", 1)[0].strip("[]").lower() if host.count(":") <= 1 else host.lower()
    if named == server:
        return None
    return Issue("bmsc.digest_realm", f"digest realm {realm!r} names {named}, not the BM-SC "
                 f"{server} (TS 33.246 H.2.1)", "warning")


def _digest_fields(msg: HttpMessage, items: list, errors: list[Issue],
                   hierarchy: "KeyHierarchy | None") -> list[str]:
    parts: list[str] = []
    challenge = _digest_header(msg, "www-authenticate")
    if challenge is not None:
        items.append(Node("Digest challenge (WWW-Authenticate)", 0))
        for name in ("realm", "nonce", "qop", "algorithm", "opaque", "stale"):
            if name in challenge.params:
                items.append(Field_(f"bmsc.digest.challenge.{name}", challenge.params[name],
                                    name, depth=1))
        parts.append("digest challenge" + (" (stale nonce)" if challenge.stale else ""))
    creds = _digest_header(msg, "authorization")
    if creds is not None:
        btid = creds.get("username")
        items.append(Node("Digest credentials (Authorization)", 0))
        items.append(Field_("bmsc.btid", btid, "B-TID (username)", depth=1))
        for name in ("realm", "nonce", "uri", "qop", "nc", "cnonce", "algorithm", "response"):
            if name in creds.params:
                items.append(Field_(f"bmsc.digest.{name}", creds.params[name], name, depth=1))
        realm_issue = _realm_issue(creds.get("realm"), msg.header("host"))
        if realm_issue is not None:
            errors.append(realm_issue)
        status = "not checked"
        password = hierarchy.store.digests.get(btid) if hierarchy is not None else None
        if password is not None:
            ok = verify(creds, password, msg.method, msg.body)
            status = "not checked" if ok is None else ("good" if ok else "bad")
            if ok is False:
                errors.append(Issue("bmsc.digest_bad", f"digest response of B-TID {btid} does "
                                    "not match the key file's password"))
        items.append(Field_("bmsc.digest.verified", status, "Response verified", depth=1))
        parts.append(f"B-TID {btid}, digest {status}")
    info = _digest_header(msg, "authentication-info", with_scheme=False)
    if info is not None and info.params:
        items.append(Node("Digest Authentication-Info", 0))
        for name in ("rspauth", "nextnonce", "qop", "nc", "cnonce"):
            if name in info.params:
                items.append(Field_(f"bmsc.digest.info.{name}", info.params[name], name, depth=1))
    return parts


def _body_fields(msg: HttpMessage, body: Any, items: list, errors: list[Issue],
                 hierarchy: "KeyHierarchy | None", cand: Any, facts: list) -> list[str]:
    parts: list[str] = []
    if body is not None:
        errors.extend(body.issues)
        items.append(Node(f"MBMS {BODY_LABELS[body.kind]} ({body.root or 'unparsed'})", 0))
        items.append(Field_("bmsc.body.kind", body.kind, "Body", depth=1))
        for sid in body.service_ids:
            items.append(Field_("bmsc.service_id", sid, "Service ID", depth=1))
        keys = []
        for key in body.keys:
            items.append(Field_("bmsc.key.key_domain_id", key.key_domain.hex() if key.key_domain
                                else None, "Key Domain ID", depth=1))
            items.append(Field_("bmsc.key.msk_id", key.msk_id.hex() if key.msk_id else None,
                                "MSK ID", depth=1))
            if key.status is not None:
                items.append(Field_("bmsc.key.status", key.status, "Status", depth=1))
                if (meaning := status_meaning(key.status)) is not None:
                    items.append(Field_("bmsc.key.status.meaning", meaning, "Meaning", depth=1))
            if key.reason:
                items.append(Field_("bmsc.key.reason", key.reason, "Reason", depth=1))
            label = f"{key.key_domain.hex() if key.key_domain else '?'}/" \
                    f"{key.msk_id.hex() if key.msk_id else '?'}"
            keys.append(label + (f": {key.status}" if key.status is not None else ""))
        for _sid, status, reason in body.statuses:
            if status is not None:
                items.append(Field_("bmsc.status", status, "Status", depth=1))
            if reason:
                items.append(Field_("bmsc.reason", reason, "Reason", depth=1))
        if body.btid:
            items.append(Field_("bmsc.body.btid", body.btid, "B-TID", depth=1))
        shown = ", ".join(keys[:3]) + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else "")
        services = ", ".join(body.service_ids[:3])
        parts.append(BODY_LABELS[body.kind] + (f" {shown}" if keys else "")
                     + (f" {services}" if services else ""))
    embedded = []
    if msg.content_type == "application/mikey":
        embedded = [("http", msg.body, None)]
    elif b"key-mgmt" in msg.body[:65536]:
        embedded = [(e.carrier, e.data, e.issue) for e in find_embedded(msg.body)]
    for carrier, data, issue in embedded:
        if issue is not None:
            errors.append(issue)
            continue
        view = mikey_view(data, f"Multimedia Internet KEYing (in {carrier.upper()})", cand,
                          hierarchy, depth=0, carrier=carrier)
        items.extend(view.items)
        errors.extend(view.errors)
        if view.fact is not None:
            facts.append(view.fact)
        parts.append(view.summary)
    return parts


__all__ = ["build_http", "endpoint", "is_relevant"]
