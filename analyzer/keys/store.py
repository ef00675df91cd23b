"""The key file (TOML, DESIGN.md "Key file") and the key store.

Tables, all optional: ``[[muk]]`` (``idr``, ``idi``, ``key`` - or GBA inputs
``ks``, ``rand``, ``impi``, ``naf`` instead of ``key``), ``[[msk]]``
(``key_domain``, ``msk_id``, ``key``), ``[[mtk]]`` (``key_domain``, ``msk_id``,
``mtk_id``, ``key``, ``salt``), ``[[srtp]]`` (``ssrc``, ``dst``, ``key``, ``salt``,
``suite``, ``roc``, ``mki``, ``kdr``) and ``[settings]`` (``muk_source``: which
GBA NAF key is the MUK, TS 33.246 unconfirmed). Hex strings are
case-insensitive and may contain colons.

Errors name the file, the line and the field (:class:`KeyFileError`). The
store keeps, per key, whether its value is known (``ready``) and where it came
from; nothing here ever prints a key value (``repr`` hides them).
"""

from __future__ import annotations

import base64
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.crypto.gba import MukRule, mrk_from_gba, muk_from_gba
from analyzer.crypto.srtp import SUITES

_HEX_RE = re.compile(r"^[0-9a-fA-F:\s]*$")

TABLE_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    # table: (required fields, optional fields)
    "muk": (set(), {"idr", "idi", "key", "ks", "rand", "impi", "naf"}),
    "msk": ({"key_domain", "msk_id", "key"}, set()),
    "mtk": ({"key_domain", "msk_id", "mtk_id", "key"}, {"salt"}),
    "srtp": ({"key"}, {"ssrc", "dst", "salt", "suite", "roc", "mki", "kdr"}),
    "digest": ({"btid", "password"}, set()),
}


class KeyFileError(Exception):
    """A key file that cannot be used; the message names file, line and field."""


@dataclass
class Key:
    """One key of the store.

    Attributes:
        kind: ``MUK``, ``MSK``, ``MTK`` or ``SRTP``.
        ident: what identifies it (IDr/IDi, Key Domain ID + MSK ID [+ MTK ID], SSRC ...).
        value: the key bytes, None while not known (then ``ready`` is False).
        salt: the salt that goes with it (MTK, SRTP), if any.
        source: ``keyfile:LINE`` or ``mikey:CAPTURE:FRAME``.
        extra: further parameters (SRTP suite, ROC, MKI, KDR; delivery RAND of an MSK).
    """

    kind: str
    ident: dict[str, Any]
    value: bytes | None = field(default=None, repr=False)
    salt: bytes | None = field(default=None, repr=False)
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ready(self) -> bool:
        """True when the key value is known."""
        return self.value is not None


@dataclass
class KeyStore:
    """Every key known so far, indexed the way MIKEY and SRTP look them up."""

    muks: list[Key] = field(default_factory=list)
    msks: dict[tuple[bytes, bytes], Key] = field(default_factory=dict)
    mtks: dict[tuple[bytes, bytes, bytes], Key] = field(default_factory=dict)
    srtp: list[Key] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict, repr=False)
    #: ``[settings] public = true``: published test material (no permission warning)
    public: bool = False

    def find_muk(self, idr: bytes | None, idi: bytes | None) -> Key | None:
        """The MUK for a message's IDr (and IDi when the key file names one)."""
        for key in self.muks:
            want_idr = key.ident.get("idr")
            want_idi = key.ident.get("idi")
            if want_idr is not None and (idr is None or want_idr.encode() != idr):
                continue
            if want_idi is not None and idi is not None and want_idi.encode() != idi:
                continue
            return key
        return None

    def learn_msk(self, kd: bytes, msk_id: bytes, value: bytes, source: str,
                  **extra: Any) -> Key:
        key = Key("MSK", {"key_domain": kd.hex(), "msk_id": msk_id.hex()}, value, None, source,
                  dict(extra))
        self.msks[(kd, msk_id)] = key
        return key

    def learn_mtk(self, kd: bytes, msk_id: bytes, mtk_id: bytes, value: bytes,
                  salt: bytes | None, source: str, **extra: Any) -> Key:
        key = Key("MTK", {"key_domain": kd.hex(), "msk_id": msk_id.hex(), "mtk_id": mtk_id.hex()},
                  value, salt, source, dict(extra))
        self.mtks[(kd, msk_id, mtk_id)] = key
        return key


def _hex(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or not _HEX_RE.match(value):
        raise KeyFileError(f"{where}: expected a hex string")
    compact = re.sub(r"[:\s]", "", value)
    if len(compact) % 2:
        raise KeyFileError(f"{where}: odd number of hex digits")
    return bytes.fromhex(compact)


def _line_of(text: str, table: str, index: int, name: str | None) -> int:
    """1-based line of field *name* in the *index*-th ``[[table]]`` (or of the header)."""
    lines = text.splitlines()
    seen = -1
    header_re = re.compile(r"^\s*\[\[\s*" + re.escape(table) + r"\s*\]\]")
    for n, line in enumerate(lines):
        if header_re.match(line):
            seen += 1
            if seen == index:
                if name is None:
                    return n + 1
                for m in range(n + 1, len(lines)):
                    if lines[m].lstrip().startswith("["):
                        break
                    if re.match(r"^\s*" + re.escape(name) + r"\s*=", lines[m]):
                        return m + 1
                return n + 1
    return 1


def exposure_warning(path: str | Path) -> str | None:
    """A warning when the key file can be read by users other than its owner
    (like ssh with a private key): group or other permission bits set."""
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return None
    if mode & 0o077:
        return (f"key file {path} is readable by others (mode {mode & 0o777:04o}): "
                f"chmod 600 {path}")
    return None


def load_keys(path: str | Path) -> KeyStore:
    """Read a key file into a :class:`KeyStore` (raises :class:`KeyFileError`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KeyFileError(f"{path}: {exc}") from None
    store = KeyStore()
    settings = doc.pop("settings", {})
    if not isinstance(settings, dict):
        raise KeyFileError(f"{path}: [settings] must be a table")
    public = settings.get("public", False)
    if not isinstance(public, bool):
        raise KeyFileError(f"{path}: settings.public: expected true or false")
    store.public = public
    muk_rule = MukRule(source=str(settings.get("muk_source", MukRule.source)))
    if muk_rule.source not in ("ks_int_naf", "ks_naf"):
        raise KeyFileError(f"{path}: settings.muk_source: expected ks_int_naf or ks_naf")
    for table, entries in doc.items():
        if table not in TABLE_FIELDS:
            raise KeyFileError(f"{path}:{_line_of(text, table, 0, None)}: unknown table "
                               f"[[{table}]] (expected one of {', '.join(sorted(TABLE_FIELDS))})")
        if not isinstance(entries, list):
            raise KeyFileError(f"{path}: {table} must be an array of tables: [[{table}]]")
        required, optional = TABLE_FIELDS[table]
        for i, entry in enumerate(entries):
            def where(name: str | None, _i: int = i, _t: str = table) -> str:
                return f"{path}:{_line_of(text, _t, _i, name)}: [[{_t}]] {name or ''}".rstrip()

            missing = required - set(entry)
            if missing:
                raise KeyFileError(f"{where(None)}: missing {', '.join(sorted(missing))}")
            unknown = set(entry) - required - optional
            if unknown:
                raise KeyFileError(f"{where(sorted(unknown)[0])}: unknown field")
            _add(store, table, entry, where, muk_rule, f"keyfile:{_line_of(text, table, i, None)}")
    return store


def _add(store: KeyStore, table: str, entry: dict[str, Any], where, muk_rule: MukRule,
         source: str) -> None:
    def hx(name: str, size: int | None = None) -> bytes:
        value = _hex(entry[name], where(name))
        if size is not None and len(value) != size:
            raise KeyFileError(f"{where(name)}: expected {size} bytes, got {len(value)}")
        return value

    if table == "muk":
        ident = {k: str(entry[k]) for k in ("idr", "idi") if k in entry}
        if "key" in entry:
            value = hx("key")
        elif {"ks", "rand", "impi", "naf"} <= set(entry):
            gba = (hx("ks", 32), hx("rand", 16), str(entry["impi"]), str(entry["naf"]))
            value = muk_from_gba(*gba, muk_rule)
            if "idr" in entry:  # the B-TID's digest password: base64(MRK) (Annex F)
                store.digests.setdefault(str(entry["idr"]), base64.b64encode(
                    mrk_from_gba(*gba, muk_rule)).decode())
        else:
            raise KeyFileError(f"{where(None)}: needs key, or ks + rand + impi + naf")
        store.muks.append(Key("MUK", ident, value, None, source))
    elif table == "msk":
        kd, msk = hx("key_domain", 3), hx("msk_id", 4)
        store.msks[(kd, msk)] = Key("MSK", {"key_domain": kd.hex(), "msk_id": msk.hex()},
                                    hx("key"), None, source)
    elif table == "mtk":
        kd, msk, mtk = hx("key_domain", 3), hx("msk_id", 4), hx("mtk_id")
        salt = hx("salt") if "salt" in entry else None
        extra = {}
        if "rand" in entry:  # the MSK's MIKEY-RAND: derives DCF keys (TS 33.246 §6.5.4)
            extra["rand"] = hx("rand")
        if "csb_id" in entry:
            if not isinstance(entry["csb_id"], int) or not 0 <= entry["csb_id"] < 1 << 32:
                raise KeyFileError(f"{where('csb_id')}: expected a 32-bit integer")
            extra["csb_id"] = entry["csb_id"]
        store.mtks[(kd, msk, mtk)] = Key("MTK", {"key_domain": kd.hex(), "msk_id": msk.hex(),
                                                "mtk_id": mtk.hex()}, hx("key"), salt, source,
                                         extra)
    elif table == "srtp":
        suite = str(entry.get("suite", "AES_CM_128_HMAC_SHA1_80"))
        if suite not in SUITES:
            raise KeyFileError(f"{where('suite')}: unknown suite (one of {', '.join(SUITES)})")
        key = hx("key", SUITES[suite].key_len)
        extra: dict[str, Any] = {"suite": suite}
        for name in ("ssrc", "roc", "kdr"):
            if name in entry:
                if not isinstance(entry[name], int) or entry[name] < 0:
                    raise KeyFileError(f"{where(name)}: expected a non-negative integer")
                extra[name] = entry[name]
        if "dst" in entry:
            extra["dst"] = str(entry["dst"])
        extra["mki"] = hx("mki") if "mki" in entry else b""
        ident = {k: extra[k] for k in ("ssrc", "dst") if k in extra}
        store.srtp.append(Key("SRTP", ident, key, hx("salt") if "salt" in entry else b"",
                              source, extra))
    elif table == "digest":
        store.digests[str(entry["btid"])] = str(entry["password"])
