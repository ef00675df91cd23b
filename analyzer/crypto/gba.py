"""GBA NAF key derivation - TS 33.220 Annex B.2 and Annex H (digest §4.2, vectors §5.6).

``KDF(Key, S) = HMAC-SHA-256(Key, S)`` with ``S = FC || P0 || L0 || ... || Pn || Ln``,
each ``Li`` the 2-byte big-endian length of ``Pi`` and FC = 0x01:

* ``Ks_NAF`` (GBA_ME, = Ks_ext_NAF) = ``KDF(Ks, "gba-me", RAND, IMPI, NAF_Id)``;
* ``Ks_int_NAF`` (GBA_U) = ``KDF(Ks, "gba-u", RAND, IMPI, NAF_Id)``;
* ``NAF_Id = NAF FQDN || Ua security protocol identifier``; for MBMS (TS 33.246)
  the identifier is ``01 00 00 00 01`` (TS 33.220 Annex H.3) and the NAF is the BM-SC.

Which NAF key is the MUK (and which the MRK of HTTP digest) is TS 33.246 text we
could not read [U]: :class:`MukRule` keeps it a setting.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

FC_NAF = 0x01
#: Ua security protocol identifier of TS 33.246 (MBMS), TS 33.220 Annex H.3.
UA_MBMS = bytes.fromhex("0100000001")


def kdf(key: bytes, fc: int, *params: bytes) -> bytes:
    """TS 33.220 Annex B.2 generic KDF."""
    s = bytes([fc]) + b"".join(p + struct.pack("!H", len(p)) for p in params)
    return hmac.digest(key, s, hashlib.sha256)


def naf_id(fqdn: str, ua_protocol: bytes = UA_MBMS) -> bytes:
    """NAF_Id = FQDN (UTF-8) || Ua security protocol identifier."""
    return fqdn.encode("utf-8") + ua_protocol


def ks_naf(ks: bytes, rand: bytes, impi: str, nafid: bytes) -> bytes:
    """Ks_NAF / Ks_ext_NAF (GBA_ME)."""
    return kdf(ks, FC_NAF, b"gba-me", rand, impi.encode("utf-8"), nafid)


def ks_int_naf(ks: bytes, rand: bytes, impi: str, nafid: bytes) -> bytes:
    """Ks_int_NAF (GBA_U)."""
    return kdf(ks, FC_NAF, b"gba-u", rand, impi.encode("utf-8"), nafid)


@dataclass(frozen=True)
class MukRule:
    """Which GBA output the analysis takes as the MUK (TS 33.246 §6.1 unread [U]).

    Attributes:
        source: ``ks_int_naf`` (GBA_U, the default: the MUK stays in the UICC) or
            ``ks_naf`` (GBA_ME).
        length: bytes of the NAF key used as the MUK (the MIKEY PRF takes any
            length; 32 = the whole key).
    """

    source: str = "ks_int_naf"
    length: int = 32


def mrk_from_gba(ks: bytes, rand: bytes, impi: str, bmsc_fqdn: str,
                 rule: MukRule = MukRule()) -> bytes:
    """The MBMS Request Key, whose base64 is the HTTP digest password (TS 33.246 §6.1,
    §6.2.1.3, Annex F): with the MUK in the UICC (Ks_int_NAF), MRK = Ks_ext_NAF; with
    GBA_ME (MUK = Ks_NAF), MRK = KDF(Ks_NAF, FC 0x01, "mbms-mrk")."""
    nafid = naf_id(bmsc_fqdn)
    if rule.source == "ks_int_naf":
        return ks_naf(ks, rand, impi, nafid)  # Ks_ext_NAF: the "gba-me" derivation
    return kdf(ks_naf(ks, rand, impi, nafid), FC_NAF, b"mbms-mrk")


def muk_from_gba(ks: bytes, rand: bytes, impi: str, bmsc_fqdn: str,
                 rule: MukRule = MukRule()) -> bytes:
    """The MUK for a UE from its GBA Ks, by *rule*."""
    nafid = naf_id(bmsc_fqdn)
    key = ks_int_naf(ks, rand, impi, nafid) if rule.source == "ks_int_naf" \
        else ks_naf(ks, rand, impi, nafid)
    return key[:rule.length]
