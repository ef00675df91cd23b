"""The MBMS key hierarchy applied to MIKEY messages, in capture order (sans-IO).

MUK (found by the message's IDr, and IDi when the key file names one) protects
MSK messages; each MSK learned protects later MTK messages for its Key Domain
ID and MSK ID (RFC 4563 §2, digest §4.1, §4.4). For each message this derives
the RFC 3830 §4.1.4 keys, checks the KEMAC MAC (good / bad / not checked),
decrypts the Key data sub-payloads and learns the key they carry, exactly as a
UE would: only messages whose MAC is good teach anything. Verification
messages (data type 1) are checked against the message they answer (same
CSB ID) - of the UE that sent them: one MSK pushed to many UEs shares one CSB
ID, and their verification messages come back in any order, so each is paired
with the pending message sent to its address, else to its IDr, else with
whichever pending message's keys verify its MAC (TS 33.246 §6.4.5.2).

Open protocol points (TS 33.246 unread) are settings of :class:`HierarchyRules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scapy.packet import Packet

from analyzer.crypto.kemac import (
    ENCR_KEY_LENGTHS,
    MAC_DIGESTS,
    KemacError,
    VerificationRule,
    decrypt_key_data,
    timestamp_64,
    verification_input,
    verify_mac,
)
from analyzer.crypto.prf import MessageKeys, PRFError, message_keys
from analyzer.crypto.srtp_policy import policy_from_params
from analyzer.keys.store import Key, KeyStore
from dissectors.mikey import (
    MIKEY_SRTP_ID,
    MIKEY_KeyData,
    all_issues,
)
from dissectors.mikey.base import Field_, Node
from dissectors.mikey.parts import message_parts
from dissectors.mikey.payloads import parse_key_data

GOOD, BAD, NOT_CHECKED = "good", "bad", "not checked"
MAX_REMEMBERED = 4096


@dataclass(frozen=True)
class HierarchyRules:
    """Settings for what TS 33.246 says and we could not read (digest §8).

    Attributes:
        mtk_rand: RAND for MTK messages that carry none: ``msk_delivery`` (the RAND
            of the MSK message that delivered the MSK) or ``none`` (not checked).
        verification: how the V payload's MAC input is completed.
    """

    mtk_rand: str = "msk_delivery"
    verification: VerificationRule = VerificationRule()


@dataclass
class MikeyOutcome:
    """What the key hierarchy made of one MIKEY message.

    Attributes:
        kind: ``MSK`` (under a MUK), ``MTK`` (under an MSK), ``verification`` or None.
        mac_status: good / bad / not checked (KEMAC MAC, or the V payload's for
            verification messages).
        reason: why not checked (no key, no RAND, unknown algorithm ...).
        decrypted: decrypted Key data sub-payloads (MAC good only).
        learned: keys learned from this message.
        key_ids: Key Domain ID, MSK ID, MTK ID of the Key ID extension (bytes or None).
        answers: for a verification message, ``(capture, frame)`` of the message it
            was paired with (the one whose keys verify its MAC; else the one sent to
            its address or IDr); None when none is pending.
    """

    kind: str | None = None
    mac_status: str = NOT_CHECKED
    reason: str = ""
    decrypted: list[Packet] = field(default_factory=list)
    learned: list[Key] = field(default_factory=list)
    key_ids: tuple[bytes | None, bytes | None, bytes | None] = (None, None, None)
    answers: tuple[int, int] | None = None

    def tree(self) -> list:
        """Extra tree items for the dissection (``mikey.kemac.*`` names)."""
        items: list = []
        if self.kind is None:
            return items
        items.append(Node(f"Key transport ({self.kind}): MAC {self.mac_status}"
                          + (f" ({self.reason})" if self.reason else ""), 0))
        name = "mikey.v.status" if self.kind == "verification" else "mikey.kemac.mac_status"
        items.append(Field_(name, self.mac_status, "MAC status", depth=1))
        for item in self.decrypted:
            for sub in item.tree(1):
                if isinstance(sub, Field_):
                    items.append(Field_(sub.name.replace("mikey.", "mikey.kemac.decrypted.", 1),
                                        sub.value, sub.label, sub[3], sub.secret, sub.depth))
                else:
                    items.append(Node("Decrypted " + sub.title, sub.depth))
        return items


@dataclass
class _Sent:
    """What a later verification message needs of an initiator message."""

    keys: MessageKeys
    idi: bytes
    idr: bytes
    t_value: bytes
    ue: str = ""                         # the address it was sent to
    at: tuple[int, int] | None = None    # (capture, frame)


class KeyHierarchy:
    """Sans-IO: MIKEY messages in (with their raw bytes), outcomes and learned keys out."""

    def __init__(self, store: KeyStore, rules: HierarchyRules = HierarchyRules()) -> None:
        self.store = store
        self.rules = rules
        #: V=1 messages waiting for their verification, per CSB ID (one per UE)
        self._sent: dict[int, list[_Sent]] = {}
        self._sent_count = 0

    def process(self, msg: Packet, raw: bytes, source: str, src: str = "", dst: str = "",
                at: tuple[int, int] | None = None) -> MikeyOutcome:
        """Apply the hierarchy to one dissected message (never raises).

        *src*, *dst*: its ``ip:port`` endpoints (a verification message is paired
        with the message sent to its source); *at*: its (capture, frame)."""
        try:
            return self._process(msg, raw, source, _ip(src), _ip(dst), at)
        except (KemacError, PRFError, ValueError) as exc:
            return MikeyOutcome(mac_status=NOT_CHECKED, reason=str(exc))

    def _process(self, msg: Packet, raw: bytes, source: str, src: str, dst: str,
                 at: tuple[int, int] | None) -> MikeyOutcome:
        data_type = getattr(msg, "data_type", None)
        if data_type is None:
            return MikeyOutcome()
        parts = message_parts(msg)
        if data_type == 1:
            return self._verification(msg, raw, parts, src)
        ext = parts.key_ids or {}
        kd, msk_id, mtk_id = ext.get(0), ext.get(1), ext.get(2)
        out = MikeyOutcome(key_ids=(kd, msk_id, mtk_id))
        kemac = parts.kemac
        if data_type != 0 or kemac is None:
            return out
        ids = [data for _type, data in parts.ids]
        idi = ids[0] if ids else b""
        idr = ids[1] if len(ids) > 1 else b""
        rand = parts.rand
        if mtk_id is not None and kd is not None and msk_id is not None:
            out.kind = "MTK"
            psk_key = self.store.msks.get((kd, msk_id))
            if psk_key is None or not psk_key.ready:
                out.reason = f"MSK {kd.hex()}/{msk_id.hex()} unknown"
                return out
            if rand is None and self.rules.mtk_rand == "msk_delivery":
                rand = psk_key.extra.get("rand")
        else:
            out.kind = "MSK"
            psk_key = self.store.find_muk(idr or None, idi or None)
            if psk_key is None:
                out.reason = f"no MUK for IDr {idr.decode('utf-8', 'replace') or '(none)'}"
                return out
        if rand is None:
            out.reason = "no RAND for the key derivation"
            return out
        encr_len = ENCR_KEY_LENGTHS.get(kemac.encr_alg)
        auth_len = MAC_DIGESTS.get(kemac.mac_alg, (None, 20))[1]
        if encr_len is None:
            out.reason = f"encryption algorithm {kemac.encr_alg} unknown"
            return out
        keys = message_keys(psk_key.value, msg.csb_id, rand, msg.prf_func, encr_len, auth_len)
        ts_type, ts_value = parts.timestamp or (2, b"")
        t64 = timestamp_64(ts_type, ts_value)
        if getattr(msg, "v", 0):
            self._remember(msg.csb_id, _Sent(keys, idi, idr, ts_value, dst, at))
        mac_len = len(kemac.mac or b"")
        if _damaged(msg) or mac_len != auth_len:
            out.mac_status, out.reason = NOT_CHECKED, "the message is damaged (cut short)"
            return out
        if kemac.mac_alg == 0:
            out.mac_status, out.reason = NOT_CHECKED, "NULL MAC"
        elif kemac.mac_alg not in MAC_DIGESTS:
            out.reason = f"MAC algorithm {kemac.mac_alg} unknown"
            return out
        elif verify_mac(kemac.mac_alg, keys.auth_key, raw[:len(raw) - mac_len], kemac.mac):
            out.mac_status = GOOD
        else:
            out.mac_status = BAD
            return out
        if not kemac.encr_data_bytes():  # a trigger or a validity update (TS 33.246 §6.5.3)
            out.reason = "no key data"
            return out
        plain = decrypt_key_data(kemac.encr_alg, keys.encr_key, keys.salt_key, msg.csb_id, t64,
                                 kemac.encr_data_bytes())
        chain = parse_key_data(plain)
        out.decrypted = list(chain.key_data or [])
        first = next((k for k in out.decrypted if isinstance(k, MIKEY_KeyData)), None)
        if first is None or chain.issues:
            out.reason = "key data does not decode"
            return out
        # Key Number 0 (the low half of the MSK ID) is a solicited-pull trigger, never a
        # key to learn (TS 33.246 §6.5.3)
        if out.kind == "MSK" and kd is not None and msk_id is not None and any(msk_id[2:]):
            policy = policy_from_params(parts.srtp_policy) \
                if parts.srtp_policy is not None else None
            if policy is None:  # (a push without an SP keeps the policy it had)
                known = self.store.msks.get((kd, msk_id))
                policy = known.extra.get("srtp_policy") if known is not None else None
            out.learned.append(self.store.learn_msk(
                kd, msk_id, first.key_data or b"", source, rand=rand, csb_id=msg.csb_id,
                srtp_policy=policy,
                key_type=first.key_type, valid_from=getattr(first, "valid_from", None),
                valid_to=getattr(first, "valid_to", None)))
        elif out.kind == "MTK":
            # an SRTP-ID CS map (RFC 3830 §6.1.1) names the streams and their ROC; TS 33.246
            # §6.4.5.3 sends the empty map, some BM-SCs send SSRC and ROC
            srtp_ids = {e.ssrc: e.roc for e in (msg.cs_map or []) if isinstance(e, MIKEY_SRTP_ID)}
            out.learned.append(self.store.learn_mtk(
                kd, msk_id, mtk_id, first.key_data or b"", first.salt if first.key_type in (1, 3, 5)
                else None, source, key_type=first.key_type, csb_id=msg.csb_id, rand=rand,
                spi=getattr(first, "spi", None), srtp_ids=srtp_ids))
        return out

    def _remember(self, csb_id: int, sent: _Sent) -> None:
        if self._sent_count >= MAX_REMEMBERED:
            self._sent.clear()
            self._sent_count = 0
        self._sent.setdefault(csb_id, []).append(sent)
        self._sent_count += 1

    def _verification(self, msg: Packet, raw: bytes, parts: dict[str, Any],
                      src: str) -> MikeyOutcome:
        out = MikeyOutcome(kind="verification")
        v = parts.v
        pending = self._sent.get(msg.csb_id) or []
        if v is None:
            out.reason = "no V payload"
            return out
        if not pending:
            out.reason = "the message it answers was not seen"
            return out
        idr = parts.ids[-1][1] if parts.ids else None  # HDR || T || IDr || V
        by_address = [s for s in pending if src and s.ue == src]
        by_idr = [s for s in pending if s not in by_address and idr and s.idr == idr]
        ordered = by_address + by_idr + [s for s in pending
                                         if s not in by_address and s not in by_idr]
        out.answers = ordered[0].at
        if v.auth_alg == 0:
            out.reason = "NULL MAC"
            return out
        if v.auth_alg not in MAC_DIGESTS:
            out.reason = f"auth algorithm {v.auth_alg} unknown"
            return out
        ver = v.ver_data or b""
        out.mac_status = BAD
        for sent in ordered:
            data = verification_input(raw[:len(raw) - len(ver)], sent.idi, sent.idr,
                                      sent.t_value, self.rules.verification)
            if verify_mac(v.auth_alg, sent.keys.auth_key, data, ver):
                out.mac_status, out.answers = GOOD, sent.at
                pending.remove(sent)
                self._sent_count -= 1
                if not pending:
                    del self._sent[msg.csb_id]
                break
        return out


def _ip(endpoint: str) -> str:
    """The address of an ``ip:port`` endpoint (``[ip]:port`` for IPv6)."""
    return endpoint.rsplit(":", 1)[0].strip("[]") if endpoint else ""


def _damaged(msg: Packet) -> bool:
    """Whether the dissector found the message cut short or malformed: its MAC cannot
    be checked (no verdict on a damaged copy; its intact re-send decides)."""
    return any(issue.severity == "error" for issue in all_issues(msg))
