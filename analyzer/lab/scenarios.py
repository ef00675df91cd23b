"""The lab scenarios: each one a recognisable story from the seed (TS 33.246 §6.3).

=================  ================================================================
``basic``          registration, UE-initiated MSK request with digest challenge, MSK
                   delivery (V=1) and ack, MTK updates on the group, SRTP under the MTK
``push``           ``basic``, then a BM-SC MSK push with acks; one UE never acks
``solicited-pull`` ``basic``, then key IDs 0 solicit every UE; UEs ask after a random
                   delay; one is re-challenged with ``stale=true``
``missed-update``  ``basic``, then an MSK push one UE misses (out of coverage); it asks
                   for the key later (missed key update)
``reject``         one UE's MSK request is refused; it holds no MSK and deregisters
``attacks``        ``basic`` with a replayed MTK message, a forged MAC, SRTP under an
                   unknown MKI, a truncated MIKEY message and garbage on the MIKEY port
``storm``          thousands of UEs answer one solicitation at once (no spreading)
``mixed``          ``basic`` inside heavy unrelated traffic (DNS, web, plain RTP)
``download``       a FLUTE download session of DCF files under two MTKs; one file
                   loses a packet (:mod:`analyzer.lab.download`)
``interop``        what BM-SCs and UEs of other vendors do: one MSK pushed to every UE
                   with one CSB ID and the acks back in random order (some with IDr,
                   some without); MTK messages sent ahead of the switch, one sent again
                   unchanged, one first damaged then re-sent intact; two SRTP streams, one wrapping inside an
                   MTK (with a reordered pair across the wrap), one wrapping exactly at
                   an MTK change; a solicited pull refused with a message-level 403
=================  ================================================================

The XML bodies use the element names we recall of TS 33.246/TS 26.346
(``dissectors/bmsc.py`` explains why they are unconfirmed).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from ..flows.reconstructor import STORM_THRESHOLD
from .download import download
from .frames import tcp_frame, udp_frame
from .world import EPOCH, HTTP_PORT, MIKEY_PORT, REALM_PREFIX, UE, Msk, RtpStream, World

SERVICE_ID = "urn:3gpp:mbms:service:tv-news"
URI_REGISTER = "/keymanagement?requesttype=register"
URI_DEREGISTER = "/keymanagement?requesttype=deregister"
URI_MSK = "/keymanagement?requesttype=msk-request"   # TS 33.246 G.2.3
URI_MSK_LEGACY = "/keymanagement?requesttype=msk"
NS = "urn:3GPP:metadata:2005:MBMS:"                    # TS 26.346 §11.4-11.8


@dataclass(frozen=True)
class Options:
    """Scenario options (the ``lab`` command's flags)."""

    ues: int = 3
    duration: float = 10.0
    mtk_period: float = 2.0
    msk_period: float = 0.0
    loss: float = 0.0
    rate: float = 50.0
    #: RFC 4771 (TS 33.246 §6.6.2.1): mode 1..3 (RCCm1..RCCm3; 0 none) and the rate R
    rcc: int = 0
    rcc_r: int = 1
    #: ``spec`` (TS 33.246 as written) or ``legacy`` (this lab's first conventions)
    conventions: str = "spec"


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


class Stream:
    """MTK updates on the group and the SRTP stream they protect, over a time span."""

    def __init__(self, w: World, opts: Options) -> None:
        self.w, self.opts = w, opts
        self.mtk_id = 0
        self.mki = b""
        self.msk: Msk | None = None

    def new_mtk(self, t: float, msk: Msk) -> None:
        self.msk = msk
        self.mtk_id += 1
        self.w.multicast_mikey(t, self.w.mtk_message(msk, self.mtk_id),
                               f"mtk {msk.msk_id.hex()}/{self.mtk_id}")
        self.w.expect("mtk_update", None, "success")
        self.mki = msk.msk_id + self.mtk_id.to_bytes(2, "big")

    def run(self, t0: float, t1: float, msk: Msk, hooks: dict[float, object] | None = None) -> None:
        """MTKs every ``mtk_period`` from *t0*, SRTP packets at ``rate`` until *t1*."""
        hooks = dict(hooks or {})
        next_mtk = t0
        step = 1.0 / self.opts.rate if self.opts.rate > 0 else t1 - t0 + 1
        t = t0
        while t < t1:
            for when in sorted(k for k in hooks if k <= t):
                result = hooks.pop(when)(when)
                if isinstance(result, Msk):
                    msk = result
                    next_mtk = t  # a new MSK: a new MTK under it right away
            if t >= next_mtk:
                self.new_mtk(t, msk)
                next_mtk = t + self.opts.mtk_period
            if self.w.rng.random() >= self.opts.loss:
                self.w.srtp_packet(t + 0.005, self.mki)
            t += step


# ---------------------------------------------------------------- scenarios

def _join_all(w: World, t: float, msk: Msk, skip: set[int] = frozenset(),
              reject: set[int] = frozenset()) -> float:
    for ue in w.ues:
        if ue.index in skip:
            continue
        t = registration(w, ue, t + 0.05)
        t = msk_request(w, ue, t + 0.05, msk, reject=ue.index in reject)
    return t + 0.2


def basic(w: World, opts: Options) -> None:
    msk = w.new_msk()
    t = _join_all(w, EPOCH, msk)
    hooks = {}
    if opts.msk_period > 0:
        k = 1
        while opts.msk_period * k < opts.duration:
            hooks[t + opts.msk_period * k] = lambda when: _push_all(w, when)
            k += 1
    Stream(w, opts).run(t, t + opts.duration, msk, hooks)


def _push_all(w: World, t: float, no_ack: set[int] = frozenset(),
              missed: set[int] = frozenset()) -> Msk:
    msk = w.new_msk()
    for ue in w.ues:
        t = deliver_msk(w, ue, t, msk, ack=ue.index not in no_ack and ue.index not in missed,
                        received=ue.index not in missed)
    return msk


def push(w: World, opts: Options) -> None:
    msk = w.new_msk()
    t = _join_all(w, EPOCH, msk)
    last = w.ues[-1].index
    Stream(w, opts).run(t, t + opts.duration, msk,
                        {t + opts.duration / 2: lambda when: _push_all(w, when, no_ack={last})})


def solicited_pull(w: World, opts: Options, window: float = 5.0) -> None:
    msk = w.new_msk()
    t = _join_all(w, EPOCH, msk)
    mid = t + opts.duration / 3

    def pull(when: float) -> Msk:
        new = w.new_msk()
        for ue in w.ues:
            solicit(w, ue, when)
        for ue in w.ues:  # each UE asks after its own delay (request spreading)
            delay = w.rng.uniform(0.1, window)
            msk_request(w, ue, when + delay, new, stale=(ue.index == min(1, len(w.ues) - 1)))
        return new

    stream = Stream(w, opts)
    stream.run(t, mid + window + 0.5, msk, {mid: lambda when: pull(when) and None})
    stream.run(mid + window + 0.5, t + opts.duration, w.msks[-1])


def missed_update(w: World, opts: Options) -> None:
    msk = w.new_msk()
    t = _join_all(w, EPOCH, msk)
    late = w.ues[-1]
    mid = t + opts.duration / 3

    def back_in_coverage(when: float) -> None:
        msk_request(w, late, when, w.msks[-1])

    Stream(w, opts).run(t, t + opts.duration, msk, {
        mid: lambda when: _push_all(w, when, missed={late.index}),
        mid + 3.0: back_in_coverage})


def reject(w: World, opts: Options) -> None:
    msk = w.new_msk()
    refused = w.ues[-1]
    t = _join_all(w, EPOCH, msk, reject={refused.index})
    t = deregistration(w, refused, t)  # no MSK, no still-valid older one: it leaves
    Stream(w, opts).run(t + 0.2, t + 0.2 + opts.duration, msk)


def attacks(w: World, opts: Options) -> None:
    msk = w.new_msk()
    t = _join_all(w, EPOCH, msk)
    stream = Stream(w, opts)
    end = t + opts.duration

    def replay(when: float) -> None:
        # the first MTK message again once a newer one was sent (the latest one sent
        # again unchanged would be a legitimate re-send, TS 33.246 §6.4.3 NOTE)
        old = next(f for f in w.frames if f.note.startswith("mtk "))
        w.emit(max(when, t + opts.mtk_period + 0.1), old.data, "attack: replayed mtk message")
        w.expect("mtk_update", None, "failed", "mikey.replay")

    def forge(when: float) -> None:
        raw = bytearray(w.mtk_message(msk, 999))
        raw[-1] ^= 0x5A  # a forged MAC
        msk.mtks.pop()  # (no key a receiver takes: not in the truth's MTKs)
        w.multicast_mikey(when, bytes(raw), "attack: forged mac")
        w.expect("mtk_update", None, "failed", "mikey.mac_bad")

    def unknown_mki(when: float) -> None:
        for n in range(3):
            w.srtp_packet(when + n * 0.001, msk.msk_id + b"\xff\xfe", "attack: unknown mki")
        w.expected_findings.add("srtp.unknown_mki")

    def truncated(when: float) -> None:
        ue = w.ues[0]
        w.send_mikey_to_ue(when, ue, w.msk_message(ue, msk)[:37], "attack: truncated mikey")
        w.expected_findings.add("mikey.malformed")

    def garbage(when: float) -> None:
        w.emit(when, udp_frame("10.66.6.6", 31337, w.bmsc_ip, MIKEY_PORT, w.rng.randbytes(93),
                               w.next_ident()), "attack: garbage on the mikey port")
        w.garbage = True

    span = opts.duration
    stream.run(t, end, msk, {t + span * 0.3: replay, t + span * 0.4: forge,
                             t + span * 0.5: unknown_mki, t + span * 0.6: truncated,
                             t + span * 0.7: garbage})


def interop(w: World, opts: Options) -> None:
    """What equipment of other vendors does (issue #11): see the module table."""
    msk = w.new_msk()
    late = w.ues[-1]
    t = _join_all(w, EPOCH, msk, skip={late.index})
    rate = opts.rate if opts.rate > 0 else 50.0
    step, per_mtk = 1.0 / rate, max(4, round(opts.mtk_period * rate))
    # stream A wraps in the middle of its first MTK, B exactly where the second begins
    a = RtpStream(w.rng.getrandbits(32), 65536 - per_mtk // 2, 5004)
    b = RtpStream(w.rng.getrandbits(32), 65536 - per_mtk, 5006)
    mtk_id, mki, cur = 0, b"", msk
    ahead = min(0.25, opts.mtk_period / 4)  # MTK messages go out before the switch

    def announce(at: float, under: Msk, damaged_first: bool = False,
                 resend: bool = False) -> bytes:
        nonlocal mtk_id
        mtk_id += 1
        raw = w.mtk_message(under, mtk_id)
        note = f"mtk {under.msk_id.hex()}/{mtk_id}"
        if damaged_first:  # cut short on the way; the BM-SC's periodic re-send is intact
            w.multicast_mikey(at - ahead, raw[:-7], note + " (damaged)")
            w.expect("mtk_update", None, "failed", "mikey.malformed")
            w.multicast_mikey(at - ahead + 0.05, raw, note + " (re-sent)")
        else:
            w.multicast_mikey(at - ahead, raw, note)
        w.expect("mtk_update", None, "success")
        if resend:  # sent again unchanged for reliability (TS 33.246 §6.3.3.2.2)
            w.multicast_mikey(at + 0.5, raw, note + " (periodic re-send)")
            w.expect("mtk_update", None, "success")
        return under.msk_id + mtk_id.to_bytes(2, "big")

    def push(at: float) -> Msk:
        """One MSK to every UE with one CSB ID; the acks come back after all pushes, in
        random order, every other one with its IDr."""
        new = w.new_msk()
        csb = int.from_bytes(new.msk_id, "big")
        acks = []
        for n, ue in enumerate(u for u in w.ues if u is not late):
            w.send_mikey_to_ue(at + n * 0.013, ue, w.msk_message(ue, new, v=1, csb=csb),
                               f"push {new.msk_id.hex()} ue{ue.index}")
            ue.msks.add(new.msk_id)
            acks.append((ue, w.ack_for_last(with_idr=n % 2 == 0)))
            w.expect("msk_push", ue, "success")
        w.rng.shuffle(acks)
        for n, (ue, raw) in enumerate(acks):
            w.send_mikey_from_ue(at + 0.1 + n * 0.011, ue, raw, f"ack ue{ue.index}")
        return new

    end = t + opts.duration
    switch, changes, now, pushed = t, 0, t, None
    while now < end:
        if now >= switch:
            changes += 1
            if changes == 3:
                pushed = push(now - 1.0)
                cur = pushed
            mki = announce(now, cur, damaged_first=changes == 4, resend=changes == 2)
            switch = now + per_mtk * step
        for stream in (a, b):
            if stream is a and a.index == 65535:  # a reordered pair across the wrap
                w.emit(now + 0.005, w.srtp_wire(mki, a.ssrc, 65536, a.port), "srtp a (early)")
                w.emit(now + 0.006, w.srtp_wire(mki, a.ssrc, 65535, a.port), "srtp a (late)")
                a.index = 65537
            else:
                w.srtp_packet(now + 0.005 + (0.002 if stream is b else 0.0), mki,
                              f"srtp {'ab'[stream is b]}", stream)
        now += step
    # an MTK ID above the MSK's window (SEQu fffe): a conformant ME refuses it
    w.multicast_mikey(end, w.mtk_message(cur, 0xFFFF), "mtk ffff (outside the KV window)")
    w.expect("mtk_update", None, "success", "mikey.mtk_window")
    # the UE that never joined is solicited (key IDs 0) and refused for the whole message
    solicit(w, late, end + 0.1)
    msk_request(w, late, end + 0.6, pushed or msk, reject="message")


def storm(w: World, opts: Options) -> None:
    """Every UE already holds MSK 1; one solicitation to all at once, all ask within a second."""
    old = w.new_msk()
    for ue in w.ues:
        ue.msks.add(old.msk_id)
    new = w.new_msk()
    t = EPOCH
    for ue in w.ues:
        solicit(w, ue, t + ue.index * 1e-5)
    for ue in w.ues:
        msk_request(w, ue, t + 0.2 + w.rng.uniform(0.0, 1.0), new)
    if len(w.ues) >= STORM_THRESHOLD:  # all ask within a second: the analyzer's storm rule
        w.expected_findings.add("bmsc.request_storm")


def mixed(w: World, opts: Options) -> None:
    basic(w, opts)
    first, last = w.frames[0].time, max(f.time for f in w.frames)
    hosts = [f"192.168.{n // 200}.{n % 200 + 20}" for n in range(40)]
    count = 20 * len(w.frames)
    for n in range(count):
        t = first + (last - first) * w.rng.random()
        a, b = w.rng.sample(hosts, 2)
        kind = n % 10
        if kind < 6:  # DNS-like queries
            w.emit(t, udp_frame(a, 30000 + n % 20000, b, 53, w.rng.randbytes(w.rng.randint(30, 90)),
                                w.next_ident()), "noise dns")
        elif kind < 9:  # plain RTP on another port
            rtp = bytes([0x80, 8]) + (n & 0xFFFF).to_bytes(2, "big") + w.rng.randbytes(168)
            w.emit(t, udp_frame(a, 6000, b, 6000, rtp, w.next_ident()), "noise rtp")
        else:  # web traffic that is not MBMS
            page = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 12\r\n\r\n<html></html>"
            w.emit(t, tcp_frame(b, HTTP_PORT, a, 50000 + n % 10000, 1, 1, 0x18, page[:-1],
                                w.next_ident()), "noise web")


SCENARIOS = {
    "basic": basic,
    "push": push,
    "solicited-pull": solicited_pull,
    "missed-update": missed_update,
    "reject": reject,
    "attacks": attacks,
    "storm": storm,
    "mixed": mixed,
    "download": download,
    "interop": interop,
}

#: The default number of UEs per scenario.
DEFAULT_UES = {"storm": 1000, "interop": 4}


def run(name: str, seed: int = 1, opts: Options = Options()) -> World:
    """Simulate scenario *name*; the world holds the frames and the ground truth."""
    world = World(seed, opts.ues, rcc=opts.rcc, rcc_r=opts.rcc_r, conventions=opts.conventions)
    SCENARIOS[name](world, opts)
    return world
