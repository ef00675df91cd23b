"""The simulated MBMS world: one BM-SC, N UEs, their keys, and the frames they exchange.

Everything is derived from one seed (``random.Random``), timestamps from a fixed
epoch: the same options give byte-identical captures. Keys follow the product's
hierarchy: each UE's MUK is its GBA Ks_int_NAF for the BM-SC (TS 33.220 Annex B,
:func:`analyzer.crypto.gba.muk_from_gba`); the BM-SC's HTTP digest password for a
UE is the base64 of its Ks_NAF [U: TS 33.246 §6.2.1.3 unread]; MSKs are delivered
under MUKs (V=1, acknowledged), MTKs under MSKs, SRTP under the current MTK with
MKI = MSK ID || MTK ID.
"""

from __future__ import annotations

import base64
import random
import struct
from dataclasses import dataclass, field
from typing import Any

from analyzer.crypto.gba import ks_naf, muk_from_gba, naf_id
from analyzer.crypto.srtp import SUITES, SrtpContext
from analyzer.lab.frames import tcp_frame, udp_frame
from analyzer.lab.mikey_build import key_ids_ext, psk_message, verification_message
from dissectors.digest import DigestParams, expected_response
from dissectors.mikey import MIKEY_KeyData

EPOCH = 1_700_000_000.0
MIKEY_PORT = 2269
HTTP_PORT = 80
RTP_PORT = 5004
MSS = 1460
REALM_PREFIX = "3GPP-bootstrapping@"


@dataclass
class Frame:
    """One frame of the simulation: when, the bytes, and what it is (ground truth)."""

    time: float
    data: bytes
    note: str = ""


@dataclass
class UE:
    """A UE: its address, GBA identity and keys, and its MIKEY replay counter."""

    index: int
    ip: str
    impi: str
    btid: str
    ks: bytes = field(repr=False)
    gba_rand: bytes = field(repr=False)
    muk: bytes = field(repr=False)
    password: str = field(repr=False)
    mikey_counter: int = 0  # the per-MUK timestamp counter (EF_MUK, TS 31.102 §4.2.81)
    msks: set[bytes] = field(default_factory=set)
    solicited: bool = False  # a solicitation came: its next MSK request answers it


@dataclass
class RtpStream:
    """A further SRTP stream of the world: SSRC, packet index (ROC || SEQ), UDP port."""

    ssrc: int
    index: int
    port: int = 5006


@dataclass
class Msk:
    """An MSK and its MTKs (ground truth)."""

    kd: bytes
    msk_id: bytes
    key: bytes = field(repr=False)
    #: the MIKEY-RAND of its MSK messages, the same for every UE (TS 33.246 §6.4.5.1);
    #: MTK messages under it are derived from it (§6.4.5.3)
    rand: bytes = field(default=b"", repr=False)
    counter: int = 0  # MTK message counter under this MSK
    mtks: list[dict[str, Any]] = field(default_factory=list)


class World:
    """The BM-SC, its UEs and the frames, with helpers for every procedure."""

    def __init__(self, seed: int, ues: int, fqdn: str = "bmsc.example.org",
                 bmsc_ip: str = "10.0.0.1", group: str = "232.0.0.1", rcc: int = 0,
                 rcc_r: int = 1, conventions: str = "spec") -> None:
        #: ``spec``: MIKEY as TS 33.246 §6.4 writes it (one RAND per MSK for all UEs, none
        #: in MTK messages; the MSK a TEK with KV 0000..fffe; IDi/IDr NAIs; acks with IDr;
        #: the trigger's Key Number 0 under its Key Group). ``legacy``: this lab's first
        #: conventions (a RAND per message, also in MTK messages; the MSK a TGK with KV
        #: 0001..ffff; URI IDs; acks without IDr; the trigger's MSK ID 00000000)
        if conventions not in ("spec", "legacy"):
            raise ValueError(f"conventions: spec or legacy, not {conventions!r}")
        self.spec = conventions == "spec"
        #: RFC 4771 mode (1..3 = RCCm1..RCCm3; 0: plain RFC 3711 tags) and R: with a mode,
        #: MSK messages carry the SRTP SP of TS 33.246 §6.6.2.1 and SRTP carries the ROC
        self.rcc, self.rcc_r = rcc, rcc_r
        self.rng = random.Random(seed)
        self.fqdn = fqdn
        self.bmsc_ip = bmsc_ip
        self.group = group
        self.kd = bytes.fromhex("02f810")
        self.frames: list[Frame] = []
        self.msks: list[Msk] = []
        #: files of a download session (ground truth of the ``download`` scenario)
        self.downloads: list[dict[str, Any]] = []
        self.ues = [self._make_ue(n) for n in range(ues)]
        self._ident = 0
        self._port = 40000
        self._nonce = 0
        self._ssrc = self.rng.getrandbits(32)
        self._rtp_seq = self.rng.getrandbits(16)
        self._rtp_ts = self.rng.getrandbits(32)
        self._srtp: dict[bytes, SrtpContext] = {}
        #: the story an analyzer must tell (ground truth): (procedure, UE or None, outcome)
        #: of every procedure, and the finding codes the traffic calls for
        self.expected: list[tuple[str, str | None, str]] = []
        self.expected_findings: set[str] = set()
        self.garbage = False
        #: HTTP exchanges as (start time, UE, [(request, response), ...]) for live sending
        self.exchanges: list[tuple[float, UE, list[tuple[bytes, bytes]]]] = []

    # ------------------------------------------------------------------ identities

    def _make_ue(self, n: int) -> UE:
        ks = self.rng.randbytes(32)
        rand = self.rng.randbytes(16)
        impi = f"00101{n:010d}@ims.mnc001.mcc001.3gppnetwork.org"
        btid = base64.b64encode(rand).decode() + "@bsf.example.org"
        nafid = naf_id(self.fqdn)
        return UE(n, f"10.{1 + n // 65025}.{(n // 255) % 255}.{1 + n % 255}", impi, btid, ks,
                  rand, muk_from_gba(ks, rand, impi, self.fqdn),
                  base64.b64encode(ks_naf(ks, rand, impi, nafid)).decode())

    def next_ident(self) -> int:
        self._ident = (self._ident + 1) & 0xFFFF
        return self._ident

    def emit(self, time: float, data: bytes, note: str = "") -> None:
        self.frames.append(Frame(time, data, note))

    # ------------------------------------------------------------------ keys

    def new_msk(self) -> Msk:
        group = 1
        number = len(self.msks) + 1
        msk = Msk(self.kd, struct.pack("!HH", group, number), self.rng.randbytes(16))
        if self.spec:
            msk.rand = self.rng.randbytes(16)
        self.msks.append(msk)
        return msk

    # ------------------------------------------------------------------ MIKEY

    def msk_message(self, ue: UE, msk: Msk | None, v: int = 1, counter: int | None = None,
                    csb: int | None = None) -> bytes:
        """An MSK message for *ue* (key IDs 0 and no key data when *msk* is None: a
        solicitation); *csb*: the CSB ID (random by default; a BM-SC may give every UE
        the same one for one MSK)."""
        ue.mikey_counter += 1
        rand = msk.rand if self.spec and msk is not None else self.rng.randbytes(16)
        csb = self.rng.getrandbits(32) if csb is None else csb
        if msk is None:  # the trigger: Key Number 0 (spec: under the Key Group in use)
            group = self.msks[-1].msk_id[:2] if self.spec and self.msks else b"\x00\x00"
            keys, ext = [], key_ids_ext(self.kd, group + b"\x00\x00")
        elif self.spec:
            # a TEK with its KV interval of MTK IDs (TS 33.246 §6.4.5.1, §6.5.4): SEQl
            # exclusive, so 0000 lets MTK 0001 in; SEQu never the maximum
            keys = [MIKEY_KeyData(next_payload=0, key_type=2, kv=2, key_data=msk.key,
                                  valid_from=b"\x00\x00", valid_to=b"\xff\xfe")]
            ext = key_ids_ext(msk.kd, msk.msk_id)
        else:
            keys = [MIKEY_KeyData(next_payload=0, key_type=0, kv=2, key_data=msk.key,
                                  valid_from=b"\x00\x01", valid_to=b"\xff\xff")]
            ext = key_ids_ext(msk.kd, msk.msk_id)
        raw = psk_message(ue.muk, csb, rand, ue.mikey_counter if counter is None else counter, keys, ext,
                          self.fqdn.encode(), ue.btid.encode(), v=v, sp=self.srtp_sp(),
                          id_type=0 if self.spec else 1)
        self._last_msk = (ue, csb, rand, ue.mikey_counter if counter is None else counter)
        return raw

    def srtp_sp(self) -> dict[int, int] | None:
        """The SP of the MSK messages with RCC (RFC 3830 §6.10.1, RFC 4771 §4): AES-CM
        128, the RCC mode as the SRTP auth alg (type 14), tag length 14 (ROC and an
        80-bit MAC, TS 33.246 §6.6.2.1 NOTE 3), R (type 13); None without RCC."""
        if not self.rcc:
            return None
        return {0: 1, 1: 16, 2: 1, 14: self.rcc + 1, 11: 14, 13: self.rcc_r}

    def ack_for_last(self, with_idr: bool | None = None) -> bytes:
        """The verification message of the UE for the last MSK message built (with its
        IDr as TS 33.246 §6.4.5.2 requires; *with_idr* overrides the conventions)."""
        ue, csb, rand, counter = self._last_msk
        with_idr = self.spec if with_idr is None else with_idr
        if not with_idr:  # IDr is mandatory (TS 33.246 §6.4.5.2): a tolerated variant
            self.expected_findings.add("mikey.ack_no_idr")
        return verification_message(ue.muk, csb, rand, counter, self.fqdn.encode(),
                                    ue.btid.encode(), with_idr=with_idr)

    def mtk_message(self, msk: Msk, mtk_id: int) -> bytes:
        """An MTK message under *msk* carrying a new MTK and salt (TEK+SALT)."""
        msk.counter += 1
        key, salt = self.rng.randbytes(16), self.rng.randbytes(14)
        mid = struct.pack("!H", mtk_id)
        msk.mtks.append({"mtk_id": mid.hex(), "key": key.hex(), "salt": salt.hex()})
        self._srtp[msk.msk_id + mid] = SrtpContext(self._suite(), key, salt,
                                                   mki=msk.msk_id + mid, rcc=self.rcc,
                                                   rcc_r=self.rcc_r)
        data = [MIKEY_KeyData(next_payload=0, key_type=3, kv=0, key_data=key, salt=salt)]
        csb = self.rng.getrandbits(32)
        rand, key_rand = self.mtk_rand(msk)
        return psk_message(msk.key, csb, rand, msk.counter, data,
                           key_ids_ext(msk.kd, msk.msk_id, mid), key_rand=key_rand)

    def mtk_rand(self, msk: Msk) -> tuple[bytes | None, ...]:
        """(the RAND payload of an MTK message, the RAND its keys come from): spec, none
        and the MSK's (TS 33.246 §6.4.5.3); legacy, one of its own for both."""
        if self.spec:
            return None, msk.rand
        rand = self.rng.randbytes(16)
        return rand, rand

    def _suite(self):
        """The SRTP suite of the MTK streams (tag 14 bytes with RCC: ROC || 80-bit MAC)."""
        if not self.rcc:
            return SUITES["AES_CM_128_HMAC_SHA1_80"]
        from analyzer.crypto.srtp_policy import SrtpPolicy
        return SrtpPolicy(1, 16, self.rcc + 1, 14, self.rcc_r).suite()

    def send_mikey_to_ue(self, t: float, ue: UE, raw: bytes, note: str) -> None:
        self.emit(t, udp_frame(self.bmsc_ip, MIKEY_PORT, ue.ip, MIKEY_PORT, raw, self.next_ident()),
                  note)

    def send_mikey_from_ue(self, t: float, ue: UE, raw: bytes, note: str) -> None:
        self.emit(t, udp_frame(ue.ip, MIKEY_PORT, self.bmsc_ip, MIKEY_PORT, raw, self.next_ident()),
                  note)

    def multicast_mikey(self, t: float, raw: bytes, note: str) -> None:
        self.emit(t, udp_frame(self.bmsc_ip, MIKEY_PORT, self.group, MIKEY_PORT, raw,
                               self.next_ident()), note)

    # ------------------------------------------------------------------ SRTP

    def srtp_packet(self, t: float, mki: bytes, note: str = "srtp",
                    stream: "RtpStream | None" = None) -> None:
        """One 20 ms PCMU packet (PT 0, 160 bytes) protected with the MTK named by *mki*
        (of the world's stream, or of *stream*: its own SSRC, index and port)."""
        if stream is None:
            ssrc, index, port = self._ssrc, self._rtp_seq, RTP_PORT
            self._rtp_seq += 1
        else:
            ssrc, index, port = stream.ssrc, stream.index, stream.port
            stream.index += 1
        self.emit(t, self.srtp_wire(mki, ssrc, index, port), note)

    def srtp_wire(self, mki: bytes, ssrc: int, index: int, port: int = RTP_PORT) -> bytes:
        """The frame of the SRTP packet of packet index *index* (ROC || SEQ) of *ssrc*."""
        ctx = self._srtp.get(mki)
        seq, roc = index & 0xFFFF, index >> 16
        rtp = struct.pack("!BBHII", 0x80, 0, seq, self._rtp_ts & 0xFFFFFFFF, ssrc) \
            + bytes(0xFF ^ (self.rng.getrandbits(4)) for _ in range(160))
        self._rtp_ts += 160
        if ctx is None:  # an MKI nobody knows (attacks): random key
            ctx = SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"], self.rng.randbytes(16),
                              self.rng.randbytes(14), mki=mki)
        wire = ctx.protect(rtp, 12, roc=roc)
        return udp_frame(self.bmsc_ip, port, self.group, port, wire, self.next_ident())

    # ------------------------------------------------------------------ HTTP over TCP

    def http_exchange(self, t: float, ue: UE, pairs: list[tuple[bytes, bytes]],
                      note: str, gap: float = 0.004) -> float:
        """A keep-alive TCP connection from *ue* to the BM-SC carrying request/response *pairs*.

        Handshake, MSS-sized segments each acknowledged, and FIN teardown. Returns the end time.
        """
        self.exchanges.append((t, ue, pairs))
        self._port = 40000 + (self._port - 39999) % 20000
        cport = self._port
        c_isn, s_isn = self.rng.getrandbits(32), self.rng.getrandbits(32)
        cseq, sseq = c_isn + 1, s_isn + 1
        c, s = ue.ip, self.bmsc_ip
        self.emit(t, tcp_frame(c, cport, s, HTTP_PORT, c_isn, 0, 0x02, ident=self.next_ident()), note)
        t += gap / 4
        self.emit(t, tcp_frame(s, HTTP_PORT, c, cport, s_isn, cseq, 0x12, ident=self.next_ident()), note)
        t += gap / 4
        self.emit(t, tcp_frame(c, cport, s, HTTP_PORT, cseq, sseq, 0x10, ident=self.next_ident()), note)
        for request, response in pairs:
            t, cseq = self._send_data(t, gap, (c, cport, s, HTTP_PORT), cseq, sseq, request, note)
            t += gap
            t, sseq = self._send_data(t, gap, (s, HTTP_PORT, c, cport), sseq, cseq, response, note)
        t += gap / 4
        self.emit(t, tcp_frame(c, cport, s, HTTP_PORT, cseq, sseq, 0x11, ident=self.next_ident()), note)
        t += gap / 4
        self.emit(t, tcp_frame(s, HTTP_PORT, c, cport, sseq, cseq + 1, 0x11, ident=self.next_ident()), note)
        t += gap / 4
        self.emit(t, tcp_frame(c, cport, s, HTTP_PORT, cseq + 1, sseq + 1, 0x10,
                               ident=self.next_ident()), note)
        return t

    def _send_data(self, t: float, gap: float, path: tuple[str, int, str, int], seq: int,
                   ack: int, data: bytes, note: str) -> tuple[float, int]:
        """MSS-sized segments of *data* along *path* (src, sport, dst, dport), then the
        peer's ACK; returns the time after it and the sender's next sequence number."""
        src, sport, dst, dport = path
        for start in range(0, len(data), MSS):
            piece = data[start:start + MSS]
            t += gap / 8
            self.emit(t, tcp_frame(src, sport, dst, dport, seq, ack, 0x18, piece,
                                   self.next_ident()), note)
            seq += len(piece)
        t += gap / 8
        self.emit(t, tcp_frame(dst, dport, src, sport, ack, seq, 0x10, ident=self.next_ident()),
                  note)
        return t, seq

    def nonce(self) -> str:
        self._nonce += 1
        return base64.b64encode(self.rng.randbytes(12) + struct.pack("!I", self._nonce)).decode()

    def authorization(self, ue: UE, method: str, uri: str, nonce: str,
                      body: bytes = b"") -> str:
        """The UE's Authorization header for a challenge with *nonce* (RFC 7616, MD5): qop
        ``auth-int`` over *body*, the default of TS 33.246 H.2.1 (legacy: ``auth``); the
        password is base64(MRK) (Annex F)."""
        cnonce = base64.b64encode(self.rng.randbytes(8)).decode()
        qop = "auth-int" if self.spec else "auth"
        creds = DigestParams("Digest", {"username": ue.btid, "realm": REALM_PREFIX + self.fqdn,
                                        "nonce": nonce, "uri": uri, "qop": qop,
                                        "nc": "00000001", "cnonce": cnonce, "algorithm": "MD5"})
        response = expected_response(creds, ue.password, method, body)
        return (f'Digest username="{ue.btid}", realm="{REALM_PREFIX}{self.fqdn}", '
                f'nonce="{nonce}", uri="{uri}", qop={qop}, nc=00000001, cnonce="{cnonce}", '
                f'algorithm=MD5, response="{response}"')

    # ------------------------------------------------------------------ output helpers

    def sorted_frames(self) -> list[Frame]:
        """The frames in time order (stable for equal times)."""
        return sorted(self.frames, key=lambda f: f.time)

    def keys_toml(self) -> str:
        """The key file a user would have: each UE's MUK and digest password."""
        out = [f"# Lab keys: the MUK and HTTP digest password of each of {len(self.ues)} UEs.",
               "# MSKs, MTKs and SRTP keys are learned from the capture."]
        for ue in self.ues:
            out += ["", "[[muk]]", f'idr = "{ue.btid}"', f'idi = "{self.fqdn}"',
                    f'key = "{ue.muk.hex()}"', "", "[[digest]]", f'btid = "{ue.btid}"',
                    f'password = "{ue.password}"']
        return "\n".join(out) + "\n"

    def expect(self, procedure: str, ue: UE | None, outcome: str, *findings: str) -> None:
        """Record a procedure the traffic holds (and the findings it calls for)."""
        self.expected.append((procedure, ue.ip if ue is not None else None, outcome))
        self.expected_findings.update(findings)

    def truth(self) -> dict[str, Any]:
        """Ground truth: every key the simulation made, every procedure with its outcome,
        and the finding codes an analyzer must report (TS 33.246 read as the lab reads it;
        the legacy conventions add their deviations)."""
        findings = set(self.expected_findings)
        if not self.spec:
            if any(m.mtks for m in self.msks):
                findings |= {"mikey.mtk_rand", "mikey.mtk_window"}
        return {
            #: (a capture with garbage on the MIKEY port also gets the dissector's codes for it)
            "garbage": self.garbage,
            "procedures": [{"procedure": p, "ue": ue, "outcome": o} for p, ue, o in self.expected],
            "findings": sorted(findings),
            "bmsc": {"ip": self.bmsc_ip, "fqdn": self.fqdn, "group": self.group},
            "ues": [{"ip": u.ip, "btid": u.btid, "impi": u.impi, "muk": u.muk.hex(),
                     "ks": u.ks.hex(), "gba_rand": u.gba_rand.hex()} for u in self.ues],
            "msks": [{"key_domain": m.kd.hex(), "msk_id": m.msk_id.hex(), "key": m.key.hex(),
                      "mtks": m.mtks} for m in self.msks],
            "srtp": {"ssrc": self._ssrc, "suite": self._suite().name,
                     "mki": "msk_id || mtk_id",
                     **({"rcc": f"RCCm{self.rcc}", "r": self.rcc_r} if self.rcc else {})},
            **({"downloads": self.downloads} if self.downloads else {}),
        }
