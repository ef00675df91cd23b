"""KEMAC protection and the verification MAC - RFC 3830 §4.2, §5.2, §6.2, §6.9.

* Encryption (§4.2.3): NULL; AES-CM-128 (and AES-CM-256, RFC 6043) in counter
  mode as SRTP, ``IV = (S XOR (0x0000 || CSB ID || T)) || 0x0000`` with the 14-byte
  salt key S and the 64-bit timestamp T (a 4-byte COUNTER is left-padded, digest
  §3.5 [U]); AES-KW-128 (RFC 3394) with the salt key's first 64 bits as its IV.
* MAC (§4.2.4, §5.2): HMAC-SHA-1-160 (HMAC-SHA-256-256, RFC 6043) with the
  auth key, over the whole message up to and including the MAC alg byte.
* Verification message (§5.2, digest §2.6): the V payload's MAC covers the
  response message except the Ver data, followed by ``IDi || IDr || T`` (the ID
  data and the initiator's 8-byte timestamp; how identities are appended is a
  setting, :class:`VerificationRule`, since the text is not explicit [U]).

``cryptography`` supplies AES; RFC 3394 wrapping is written here because
``cryptography``'s key wrap has no custom IV.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MAC_DIGESTS = {1: (hashlib.sha1, 20), 2: (hashlib.sha256, 32)}
#: Encryption algorithm -> key length (RFC 3830 Table 6.2.a, RFC 6043).
ENCR_KEY_LENGTHS = {0: 16, 1: 16, 2: 16, 3: 32}


class KemacError(ValueError):
    """Key data that cannot be (de)crypted: unknown algorithm, bad wrap, bad length."""


def timestamp_64(ts_type: int, ts_value: bytes) -> bytes:
    """The 64-bit T used in IVs and verification MACs (COUNTER/NTP-UTC-32 left-padded)."""
    return ts_value.rjust(8, b"\x00")[-8:] if len(ts_value) < 8 else ts_value[:8]


def aes_cm_iv(salt_key: bytes, csb_id: int, t64: bytes) -> bytes:
    """``(S XOR (0x0000 || CSB ID || T)) || 0x0000`` (RFC 3830 §4.2.3)."""
    block = b"\x00\x00" + struct.pack("!I", csb_id) + t64
    s = salt_key[:14].ljust(14, b"\x00")
    return bytes(a ^ b for a, b in zip(s, block)) + b"\x00\x00"


def aes_cm(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES counter mode (SRTP's AES-CM: 16-bit block counter in the IV's last bytes)."""
    enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def _ecb(key: bytes, encrypt: bool):
    cipher = Cipher(algorithms.AES(key), modes.ECB())
    return cipher.encryptor() if encrypt else cipher.decryptor()


def aes_kw_wrap(key: bytes, iv: bytes, plain: bytes) -> bytes:
    """RFC 3394 §2.2.1 key wrap with the 64-bit initial value *iv*."""
    if len(plain) % 8 or len(plain) < 16:
        raise KemacError("AES-KW needs a multiple of 8 bytes, at least 16")
    n = len(plain) // 8
    a = iv
    r = [plain[i * 8:(i + 1) * 8] for i in range(n)]
    ecb = _ecb(key, True)
    for j in range(6):
        for i in range(n):
            b = ecb.update(a + r[i])
            t = n * j + i + 1
            a = (int.from_bytes(b[:8], "big") ^ t).to_bytes(8, "big")
            r[i] = b[8:]
    return a + b"".join(r)


def aes_kw_unwrap(key: bytes, iv: bytes, wrapped: bytes) -> bytes:
    """RFC 3394 §2.2.2 key unwrap; raises :class:`KemacError` when the IV check fails."""
    if len(wrapped) % 8 or len(wrapped) < 24:
        raise KemacError(f"AES-KW data of {len(wrapped)} bytes is not a wrapped key")
    n = len(wrapped) // 8 - 1
    a = wrapped[:8]
    r = [wrapped[(i + 1) * 8:(i + 2) * 8] for i in range(n)]
    ecb = _ecb(key, False)
    for j in range(5, -1, -1):
        for i in range(n - 1, -1, -1):
            t = n * j + i + 1
            a_t = (int.from_bytes(a, "big") ^ t).to_bytes(8, "big")
            b = ecb.update(a_t + r[i])
            a, r[i] = b[:8], b[8:]
    if not hmac.compare_digest(a, iv):
        raise KemacError("AES-KW integrity check failed (wrong key)")
    return b"".join(r)


def decrypt_key_data(encr_alg: int, encr_key: bytes, salt_key: bytes, csb_id: int,
                     t64: bytes, data: bytes) -> bytes:
    """Plaintext of a KEMAC's Encr data (raises :class:`KemacError`)."""
    if encr_alg == 0:
        return data
    if encr_alg in (1, 3):
        return aes_cm(encr_key, aes_cm_iv(salt_key, csb_id, t64), data)
    if encr_alg == 2:
        return aes_kw_unwrap(encr_key, salt_key[:8], data)
    raise KemacError(f"encryption algorithm {encr_alg} unknown")


def encrypt_key_data(encr_alg: int, encr_key: bytes, salt_key: bytes, csb_id: int,
                     t64: bytes, plain: bytes) -> bytes:
    """Encr data of a KEMAC for *plain* key sub-payloads (the inverse of decryption)."""
    if encr_alg == 0:
        return plain
    if encr_alg in (1, 3):
        return aes_cm(encr_key, aes_cm_iv(salt_key, csb_id, t64), plain)
    if encr_alg == 2:
        return aes_kw_wrap(encr_key, salt_key[:8], plain)
    raise KemacError(f"encryption algorithm {encr_alg} unknown")


def mac(mac_alg: int, auth_key: bytes, data: bytes) -> bytes:
    """The MAC of *data* (empty for NULL)."""
    if mac_alg == 0:
        return b""
    spec = MAC_DIGESTS.get(mac_alg)
    if spec is None:
        raise KemacError(f"MAC algorithm {mac_alg} unknown")
    return hmac.digest(auth_key, data, spec[0])


def verify_mac(mac_alg: int, auth_key: bytes, data: bytes, tag: bytes) -> bool:
    """True when *tag* is the MAC of *data*."""
    return hmac.compare_digest(mac(mac_alg, auth_key, data), tag)


@dataclass(frozen=True)
class VerificationRule:
    """How the verification MAC input is completed (RFC 3830 §5.2; digest §2.6 [U]).

    Attributes:
        append_ids: append IDi || IDr (the ID data fields) after the message.
        t_as_64: append the initiator's T as 8 bytes (COUNTER left-padded).
    """

    append_ids: bool = True
    t_as_64: bool = True


def verification_input(message_without_mac: bytes, idi: bytes, idr: bytes, t_value: bytes,
                       rule: VerificationRule = VerificationRule()) -> bytes:
    """The bytes the V payload's MAC covers."""
    t = timestamp_64(0, t_value) if rule.t_as_64 else t_value
    return message_without_mac + (idi + idr if rule.append_ids else b"") + t
