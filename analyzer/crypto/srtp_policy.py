"""The SRTP policy an MSK message's Security Policy payload sets for the MTK streams
under that MSK (RFC 3830 §6.10.1, RFC 4771 §4; TS 33.246 §6.4.5.1, §6.6.2.1).

TS 33.246 §6.6.2.1 makes RFC 4771 (integrity transform carrying the ROC, "RCC")
mandatory: the SP carries the ROC transmission rate R (parameter type 13) and the
authentication algorithm RCCm1/RCCm2/RCCm3 (values 2/3/4) in the general
parameter type 2 or the SRTP-specific type 14, which wins. The tag length
(type 11, or the SRTP-specific 18, which wins) counts the 4 ROC bytes of RCC
packets. Values are big-endian integers of 1 to 4 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.crypto.srtp import Suite

#: SP parameter types (RFC 3830 Table 6.10.1.a; RFC 4771 §4)
ENCR_ALG, ENCR_LEN, AUTH_ALG, TAG_LEN, ROC_RATE, SRTP_AUTH_ALG, SRTP_TAG_LEN = 0, 1, 2, 11, 13, 14, 18
#: authentication algorithm values -> RCC mode (RFC 4771 §4): 0 no RCC
RCC_MODES = {2: 1, 3: 2, 4: 3}
RCC_NAMES = {1: "RCCm1", 2: "RCCm2", 3: "RCCm3"}
MAX_TAG = 32


@dataclass(frozen=True)
class SrtpPolicy:
    """What an SP says of an SRTP stream.

    Attributes:
        encr: 0 NULL, 1 AES-CM.
        key_len: session (and master) encryption key bytes.
        auth: 0 NULL, 1 HMAC-SHA-1, 2/3/4 RCCm1/2/3.
        tag_len: authentication tag bytes (RCC packets: the ROC included).
        r: the ROC transmission rate R (RCC packets have SEQ mod R = 0).
    """

    encr: int = 1
    key_len: int = 16
    auth: int = 1
    tag_len: int = 10
    r: int = 1

    @property
    def rcc(self) -> int:
        """The RCC mode 1, 2 or 3 (0: plain RFC 3711 integrity)."""
        return RCC_MODES.get(self.auth, 0)

    def suite(self) -> Suite:
        name = f"{'NULL' if self.encr == 0 else 'AES_CM'}_{8 * self.key_len}_" \
               f"{RCC_NAMES.get(self.rcc, 'HMAC_SHA1')}_{8 * self.tag_len}"
        return Suite(name, "NULL" if self.encr == 0 else "AES_CM", self.key_len, self.tag_len)

    def describe(self) -> str:
        mode = RCC_NAMES.get(self.rcc)
        return f"{self.suite().name}" + (f", R = {self.r}" if mode else "")


def policy_from_params(params: dict[int, bytes]) -> SrtpPolicy | None:
    """The policy of an SRTP SP's parameters (type -> value), or None when a value is
    one this analyzer cannot use (another cipher, an absurd length)."""
    def num(kind: int, default: int) -> int:
        value = params.get(kind)
        return int.from_bytes(value, "big") if value and len(value) <= 4 else default

    encr = num(ENCR_ALG, 1)
    auth = num(SRTP_AUTH_ALG, num(AUTH_ALG, 1))
    key_len = num(ENCR_LEN, 16)
    tag_len = num(SRTP_TAG_LEN, num(TAG_LEN, 10))
    r = num(ROC_RATE, 1)
    if encr not in (0, 1) or auth not in (0, 1, 2, 3, 4) or key_len not in (16, 24, 32) \
            or not 0 <= tag_len <= MAX_TAG or not 1 <= r <= 0xFFFF:
        return None
    if auth in (2, 3) and tag_len < 5:  # ROC and at least a byte of MAC
        return None
    if auth == 0:
        tag_len = 0
    return SrtpPolicy(encr, key_len, auth, tag_len, r)
