"""HTTP digest authentication headers and responses - RFC 7616 (RFC 2617), RFC 7235.

Parses ``WWW-Authenticate``, ``Authorization`` and ``Authentication-Info``
parameter lists (quoted strings with escapes, tokens, commas inside quotes),
and computes the ``response`` a client must send, for MD5, SHA-256 and
SHA-512-256 and their ``-sess`` variants, with qop ``auth``, ``auth-int`` or none.

In MBMS (TS 33.246 §6.2.1.3, digest §4.6) the username is the UE's B-TID and the
password comes from the GBA NAF key (exact derivation unconfirmed [U]: the key
file gives the password as text).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

MAX_PARAMS = 64

_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)\s*(?:,|$)')

HASHES = {
    "MD5": hashlib.md5,
    "SHA-256": hashlib.sha256,
    "SHA-512-256": lambda data=b"": hashlib.new("sha512_256", data),
}


@dataclass
class DigestParams:
    """A digest challenge, credentials or Authentication-Info.

    Attributes:
        scheme: the auth scheme (``Digest``) or "" for Authentication-Info.
        params: lowercase parameter name -> value (quotes removed).
    """

    scheme: str = ""
    params: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        return self.params.get(name, default)

    @property
    def stale(self) -> bool:
        """``stale=true`` in a challenge: the nonce expired, the password was right."""
        return self.get("stale").lower() == "true"


def parse_params(value: str, with_scheme: bool = True) -> DigestParams | None:
    """Parse ``Digest k=v, k="v", ...`` (or a bare list when *with_scheme* is False)."""
    value = value.strip()
    scheme = ""
    if with_scheme:
        scheme, _, value = value.partition(" ")
        if not scheme or "=" in scheme:
            return None
    out = DigestParams(scheme)
    pos = 0
    for _ in range(MAX_PARAMS):
        m = _PARAM_RE.match(value, pos)
        if m is None:
            break
        raw = m.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        out.params[m.group(1).lower()] = raw
        pos = m.end()
        if pos >= len(value):
            break
    return out


def expected_response(creds: DigestParams, password: str, method: str,
                      body: bytes = b"") -> str | None:
    """The ``response`` value *creds* must carry for *password* (None: unknown algorithm)."""
    algorithm = creds.get("algorithm", "MD5") or "MD5"
    sess = algorithm.upper().endswith("-SESS")
    base = algorithm[:-5] if sess else algorithm
    hfn = HASHES.get(base.upper())
    if hfn is None:
        return None

    def h(text: str | bytes) -> str:
        data = text.encode("utf-8") if isinstance(text, str) else text
        return hfn(data).hexdigest()

    user, realm, nonce = creds.get("username"), creds.get("realm"), creds.get("nonce")
    cnonce, nc, qop = creds.get("cnonce"), creds.get("nc"), creds.get("qop")
    ha1 = h(f"{user}:{realm}:{password}")
    if sess:
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    uri = creds.get("uri")
    ha2 = h(f"{method}:{uri}:{h(body)}") if qop == "auth-int" else h(f"{method}:{uri}")
    if qop:
        return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return h(f"{ha1}:{nonce}:{ha2}")


def verify(creds: DigestParams, password: str, method: str, body: bytes = b"") -> bool | None:
    """True/False: does the credentials' response match *password*? None: cannot tell."""
    want = expected_response(creds, password, method, body)
    if want is None or not creds.get("response"):
        return None
    return want == creds.get("response").lower()
