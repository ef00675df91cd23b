"""Decrypting and checking DCF content with an MTK (TS 33.246 §6.5.4, §6.6.3.2).

TS 33.246 §6.5.4: for download, the ME derives the encryption and the
authentication key from the MTK with the MIKEY key derivation of RFC 3830
§4.1.3 - the TEK encryption (0x15798CEF) and TEK authentication (0x1B5C7973)
constants, cs_id 0, the CSB ID and the MIKEY-RAND - and hands them to the DCF
decryption. Whether BM-SCs do so, or use the MTK itself, is a setting
(:attr:`analyzer.capture.profile.Profile.dcf_key_derivation`):

* ``rfc3830``: derived keys only (the spec);
* ``direct``: the MTK is the AES-128 key;
* ``auto`` (default): derived first, then direct; a candidate is taken when the
  DCF's HMAC-SHA1 signature verifies with it, or for AES_128_CBC when the RFC
  2630 padding and the PlaintextLength match.

Content: AES_128_CBC uses the first 16 data bytes as IV; AES_128_CTR uses them
as the initial 128-bit counter block, incremented per block (as Bento4 does).
The signature range (OMA DRM DCF §5.3, not read) is taken as every byte of the
file before the ``mdri`` box [U].
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from analyzer.crypto.kemac import mac, verify_mac
from analyzer.crypto.prf import TEK_AUTH_CONST, TEK_ENCR_CONST, label, prf


@dataclass(frozen=True)
class DcfKeys:
    """The keys one MTK gives a DCF, and how they were made."""

    encr_key: bytes
    auth_key: bytes
    how: str  # rfc3830 / direct


def candidate_keys(mtk: bytes, csb_id: int | None, rand: bytes | None,
                   derivation: str = "auto") -> list[DcfKeys]:
    """The keys to try, in order, for *derivation*."""
    out = []
    if derivation in ("auto", "rfc3830") and csb_id is not None and rand is not None:
        out.append(DcfKeys(prf(mtk, label(TEK_ENCR_CONST, 0, csb_id, rand), 16),
                           prf(mtk, label(TEK_AUTH_CONST, 0, csb_id, rand), 20), "rfc3830"))
    if derivation in ("auto", "direct") and len(mtk) == 16:
        out.append(DcfKeys(mtk, mtk, "direct"))
    return out


#: odfs SignatureMethod 1 is HMAC-SHA1, MIKEY's MAC algorithm 1 (RFC 3830 §6.2)
HMAC_SHA1 = 1


def signature_ok(auth_key: bytes, signed: bytes, signature: bytes) -> bool:
    """The whole 20-byte HMAC-SHA1 over the signed range equals the odfs signature."""
    return verify_mac(HMAC_SHA1, auth_key, signed, signature)


def sign(auth_key: bytes, signed: bytes) -> bytes:
    return mac(HMAC_SHA1, auth_key, signed)


def decrypt(method: int, key: bytes, data: bytes, plaintext_length: int | None,
            padding: int | None) -> tuple[bytes | None, bool]:
    """(plaintext, checked) of the odda data; plaintext None when it cannot be
    right (bad padding, wrong length, no IV). ``checked``: the padding or length
    confirmed the key (CBC); CTR and NULL cannot say."""
    if method == 0:
        return data, False
    if len(data) < 16:
        return None, False
    iv, body = data[:16], data[16:]
    if method == 1:
        if len(body) % 16:
            return None, False
        plain = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor().update(body)
        if padding == 1:
            n = plain[-1] if plain else 0
            if not 1 <= n <= 16 or plain[-n:] != bytes([n]) * n:
                return None, False
            plain = plain[:-n]
        if plaintext_length is not None and plaintext_length != len(plain):
            return None, False
        return plain, padding == 1 or plaintext_length is not None
    if method == 2:
        plain = Cipher(algorithms.AES(key), modes.CTR(iv)).decryptor().update(body)
        if plaintext_length is not None and plaintext_length <= len(plain):
            plain = plain[:plaintext_length]
        return plain, False
    return None, False


def encrypt(method: int, key: bytes, iv: bytes, plain: bytes) -> bytes:
    """IV/counter followed by the ciphertext (the lab's side of :func:`decrypt`)."""
    if method == 1:
        n = 16 - len(plain) % 16
        body = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor().update(
            plain + bytes([n]) * n)
    else:
        body = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor().update(plain)
    return iv + body
