"""Building protected MIKEY messages: the BM-SC side of RFC 3830 §4-§5 for MBMS.

``psk_message`` makes a pre-shared-key message (MSK message under a MUK, MTK
message under an MSK, digest §4.4): HDR, T (COUNTER), RAND, [IDi, IDr], EXT
Key ID, KEMAC with the key data encrypted and MACed. ``verification_message``
makes the UE's answer (data type 1: HDR, T, V). Both use the product's layers
and crypto; the lab simulator and the tests build traffic with them.
"""

from __future__ import annotations

import struct

from analyzer.crypto.kemac import (
    ENCR_KEY_LENGTHS,
    MAC_DIGESTS,
    VerificationRule,
    encrypt_key_data,
    mac,
    timestamp_64,
    verification_input,
)
from analyzer.crypto.prf import message_keys
from dissectors.mikey import (
    MIKEY,
    MIKEY_EXT,
    MIKEY_ID,
    MIKEY_KEMAC,
    MIKEY_RAND,
    MIKEY_SP,
    MIKEY_T,
    MIKEY_V,
    MIKEY_KeyData,
    MIKEY_KeyID,
    MIKEY_SPParam,
)


def chain(hdr: MIKEY, payloads: list) -> bytes:
    """The bytes of *hdr* followed by *payloads*, each announcing the next.

    Building layer by layer avoids Scapy's ``a / b`` copies (quadratic in the
    chain length); the bytes are the same as ``bytes(hdr / p1 / p2 ...)``.
    """
    types = [p.payload_type for p in payloads] + [0]
    out = [bytes(_with_next(hdr, types[0]))]
    for payload, nxt in zip(payloads, types[1:]):
        out.append(bytes(_with_next(payload, nxt)))
    return b"".join(out)


def _with_next(layer, next_type: int):
    if getattr(layer, "next_payload_offset", 0) is None:  # SIGN has no next payload byte
        return layer
    layer.next_payload = next_type
    return layer


def key_ids_ext(kd: bytes, msk_id: bytes, mtk_id: bytes | None = None) -> MIKEY_EXT:
    """The RFC 4563 Key ID extension for Key Domain ID, MSK ID [and MTK ID]."""
    kids = [MIKEY_KeyID(key_id_type=0, key_id=kd), MIKEY_KeyID(key_id_type=1, key_id=msk_id)]
    if mtk_id is not None:
        kids.append(MIKEY_KeyID(key_id_type=2, key_id=mtk_id))
    return MIKEY_EXT(ext_type=3, key_ids=kids)


def psk_message(psk: bytes, csb_id: int, rand: bytes | None, counter: int,
                key_data: list[MIKEY_KeyData], ext: MIKEY_EXT | None = None,
                idi: bytes | None = None, idr: bytes | None = None, v: int = 0,
                encr_alg: int = 1, mac_alg: int = 1, prf_func: int = 0,
                key_rand: bytes | None = None, sp: dict[int, int] | None = None,
                id_type: int = 1) -> bytes:
    """A protected pre-shared-key MIKEY message (data type 0).

    *rand* is the RAND payload sent (None: no RAND payload); *key_rand* the
    RAND the keys are derived from when it differs (an MTK message without RAND);
    *sp*: an SRTP Security Policy payload (parameter type -> value, 1 byte each, 2
    for the ROC transmission rate), before EXT; *id_type*: of IDi and IDr (0 NAI, as
    TS 33.246 §6.4.5.1 writes both; 1 URI).
    """
    derive_rand = key_rand if key_rand is not None else rand
    if derive_rand is None:
        raise ValueError("a RAND is needed for the key derivation")
    keys = message_keys(psk, csb_id, derive_rand, prf_func, ENCR_KEY_LENGTHS[encr_alg],
                        MAC_DIGESTS.get(mac_alg, (None, 20))[1])
    ts_value = struct.pack("!I", counter)
    plain = b"".join(bytes(k) for k in key_data)
    encr = encrypt_key_data(encr_alg, keys.encr_key, keys.salt_key, csb_id,
                            timestamp_64(2, ts_value), plain)
    hdr = MIKEY(data_type=0, v=v, prf_func=prf_func, csb_id=csb_id, cs_id_map_type=1)
    payloads: list = [MIKEY_T(ts_type=2, ts_value=ts_value)]
    if rand is not None:
        payloads.append(MIKEY_RAND(rand=rand))
    if idi is not None:
        payloads.append(MIKEY_ID(id_type=id_type, id_data=idi))
    if idr is not None:
        payloads.append(MIKEY_ID(id_type=id_type, id_data=idr))
    if sp is not None:
        payloads.append(MIKEY_SP(policy_no=0, prot_type=0, params=[
            MIKEY_SPParam(type=t, value=v.to_bytes(2 if t == 13 else 1, "big"))
            for t, v in sp.items()]))
    if ext is not None:
        payloads.append(ext)
    tag_len = MAC_DIGESTS.get(mac_alg, (None, 0))[1] if mac_alg else 0
    kemac = MIKEY_KEMAC(encr_alg=encr_alg, encr_data=encr, mac_alg=mac_alg, mac=b"\x00" * tag_len)
    if encr_alg == 0:
        kemac = MIKEY_KEMAC(encr_alg=0, key_data=list(key_data), mac_alg=mac_alg,
                            mac=b"\x00" * tag_len)
    raw = chain(hdr, payloads + [kemac])
    body = raw[:len(raw) - tag_len]
    return body + mac(mac_alg, keys.auth_key, body)


def verification_message(psk: bytes, csb_id: int, rand: bytes, counter: int, idi: bytes,
                         idr: bytes, prf_func: int = 0, auth_alg: int = 1,
                         rule: VerificationRule = VerificationRule(),
                         with_idr: bool = False) -> bytes:
    """The UE's verification message for the initiator message it answers (RFC 3830 §5.2):
    HDR || T || V, or with *with_idr* HDR || T || IDr || V (TS 33.246 §6.4.5.2, the IDr
    an NAI holding the B-TID)."""
    keys = message_keys(psk, csb_id, rand, prf_func, 16, MAC_DIGESTS.get(auth_alg, (None, 20))[1])
    ts_value = struct.pack("!I", counter)
    tag_len = MAC_DIGESTS.get(auth_alg, (None, 0))[1] if auth_alg else 0
    raw = chain(MIKEY(data_type=1, prf_func=prf_func, csb_id=csb_id, cs_id_map_type=1),
                [MIKEY_T(ts_type=2, ts_value=ts_value)]
                + ([MIKEY_ID(id_type=0, id_data=idr)] if with_idr else [])
                + [MIKEY_V(auth_alg=auth_alg, ver_data=b"\x00" * tag_len)])
    body = raw[:len(raw) - tag_len]
    return body + mac(auth_alg, keys.auth_key, verification_input(body, idi, idr, ts_value, rule))
