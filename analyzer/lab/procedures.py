"""The lab's procedures (TS 33.246 §6.3): registration and deregistration, the
UE-initiated MSK request with its digest challenge, MSK delivery and its
verification, the solicited pull; what every scenario is built from
(:mod:`analyzer.lab.scenarios`, :mod:`analyzer.lab.download`)."""

from __future__ import annotations

import base64

from analyzer.lab.world import (
    REALM_PREFIX,
    UE,
    Msk,
    World,
)

SERVICE_ID = "urn:3gpp:mbms:service:tv-news"
URI_REGISTER = "/keymanagement?requesttype=register"
URI_DEREGISTER = "/keymanagement?requesttype=deregister"
URI_MSK = "/keymanagement?requesttype=msk-request"   # TS 33.246 G.2.3
URI_MSK_LEGACY = "/keymanagement?requesttype=msk"
NS = "urn:3GPP:metadata:2005:MBMS:"                    # TS 26.346 §11.4-11.8



# ---------------------------------------------------------------- HTTP bodies

def _xml(root: str, inner: str, ns: str = "") -> bytes:
    xmlns = f' xmlns="{ns}"' if ns else ""
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}{xmlns}>\n{inner}</{root}>\n'.encode()


def _request(w: World, uri: str, ctype: str, body: bytes, auth: str | None = None) -> bytes:
    head = (f"POST {uri} HTTP/1.1\r\nHost: {w.fqdn}\r\nUser-Agent: MBMS-UE/1.0 Release-6 3gpp-gba\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n")
    if auth:
        head += f"Authorization: {auth}\r\n"
    return (head + "\r\n").encode() + body


def _response(status: int, reason: str, headers: list[str], ctype: str = "",
              body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", "Server: lab-bmsc"] + headers
    if ctype:
        lines.append(f"Content-Type: {ctype}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _challenge(w: World, nonce: str, stale: bool = False) -> bytes:
    """The 401 (H.2.1): qop ``auth,auth-int`` as the spec's example offers (legacy: auth)."""
    extra = ", stale=true" if stale else ""
    qop = "auth,auth-int" if w.spec else "auth"
    return _response(401, "Unauthorized", [
        f'WWW-Authenticate: Digest realm="{REALM_PREFIX}{w.fqdn}", nonce="{nonce}", '
        f'qop="{qop}", algorithm=MD5{extra}'])


def _auth_info(w: World) -> str:
    qop = "auth-int" if w.spec else "auth"
    return f'Authentication-Info: qop={qop}, rspauth="{w.rng.randbytes(16).hex()}", nc=00000001'


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _service_bodies(w: World, root: str, ns: str) -> tuple[bytes, bytes]:
    """A (de)registration request and its response (TS 26.346 §11.4, §11.5, §11.7; legacy:
    this lab's first guess of the names)."""
    if w.spec:
        return (_xml(root, f"  <serviceID>{SERVICE_ID}</serviceID>\n", NS + ns),
                _xml("mbmsSecurityRegisterResponse", f"  <Response>\n    <serviceID>"
                     f"{SERVICE_ID}</serviceID>\n    <ResponseCode>200 OK</ResponseCode>\n"
                     "  </Response>\n", NS + "securityRegistrationResponse"))
    legacy = {"mbmsSecurityRegister": "mbmsUserServiceRegistration",
              "mbmsSecurityDeregister": "mbmsUserServiceDeregistration"}[root]
    return (_xml(legacy, f"  <serviceId>{SERVICE_ID}</serviceId>\n"),
            _xml("mbmsUserServiceRegistrationResponse",
                 f"  <serviceId>{SERVICE_ID}</serviceId>\n  <status>200</status>\n"))


def registration(w: World, ue: UE, t: float) -> float:
    """User service registration (TS 33.246 §6.3.2.1A) with a digest challenge."""
    body, ok = _service_bodies(w, "mbmsSecurityRegister", "securityRegistration")
    nonce = w.nonce()
    pairs = [(_request(w, URI_REGISTER, "application/mbms-register+xml", body),
              _challenge(w, nonce)),
             (_request(w, URI_REGISTER, "application/mbms-register+xml", body,
                       w.authorization(ue, "POST", URI_REGISTER, nonce, body)),
              _response(200, "OK", [_auth_info(w)], "application/mbms-register-response+xml", ok))]
    w.expect("registration", ue, "success")
    return w.http_exchange(t, ue, pairs, f"registration ue{ue.index}")


def deregistration(w: World, ue: UE, t: float) -> float:
    """User service deregistration (TS 33.246 §6.3.2.1B)."""
    body, ok = _service_bodies(w, "mbmsSecurityDeregister", "securityDeregistration")
    nonce = w.nonce()
    answer = _response(200, "OK", [_auth_info(w)], "application/mbms-register-response+xml",
                       ok) if w.spec else _response(200, "OK", [_auth_info(w)])
    pairs = [(_request(w, URI_DEREGISTER, "application/mbms-deregister+xml", body),
              _challenge(w, nonce)),
             (_request(w, URI_DEREGISTER, "application/mbms-deregister+xml", body,
                       w.authorization(ue, "POST", URI_DEREGISTER, nonce, body)),
              answer)]
    w.expect("deregistration", ue, "success")
    return w.http_exchange(t, ue, pairs, f"deregistration ue{ue.index}")


def msk_request(w: World, ue: UE, t: float, msk: Msk, stale: bool = False,
                reject: bool | str = False, ack: bool = True) -> float:
    """UE-initiated MSK request (TS 33.246 §6.3.2.2.1): POST, 401, POST with digest,
    200 with per-key status, then the MSK message (V=1) and the UE's verification.
    *reject*: refused per key (True), or once for the whole message (``"message"``)."""
    uri = URI_MSK if w.spec else URI_MSK_LEGACY
    if w.spec:  # TS 26.346 §11.6, §11.8: IDs in base64, one Response per MSK
        key = (f"  <MSK>\n    <keyDomainID>{_b64(msk.kd)}</keyDomainID>\n"
               f"    <MSKID>{_b64(msk.msk_id)}</MSKID>\n  </MSK>\n")
        body = _xml("mbmsMSKRequest", key, NS + "mskRequest")
        code = "403 Forbidden" if reject else "200 OK"
        answer = _xml("mbmsMSKResponse", f"  <Response>\n  {key.replace(chr(10) + '  ', chr(10) + '    ')}"
                      f"    <ResponseCode>{code}</ResponseCode>\n  </Response>\n",
                      NS + "mskResponse")
    else:
        key = (f"  <MSK>\n    <keyDomainID>{msk.kd.hex()}</keyDomainID>\n"
               f"    <MSKID>{msk.msk_id.hex()}</MSKID>\n  </MSK>\n")
        body = _xml("mbmsMSKRequest", key)
        status = 403 if reject else 200
        reason = "    <natureOfError>not subscribed</natureOfError>\n" if reject else ""
        answer = _xml("mbmsMSKResponse", f"  <MSKResponse>\n    <keyDomainID>{msk.kd.hex()}"
                      f"</keyDomainID>\n    <MSKID>{msk.msk_id.hex()}</MSKID>\n    <status>"
                      f"{status}</status>\n{reason}  </MSKResponse>\n", NS + "mskResponse")
    if reject == "message":  # one status for the whole message, none per key
        answer = _xml("mbmsMSKResponse", "  <statusCode>403</statusCode>\n  <reason>not "
                      f"subscribed</reason>\n  <MSK>\n    <keyDomainID>{msk.kd.hex()}"
                      f"</keyDomainID>\n    <MSKID>{msk.msk_id.hex()}</MSKID>\n  </MSK>\n",
                      "urn:3GPP:metadata:2005:MBMS:mskResponse")
    nonce = w.nonce()
    pairs = [(_request(w, uri, "application/mbms-msk+xml", body), _challenge(w, nonce))]
    if stale:  # the nonce expires between challenge and answer: re-challenged with stale=true
        fresh = w.nonce()
        pairs.append((_request(w, uri, "application/mbms-msk+xml", body,
                               w.authorization(ue, "POST", uri, nonce, body)),
                      _challenge(w, fresh, stale=True)))
        nonce = fresh
    pairs.append((_request(w, uri, "application/mbms-msk+xml", body,
                           w.authorization(ue, "POST", uri, nonce, body)),
                  _response(200, "OK", [_auth_info(w)], "application/mbms-msk-response+xml",
                            answer)))
    t = w.http_exchange(t, ue, pairs, f"msk request ue{ue.index}")
    kind = "solicited_pull" if ue.solicited else "msk_request"
    ue.solicited = False
    if reject:
        w.expect(kind, ue, "rejected")
        return t
    w.expect(kind, ue, "success" if ack else "incomplete", *(() if ack else ("mikey.ack_missing",)))
    return deliver_msk(w, ue, t + 0.05, msk, ack, push=False)


def deliver_msk(w: World, ue: UE, t: float, msk: Msk, ack: bool = True,
                received: bool = True, push: bool = True) -> float:
    """An MSK message to *ue* under its MUK (V=1) and, if it got it, its verification;
    *push*: unsolicited (not the answer to an MSK request)."""
    if push:
        done = received and ack
        w.expect("msk_push", ue, "success" if done else "incomplete",
                 *(() if done else ("mikey.ack_missing",)))
    w.send_mikey_to_ue(t, ue, w.msk_message(ue, msk, v=1), f"msk {msk.msk_id.hex()} ue{ue.index}")
    if received:
        ue.msks.add(msk.msk_id)
        if ack:
            w.send_mikey_from_ue(t + 0.02, ue, w.ack_for_last(), f"ack ue{ue.index}")
    return t + 0.03


def solicit(w: World, ue: UE, t: float) -> None:
    """BM-SC solicited pull (TS 33.246 §6.3.2.2.4): key IDs 0, no key data."""
    w.send_mikey_to_ue(t, ue, w.msk_message(ue, None, v=0), f"solicitation ue{ue.index}")
    ue.solicited = True


def join_all(w: World, t: float, msk: Msk, skip: set[int] = frozenset(),
              reject: set[int] = frozenset()) -> float:
    for ue in w.ues:
        if ue.index in skip:
            continue
        t = registration(w, ue, t + 0.05)
        t = msk_request(w, ue, t + 0.05, msk, reject=ue.index in reject)
    return t + 0.2
