"""MIKEY key derivation - RFC 3830 §4.1 (MIKEY-1 PRF) and RFC 6043 §6.1 (PRF-HMAC-SHA-256).

``P(s, label, m) = HMAC(s, A_1 || label) || ... || HMAC(s, A_m || label)``,
``A_0 = label``, ``A_i = HMAC(s, A_{i-1})``. The in-key is cut into 256-bit
blocks ``s_1 .. s_n`` (the last may be shorter); the out-key is the first
``outkey_len`` bits of ``P(s_1, label, m) XOR ... XOR P(s_n, label, m)``, with
``m = ceil(outkey_len / 160)`` (256 for the SHA-256 PRF). Digest §3, vectors §5.4.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

#: PRF func value -> hash (RFC 3830 Table 6.1.c, RFC 6043 Table 6.3).
PRF_HASHES = {0: hashlib.sha1, 1: hashlib.sha256}

#: Constants of RFC 3830 §4.1.3 (keys from a TGK, per crypto session).
TEK_CONST = 0x2AD01C64
TEK_AUTH_CONST = 0x1B5C7973
TEK_ENCR_CONST = 0x15798CEF
TEK_SALT_CONST = 0x39A2C14B

#: Constants of RFC 3830 §4.1.4 (keys protecting MIKEY itself, from the PSK/envelope key).
ENCR_CONST = 0x150533E1
AUTH_CONST = 0x2D22AC75
SALT_CONST = 0x29B88916

#: Label byte that stands in for the CS ID in §4.1.4 labels.
MIKEY_CS_ID = 0xFF


class PRFError(ValueError):
    """The PRF was asked for something it cannot give (unknown PRF func)."""


def _p(s: bytes, label: bytes, m: int, digest) -> bytes:
    out = []
    a = label
    for _ in range(m):
        a = hmac.digest(s, a, digest)
        out.append(hmac.digest(s, a + label, digest))
    return b"".join(out)


def prf(inkey: bytes, label: bytes, outkey_len: int, prf_func: int = 0) -> bytes:
    """The MIKEY PRF: *outkey_len* bytes from *inkey* and *label*."""
    digest = PRF_HASHES.get(prf_func)
    if digest is None:
        raise PRFError(f"PRF func {prf_func} unknown")
    block_bits = 160 if prf_func == 0 else 256
    m = -(-outkey_len * 8 // block_bits)
    blocks = [inkey[i:i + 32] for i in range(0, len(inkey), 32)] or [b""]
    acc = 0
    for s in blocks:
        acc ^= int.from_bytes(_p(s, label, m, digest), "big")
    full = acc.to_bytes(m * block_bits // 8, "big")
    return full[:outkey_len]


def label(constant: int, cs_id: int, csb_id: int, rand: bytes) -> bytes:
    """``constant || cs_id || csb_id || RAND`` (RFC 3830 §4.1.3/§4.1.4)."""
    return struct.pack("!IBI", constant, cs_id, csb_id) + rand


@dataclass(frozen=True)
class MessageKeys:
    """Keys that protect one MIKEY message (RFC 3830 §4.1.4).

    Attributes:
        encr_key: KEMAC encryption key (16 bytes for AES-CM/KW-128, 32 for AES-CM-256).
        auth_key: KEMAC/V MAC key (20 bytes for HMAC-SHA-1, 32 for HMAC-SHA-256).
        salt_key: 14 bytes for AES-CM (8 are used as the AES-KW IV).
    """

    encr_key: bytes
    auth_key: bytes
    salt_key: bytes


def message_keys(psk: bytes, csb_id: int, rand: bytes, prf_func: int = 0,
                 encr_len: int = 16, auth_len: int = 20, salt_len: int = 14) -> MessageKeys:
    """encr_key, auth_key and salt_key from a pre-shared (or envelope) key."""
    return MessageKeys(
        prf(psk, label(ENCR_CONST, MIKEY_CS_ID, csb_id, rand), encr_len, prf_func),
        prf(psk, label(AUTH_CONST, MIKEY_CS_ID, csb_id, rand), auth_len, prf_func),
        prf(psk, label(SALT_CONST, MIKEY_CS_ID, csb_id, rand), salt_len, prf_func),
    )


def tek_from_tgk(tgk: bytes, cs_id: int, csb_id: int, rand: bytes, prf_func: int = 0,
                 tek_len: int = 16, salt_len: int = 14) -> tuple[bytes, bytes]:
    """(TEK, salt) for crypto session *cs_id* from a TGK (RFC 3830 §4.1.3)."""
    return (prf(tgk, label(TEK_CONST, cs_id, csb_id, rand), tek_len, prf_func),
            prf(tgk, label(TEK_SALT_CONST, cs_id, csb_id, rand), salt_len, prf_func))
