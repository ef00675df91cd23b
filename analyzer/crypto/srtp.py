"""SRTP and SRTCP transforms - RFC 3711 (and RFC 6188 AES-256-CM).

* Key derivation (§4.3): ``r = index DIV kdr`` (0 when kdr = 0); ``x = (label || r)
  XOR master_salt``; session key = AES-CM keystream of the master key at IV
  ``x * 2^16``. Labels 0/1/2 for SRTP encryption/authentication/salt, 3/4/5 for SRTCP.
* AES-CM (§4.1.1): ``IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16)``.
* Authentication (§4.2): HMAC-SHA-1 over the authenticated portion (header and
  encrypted payload; for SRTCP also ``E || SRTCP index``) followed, for SRTP, by
  the 32-bit ROC; truncated to 80 or 32 bits. The MKI is not authenticated.
* ROC (Appendix A): the index is estimated from the highest sequence number
  seen, so wrap-around, loss and reordering keep decrypting; the state only
  advances on packets that authenticate.
* RFC 4771 (RCC, mandatory in MBMS, TS 33.246 §6.6.2.1): packets with SEQ mod R
  = 0 carry ``ROC_sender || MAC`` (the MAC over the authenticated portion ||
  ROC_sender, truncated to the tag length - 4) in RCCm1 and RCCm2, only the ROC in
  RCCm3; the other packets carry the plain tag (RCCm2) or none (RCCm1, RCCm3).
  A receiver adopts ROC_sender once the MAC verifies (RCCm3 has no MAC to wait
  for): so it learns the ROC when it joins mid-stream.

The keystream comes from one reusable AES-CTR context per session key, re-aimed
per packet with ``reset_nonce``, and the HMAC from padded-key SHA-1 states
computed once: much cheaper per packet than new contexts (``bench/bench_srtp.py``).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from dissectors.srtp import is_rtcp

LABEL_RTP_ENCR, LABEL_RTP_AUTH, LABEL_RTP_SALT = 0, 1, 2
LABEL_RTCP_ENCR, LABEL_RTCP_AUTH, LABEL_RTCP_SALT = 3, 4, 5
AUTH_KEY_LEN = 20
_SEQ_SSRC = struct.Struct("!H4xI").unpack_from
SALT_LEN = 14


@dataclass(frozen=True)
class Suite:
    """An SRTP crypto suite (RFC 4568 names; RFC 6188 for AES-256).

    Attributes:
        name: the SDES name.
        cipher: ``AES_CM`` or ``NULL``.
        key_len: master (and session) encryption key bytes.
        tag_len: SRTP authentication tag bytes (the SRTCP tag is 80 bits for all).
    """

    name: str
    cipher: str
    key_len: int
    tag_len: int
    rtcp_tag_len: int = 10


SUITES: dict[str, Suite] = {s.name: s for s in (
    Suite("AES_CM_128_HMAC_SHA1_80", "AES_CM", 16, 10),
    Suite("AES_CM_128_HMAC_SHA1_32", "AES_CM", 16, 4),
    Suite("AES_256_CM_HMAC_SHA1_80", "AES_CM", 32, 10),
    Suite("AES_256_CM_HMAC_SHA1_32", "AES_CM", 32, 4),
    Suite("NULL_HMAC_SHA1_80", "NULL", 16, 10),
    Suite("NULL_HMAC_SHA1_32", "NULL", 16, 4),
)}

def _estimate(roc: int, s_l: int, seq: int) -> int:
    """RFC 3711 Appendix A: the ROC of *seq* given the highest sequence number *s_l*
    seen under *roc*."""
    if s_l < 32768:
        return roc - 1 if seq - s_l > 32768 and roc else roc
    return (roc + 1) & 0xFFFFFFFF if s_l - 32768 > seq else roc


class _KeyStream:
    """AES-CM for one key (RFC 3711 §4.1.1), as AES-CTR.

    AES-CM is CTR mode with the IV as the initial counter block (no carry leaves
    the low 16 bits: a packet is far shorter than 2^16 blocks). One CTR context
    is made per session key and re-aimed per packet with ``reset_nonce``
    (cryptography >= 43): per packet that is two C calls, with no new context.
    """

    __slots__ = ("_ctr",)

    def __init__(self, key: bytes) -> None:
        self._ctr = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()

    def xor(self, iv: int, data: bytes) -> bytes:
        """*data* XOR the keystream starting at counter block *iv*."""
        ctr = self._ctr
        ctr.reset_nonce(iv.to_bytes(16, "big"))
        return ctr.update(data)


def derive_session_key(master_key: bytes, master_salt: bytes, label: int, r: int, n: int) -> bytes:
    """RFC 3711 §4.3.1: *n* bytes of session key for *label* and ``r = index DIV kdr``."""
    return _derive(master_key, master_salt, r, ((label, n),))[0]


#: the 16-bit block counters of a key derivation's keystream (at most 128 bytes)
_BLOCK_COUNTERS = [i.to_bytes(2, "big") for i in range(8)]


def _derive(master_key: bytes, master_salt: bytes, r: int,
            wanted: tuple[tuple[int, int], ...]) -> list[bytes]:
    """RFC 3711 §4.3.1 for several labels at once: for each (label, n), n bytes of the
    AES-CM keystream of the master key at IV ``((label || r) XOR salt) * 2^16``.

    One AES-ECB call over the counter blocks of all of them (AES-CM is AES of the
    counter blocks): a key tried on a packet costs one cipher context, not one per
    label (most keys tried never open a packet)."""
    salt = int.from_bytes(master_salt.ljust(SALT_LEN, b"\x00")[:SALT_LEN], "big")
    blocks, sizes = [], []
    for label, n in wanted:
        prefix = (salt ^ ((label << 48) | r)).to_bytes(14, "big")
        count = -(-n // 16)
        if count > len(_BLOCK_COUNTERS):
            raise ValueError(f"session key of {n} bytes: at most {16 * len(_BLOCK_COUNTERS)}")
        blocks.append(prefix.join([b""] + _BLOCK_COUNTERS[:count]))
        sizes.append(n)
    stream = Cipher(algorithms.AES(master_key), modes.ECB()).encryptor().update(b"".join(blocks))
    out, at = [], 0
    for block, n in zip(blocks, sizes):
        out.append(stream[at:at + n])
        at += len(block)
    return out


#: byte XOR 0x36 and 0x5C (RFC 2104's ipad and opad), as translation tables
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


class _Hmac:
    """HMAC-SHA-1 (RFC 2104) with the padded-key states computed once per session key.

    Per message this costs two C-level hash copies; ``hmac.HMAC.copy`` goes through
    more Python-level calls for the same result.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        block = (hashlib.sha1(key).digest() if len(key) > 64 else key).ljust(64, b"\x00")
        self._inner = hashlib.sha1(block.translate(_IPAD))
        self._outer = hashlib.sha1(block.translate(_OPAD))

    def digest(self, data: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


class _SessionKeys:
    """The session keys of one master key, label base (SRTP or SRTCP) and ``r``
    (RFC 3711 §4.3). The authentication key is derived at once - every packet tried
    needs it -; the encryption key and salt with it when *eager* (a key its MKI
    names: its packets nearly always authenticate), else when a packet first
    authenticates (most keys tried by their tag never open one); the AES-CM context
    when a payload is first decrypted (``export`` only authenticates)."""

    __slots__ = ("auth", "_master", "_r", "_base", "_key_len", "_aes", "_enc", "_cipher",
                 "_salt")

    def __init__(self, master_key: bytes, master_salt: bytes, base: int, r: int,
                 key_len: int, aes: bool, eager: bool = False) -> None:
        self._master, self._r, self._base = (master_key, master_salt), r, base
        self._key_len, self._aes = key_len, aes
        self._cipher: _KeyStream | None = None
        self._enc = b""
        self._salt: int | None = None
        if eager:
            auth, enc, salt = _derive(master_key, master_salt, r,
                                      ((base + 1, AUTH_KEY_LEN), (base, key_len),
                                       (base + 2, SALT_LEN)))
            self._enc, self._salt = enc, int.from_bytes(salt, "big") << 16
        else:
            (auth,) = _derive(master_key, master_salt, r, ((base + 1, AUTH_KEY_LEN),))
        self.auth = _Hmac(auth)

    def _rest(self) -> None:
        enc, salt = _derive(*self._master, self._r,
                            ((self._base, self._key_len), (self._base + 2, SALT_LEN)))
        self._enc, self._salt = enc, int.from_bytes(salt, "big") << 16

    @property
    def cipher(self) -> _KeyStream | None:
        """AES-CM of the session encryption key (None for the NULL cipher)."""
        if self._cipher is None and self._aes:
            if self._salt is None:
                self._rest()
            self._cipher = _KeyStream(self._enc)
        return self._cipher

    @property
    def salt(self) -> int:
        """The session salt times 2^16 (RFC 3711 §4.1.1's IV term)."""
        if self._salt is None:
            self._rest()
        return self._salt  # type: ignore[return-value]


@dataclass
class StreamState:
    """Per-SSRC replay/rollover state (RFC 3711 §3.3.1, Appendix A)."""

    roc: int
    s_l: int | None = None
    rtcp_index: int = -1


@dataclass
class SrtpContext:
    """One SRTP master key and what it protects.

    Attributes:
        suite: the crypto suite.
        master_key, master_salt: the master key and salt (salt 14 bytes; shorter is zero-padded).
        kdr: key derivation rate (0: derive once).
        mki: the MKI that selects this key on the wire (b"" when none is sent).
        roc: rollover counter of the first packet of each stream.
    """

    suite: Suite
    master_key: bytes
    master_salt: bytes
    kdr: int = 0
    mki: bytes = b""
    roc: int = 0
    streams: dict[int, StreamState] = field(default_factory=dict)
    #: RFC 4771 mode (1, 2, 3 = RCCm1, RCCm2, RCCm3; 0 none) and the ROC rate R
    rcc: int = 0
    rcc_r: int = 1
    #: the ROC of the last packet that authenticated (RFC 3711 §3.3.1)
    last_roc: int = field(default=0, repr=False)
    #: of the last packet that authenticated: its tag length, and the ROC it carried
    #: (RFC 4771 RCC packets; None otherwise)
    last_tag_len: int = field(default=0, repr=False)
    last_rcc_roc: int | None = field(default=None, repr=False)
    _keys: dict[tuple[int, int], _SessionKeys] = field(default_factory=dict)
    _rtp_keys: _SessionKeys | None = None  # the SRTP session keys when kdr = 0

    def _session(self, rtcp: bool, index: int) -> _SessionKeys:
        r = index // self.kdr if self.kdr else 0
        cached = self._keys.get((rtcp, r))
        if cached is not None:
            return cached
        keys = _SessionKeys(self.master_key, self.master_salt,
                            LABEL_RTCP_ENCR if rtcp else LABEL_RTP_ENCR, r,
                            self.suite.key_len, self.suite.cipher == "AES_CM",
                            eager=bool(self.mki))
        if len(self._keys) > 64:  # kdr > 0 over a long stream: keep the cache bounded
            self._keys.clear()
        self._keys[(rtcp, r)] = keys
        if not self.kdr and not rtcp:  # derived on first use: most keys tried never open one
            self._rtp_keys = keys
        return keys

    # ------------------------------------------------------------------ SRTP

    def estimate_index(self, ssrc: int, seq: int) -> tuple[int, StreamState | None]:
        """(packet index, stream state or None for a new stream), RFC 3711 Appendix A.

        A new stream's state is made only once a packet of it authenticates (by
        the caller), so packets that merely look like SRTP cost no memory.
        """
        st = self.streams.get(ssrc)
        if st is None or st.s_l is None:
            return ((self.roc if st is None else st.roc) << 16) | seq, st
        roc, s_l = st.roc, st.s_l
        if s_l < 32768:
            v = roc - 1 if seq - s_l > 32768 else roc
        else:
            v = roc + 1 if s_l - 32768 > seq else roc
        if v < 0:
            v = 0
        return ((v & 0xFFFFFFFF) << 16) | seq, st

    def _authenticate(self, packet: bytes, header_len: int, state: StreamState | None = None,
                      roc: int | None = None):
        """Check an SRTP packet's MKI and tag and advance the rollover state.

        Returns ``(end of the encrypted payload, keystream IV, session keys)``
        for a packet that authenticates, else the reason it does not: ``short``,
        ``mki`` or ``auth``. The rollover state advances only for packets that
        authenticate (RFC 3711 §3.3.1).

        *state*: the stream's state when the caller keeps it (the ROC belongs to
        the stream, not to a master key: RFC 3711 §3.2.1; a key chosen by MKI
        takes the stream where the previous one left it); else this key's own.
        *roc*: try this ROC instead of the estimate (a receiver re-synchronising);
        when it authenticates, the stream's state is set from it.
        """
        if self.rcc:
            return self._authenticate_rcc(packet, header_len, state, roc)
        tag_len, mki = self.suite.tag_len, self.mki
        end = len(packet) - tag_len - len(mki)
        if end < header_len:
            return "short"
        if mki and packet[end:end + len(mki)] != mki:
            return "mki"
        seq, ssrc = _SEQ_SSRC(packet, 2)
        st = state if state is not None else self.streams.get(ssrc)
        forced = roc
        if st is not None and st.s_l is not None:  # Appendix A, inlined for the common case
            roc, s_l = st.roc, st.s_l
            if s_l < 32768:
                if seq - s_l > 32768 and roc:
                    roc -= 1
            elif s_l - 32768 > seq:
                roc = (roc + 1) & 0xFFFFFFFF
        else:
            roc = self.roc if st is None else st.roc
        estimate = roc
        if forced is not None:
            roc = forced & 0xFFFFFFFF
        index = (roc << 16) | seq
        keys = self._rtp_keys if self._rtp_keys is not None else self._session(False, index)
        if tag_len:
            # HMAC-SHA-1 over the authenticated portion || ROC, from the padded-key states.
            # A plain comparison: a passive analyzer offers no timing oracle to an attacker.
            inner = keys.auth._inner.copy()
            inner.update(packet[:end])
            inner.update(roc.to_bytes(4, "big"))
            outer = keys.auth._outer.copy()
            outer.update(inner.digest())
            if outer.digest()[:tag_len] != packet[end + len(mki):]:
                return "auth"
        if st is None:
            if len(self.streams) >= 65536:
                self.streams.clear()
            self.streams[ssrc] = StreamState(roc, seq)
        elif st.s_l is None or roc > st.roc or (forced is not None and roc < estimate - 1):
            # (a forced ROC below the estimate that is no reordering: the state was
            # wrong, and is re-synchronised on it)
            st.roc, st.s_l = roc, seq
        elif roc == st.roc and seq > st.s_l:
            st.s_l = seq
        self.last_roc = roc
        self.last_tag_len, self.last_rcc_roc = tag_len, None
        salt = keys._salt  # (the session salt: known once a packet has authenticated)
        if salt is None:
            salt = keys.salt
        return end, salt ^ (ssrc << 64) ^ (index << 16), keys

    def tag_matches(self, packet: bytes, header_len: int, roc: int) -> bool:
        """Does *packet*'s tag verify under this key with *roc* (a stream's first packet,
        no MKI, no RFC 4771 mode)? No state changes: what :meth:`_authenticate` would
        answer for a new stream whose ROC is *roc*, before it keeps anything."""
        tag_len = self.suite.tag_len
        end = len(packet) - tag_len - len(self.mki)
        if end < header_len or self.rcc:
            return False
        if not tag_len:
            return True
        seq = (packet[2] << 8) | packet[3]
        keys = self._rtp_keys if self._rtp_keys is not None else \
            self._session(False, (roc << 16) | seq)
        return keys.auth.digest(packet[:end] + roc.to_bytes(4, "big"))[:tag_len] \
            == packet[end + len(self.mki):]

    def rcc_tag_len(self, seq: int) -> tuple[bool, int]:
        """(is it an RCC packet, its tag length) for sequence number *seq* (RFC 4771 §3)."""
        if seq % self.rcc_r == 0:
            return True, 4 if self.rcc == 3 else self.suite.tag_len
        return False, self.suite.tag_len if self.rcc == 2 else 0

    def _authenticate_rcc(self, packet: bytes, header_len: int, state: StreamState | None,
                          forced: int | None):
        """:meth:`_authenticate` under RFC 4771: the tag length follows SEQ mod R; an
        RCC packet's ROC is adopted once its MAC verifies (at once in RCCm3). Before a
        stream's first RCC packet its ROC is unknown: other packets are ``roc``
        (waiting), neither opened nor failures."""
        seq, ssrc = _SEQ_SSRC(packet, 2)
        is_rcc, tag_len = self.rcc_tag_len(seq)
        mki = self.mki
        end = len(packet) - tag_len - len(mki)
        if end < header_len:
            return "short"
        if mki and packet[end:end + len(mki)] != mki:
            return "mki"
        tag = packet[end + len(mki):]
        st = state if state is not None else self.streams.get(ssrc)
        if not is_rcc and (st is None or st.s_l is None) and forced is None:
            return "roc"  # a receiver without the ROC waits for an RCC packet to learn it
        if is_rcc:
            roc = int.from_bytes(tag[:4], "big")  # ROC_sender
        elif forced is not None:
            roc = forced & 0xFFFFFFFF
        elif st is not None and st.s_l is not None:
            roc = _estimate(st.roc, st.s_l, seq)
        else:
            roc = self.roc if st is None else st.roc
        index = (roc << 16) | seq
        keys = self._rtp_keys if self._rtp_keys is not None else self._session(False, index)
        mac = tag[4:] if is_rcc else tag
        if mac or (is_rcc and self.rcc != 3) or (not is_rcc and self.rcc == 2):
            want = keys.auth.digest(packet[:end] + roc.to_bytes(4, "big"))[:len(mac)]
            if not mac or want != mac:
                return "auth"
        if st is None:
            if len(self.streams) >= 65536:
                self.streams.clear()
            self.streams[ssrc] = StreamState(roc, seq)
        elif st.s_l is None or roc > st.roc or (is_rcc and roc == st.roc and seq > st.s_l) \
                or (forced is not None and roc < st.roc - 1):
            st.roc, st.s_l = roc, seq  # (an RCC packet's verified ROC is adopted)
        elif roc == st.roc and seq > st.s_l:
            st.s_l = seq
        self.last_roc = roc
        self.last_tag_len, self.last_rcc_roc = tag_len, (roc if is_rcc else None)
        salt = keys._salt  # (the session salt: known once a packet has authenticated)
        if salt is None:
            salt = keys.salt
        return end, salt ^ (ssrc << 64) ^ (index << 16), keys

    def unprotect(self, packet: bytes, header_len: int, state: StreamState | None = None,
                  roc: int | None = None) -> tuple[bytes | None, str]:
        """Plain RTP for an SRTP packet, or (None, reason): ``short``, ``mki``, ``auth``.

        The rollover state (this key's, or the caller's *state*) advances only for
        packets that authenticate; *roc* forces the ROC tried.
        """
        checked = self._authenticate(packet, header_len, state, roc)
        if checked.__class__ is str:
            return None, checked
        end, iv, keys = checked
        cipher = keys._cipher
        if cipher is None:
            cipher = keys.cipher
        if cipher is None or end <= header_len:
            return packet[:end], "ok"
        # the header is authenticated but not encrypted
        return packet[:header_len] + cipher.xor(iv, packet[header_len:end]), "ok"

    def authenticate(self, packet: bytes, header_len: int, state: StreamState | None = None,
                     roc: int | None = None) -> str:
        """``ok`` when an SRTP packet authenticates (its state advanced, nothing
        decrypted), else the reason of :meth:`unprotect`: for callers that only
        need to know which key a packet is protected with."""
        checked = self._authenticate(packet, header_len, state, roc)
        return checked if checked.__class__ is str else "ok"

    def protect(self, rtp: bytes, header_len: int, roc: int | None = None) -> bytes:
        """SRTP packet for plain RTP *rtp* (for tests and the lab; index from *roc*),
        with the RFC 4771 tag of this context's RCC mode."""
        seq, ssrc = struct.unpack_from("!H4xI", rtp, 2)
        if roc is None:
            st = self.streams.get(ssrc)
            roc = st.roc if st is not None else self.roc
        index = (roc << 16) | seq
        keys = self._session(False, index)
        payload = rtp[header_len:]
        if keys.cipher is not None:
            payload = keys.cipher.xor(keys.salt ^ (ssrc << 64) ^ (index << 16), payload)
        out = rtp[:header_len] + payload
        mac = keys.auth.digest(out + struct.pack("!I", roc))
        if not self.rcc:
            return out + self.mki + mac[:self.suite.tag_len]
        is_rcc, tag_len = self.rcc_tag_len(seq)
        if not is_rcc:
            return out + self.mki + mac[:tag_len]
        return out + self.mki + struct.pack("!I", roc) + mac[:tag_len - 4]

    # ------------------------------------------------------------------ SRTCP

    def unprotect_rtcp(self, packet: bytes) -> tuple[bytes | None, str]:
        """Plain RTCP for an SRTCP packet, or (None, reason): ``short``, ``mki``, ``auth``
        (RFC 3711 §3.4: the tag covers the packet up to the E flag and SRTCP index;
        the MKI, between them and the tag, is not authenticated). The tag is checked
        before the packet is cut into its parts (most packets tried are not this key's)."""
        tag_len, mki = self.suite.rtcp_tag_len, self.mki
        end = len(packet) - tag_len - len(mki)  # the end of the authenticated portion
        if end < 12 or not is_rtcp(packet):
            return None, "short"
        if mki and packet[end:end + len(mki)] != mki:
            return None, "mki"
        word = int.from_bytes(packet[end - 4:end], "big")
        index = word & 0x7FFFFFFF
        keys = self._session(True, index)
        if keys.auth.digest(packet[:end])[:tag_len] != packet[end + len(mki):]:
            return None, "auth"
        payload = packet[8:end - 4]
        if word >> 31 and keys.cipher is not None:
            ssrc = int.from_bytes(packet[4:8], "big")
            payload = keys.cipher.xor(keys.salt ^ (ssrc << 64) ^ (index << 16), payload)
        return packet[:8] + payload, "ok"

    def protect_rtcp(self, rtcp: bytes, index: int, encrypt: bool = True) -> bytes:
        """SRTCP packet for plain RTCP *rtcp* with SRTCP *index*."""
        ssrc = struct.unpack_from("!I", rtcp, 4)[0]
        keys = self._session(True, index)
        payload = rtcp[8:]
        if encrypt and keys.cipher is not None:
            payload = keys.cipher.xor(keys.salt ^ (ssrc << 64) ^ (index << 16), payload)
        out = rtcp[:8] + payload + struct.pack("!I", (int(encrypt) << 31) | index)
        return out + self.mki + keys.auth.digest(out)[:self.suite.rtcp_tag_len]
