"""A seeded corpus of MIKEY messages that uses every value our layers know.

Built with the product's own layers, with varied values, plus the hex
vectors of the digest (§5.5). Used by the round-trip, conformance (tshark)
and robustness tests and by ``bench/``. ``coverage_targets`` lists what the
corpus must exercise; ``test_corpus_covers_everything`` checks it.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

from dissectors.mikey import (
    MIKEY,
    MIKEY_CERT,
    MIKEY_CHASH,
    MIKEY_DH,
    MIKEY_ERR,
    MIKEY_EXT,
    MIKEY_GENERIC_ID,
    MIKEY_ID,
    MIKEY_IDR,
    MIKEY_KEMAC,
    MIKEY_PKE,
    MIKEY_RAND,
    MIKEY_RANDR,
    MIKEY_SAKKE,
    MIKEY_SIGN,
    MIKEY_SP,
    MIKEY_SRTP_ID,
    MIKEY_T,
    MIKEY_TICKET,
    MIKEY_TP,
    MIKEY_TR,
    MIKEY_V,
    MIKEY_KeyData,
    MIKEY_KeyID,
    MIKEY_SPParam,
)
from dissectors.mikey.constants import (
    CERT_TYPES,
    DATA_TYPES,
    DH_LENGTHS,
    ENCR_ALGS,
    ERR_NOS,
    EXT_TYPES,
    HASH_FUNCS,
    HASH_LENGTHS,
    ID_ROLES,
    ID_TYPES,
    KEY_DATA_TYPES,
    KEY_ID_TYPES,
    KV_TYPES,
    MAC_ALGS,
    MAC_LENGTHS,
    PK_DATA_TYPES,
    PKE_CACHE,
    PRF_FUNCS,
    RAND_ROLES,
    SALTED_KEY_TYPES,
    SIGN_TYPES,
    SRTP_POLICY_PARAMS,
    TS_LENGTHS,
    TS_ROLES,
    TS_TYPES,
)

#: Digest §5.5: synthetic MBMS MSK message (164 bytes) and its verification message.
DIGEST_MSK_MESSAGE = bytes.fromhex(
    "010005800102030400010b02000000010610a0a1a2a3a4a5a6a7a8a9aaabacad"
    "aeaf06010010626d73632e6578616d706c652e6f7267150100286332566a636d"
    "5630636d46755a444532596e6c305a513d3d406273662e6578616d706c652e6f"
    "72670103000b000300f1100104000100020001001acff420d84e14b145d4f157"
    "ed6500527749b3c03fad314e8a050001659e603a05336467e53ddc8d5f7ea938"
    "c99062af")
DIGEST_VERIFICATION_MESSAGE = bytes.fromhex(
    "01010500010203040001090200000001000129b7eb1401fe8f7040a69c2b1fa4d2c0f1651234")

#: RFC 4567 §5.1's SDP example is cut short in the RFC; this is the same shape,
#: a PSK message with SRTP-ID map and an SP payload (built, not copied).

MIKEY_PORT = 2269


def _ts_value(rng: random.Random, ts_type: int) -> bytes:
    return rng.randbytes(TS_LENGTHS.get(ts_type, 4))


def _key_data(rng: random.Random, key_type: int, kv: int, last: bool) -> MIKEY_KeyData:
    fields = dict(next_payload=0 if last else 20, key_type=key_type, kv=kv,
                  key_data=rng.randbytes(rng.choice((16, 16, 32))))
    if key_type in SALTED_KEY_TYPES:
        fields["salt"] = rng.randbytes(rng.choice((14, 12, 0)))
    if kv == 1:
        fields["spi"] = rng.randbytes(rng.choice((4, 6, 1)))
    elif kv == 2:
        fields["valid_from"] = rng.randbytes(rng.choice((2, 6)))
        fields["valid_to"] = rng.randbytes(rng.choice((2, 6)))
    return MIKEY_KeyData(**fields)


def _sp(rng: random.Random, i: int, classic: bool = False) -> MIKEY_SP:
    prot = 1 if i % 11 == 5 and not classic else 0
    params = []
    types = sorted(t for t in SRTP_POLICY_PARAMS if not classic or t < 13)
    start = i % len(types)
    for t in (types[start:] + types[:start])[: rng.randint(1, 8)]:
        if t in (1, 3, 4, 11, 12, 13, 16, 17, 18, 19, 20):
            value = bytes([rng.choice((16, 20, 14, 10, 4, 0, 32))])
        elif t == 6:
            value = bytes([rng.randint(0, 24)])
        else:
            value = bytes([rng.randint(0, 8)])
        params.append(MIKEY_SPParam(type=t, value=value))
    return MIKEY_SP(policy_no=rng.randint(0, 3), prot_type=prot, params=params)


def _ext(rng: random.Random, ext_type: int) -> MIKEY_EXT:
    if ext_type == 3:
        kids = [MIKEY_KeyID(key_id_type=0, key_id=rng.choice((b"\x02\xf8\x10", b"\x00\xf1\x10"))),
                MIKEY_KeyID(key_id_type=1, key_id=rng.randbytes(4))]
        if rng.random() < 0.5:
            kids.append(MIKEY_KeyID(key_id_type=2, key_id=rng.randbytes(2)))
        if rng.random() < 0.1:
            kids.append(MIKEY_KeyID(key_id_type=rng.choice((3, 241)), key_id=rng.randbytes(3)))
        return MIKEY_EXT(ext_type=3, key_ids=kids)
    if ext_type == 1:
        return MIKEY_EXT(ext_type=1, ext_data=b"1 2 3")
    if ext_type == 4:
        return MIKEY_EXT(ext_type=4, ext_data=rng.randbytes(4))
    if ext_type == 5:
        return MIKEY_EXT(ext_type=5, ext_data=bytes([rng.randint(1, 4)]) + rng.randbytes(6))
    return MIKEY_EXT(ext_type=ext_type, ext_data=rng.randbytes(rng.randint(0, 12)))


def _id(rng: random.Random, id_type: int, role: int | None = None):
    if id_type == 2:
        data = rng.randbytes(rng.randint(1, 12))
    else:
        data = rng.choice((b"bmsc.example.org", b"user@ims.example.net",
                           b"c2VjcmV0cmFuZDE2Ynl0ZQ==@bsf.example.org", b"sip:alice@x"))
    if role is None:
        return MIKEY_ID(id_type=id_type, id_data=data)
    return MIKEY_IDR(id_role=role, id_type=id_type, id_data=data)


def _cycle(table, i: int):
    values = sorted(table)
    return values[i % len(values)]


#: The RFC 3830 value space (what tshark 4.0 decodes fully), for "classic" messages.
CLASSIC = {"data_types": range(0, 11), "ts_types": (0, 1, 2), "map_types": (0, 1),
           "mac_algs": (0, 1), "encr_algs": (0, 1, 2), "key_types": (0, 1, 2, 3)}


def generated_message(i: int, rng: random.Random, classic: bool = False) -> bytes:
    """The *i*-th generated message: values cycle so every one appears.

    *classic* keeps to RFC 3830 values and payloads (no RFC 6043/6509 ones).
    """
    data_type = _cycle(CLASSIC["data_types"] if classic else DATA_TYPES, i)
    map_type = CLASSIC["map_types"][i % 2] if classic else i % 3
    if map_type == 0:
        cs_map = [MIKEY_SRTP_ID(policy_no=rng.randint(0, 3), ssrc=rng.getrandbits(32),
                                roc=rng.getrandbits(32) if i % 4 else 0)
                  for _ in range(rng.randint(0, 3))]
    elif map_type == 2:
        cs_map = []
        for n in range(rng.randint(0, 2) if i % 6 else 1):
            s = rng.randint(0, 1)
            sess = struct.pack("!I", rng.getrandbits(32))
            if s:
                sess += struct.pack("!IH", rng.getrandbits(32), rng.getrandbits(16))
            cs_map.append(MIKEY_GENERIC_ID(cs_id=n + 1, prot_type=0, s=s,
                                           policy_nos=[rng.randint(0, 3)
                                                       for _ in range(rng.randint(0, 2))],
                                           session_data=sess,
                                           spi=rng.randbytes(rng.choice((0, 4)))))
    else:
        cs_map = []
    hdr = MIKEY(data_type=data_type, v=rng.randint(0, 1), prf_func=_cycle(PRF_FUNCS, i // 3),
                csb_id=rng.getrandbits(32), cs_id_map_type=map_type, cs_map=cs_map)

    chain = []
    ts_type = _cycle(CLASSIC["ts_types"] if classic else TS_TYPES, i // 2)
    chain.append(MIKEY_T(ts_type=ts_type, ts_value=_ts_value(rng, ts_type)))
    if i % 5 == 0 and not classic:
        chain.append(MIKEY_TR(ts_role=_cycle(TS_ROLES, i), ts_type=_cycle(TS_TYPES, i // 5),
                              ts_value=_ts_value(rng, _cycle(TS_TYPES, i // 5))))
    chain.append(MIKEY_RAND(rand=rng.randbytes(rng.choice((16, 16, 32)))))
    if i % 7 == 3 and not classic:
        chain.append(MIKEY_RANDR(rand_role=_cycle(RAND_ROLES, i), rand=rng.randbytes(16)))
    chain.append(_id(rng, _cycle((0, 1) if classic else ID_TYPES, i)))
    if i % 4 == 1 and not classic:
        chain.append(_id(rng, _cycle(ID_TYPES, i + 1), role=_cycle(ID_ROLES, i)))
    if i % 9 == 2 and not classic:
        chain.append(MIKEY_CERT(cert_type=_cycle(CERT_TYPES, i), cert_data=rng.randbytes(24)))
    if i % 3 == 0:
        chain.append(_sp(rng, i, classic))
    chain.append(_ext(rng, _cycle(EXT_TYPES, i)))
    if i % 8 == 4 and not classic:
        chain.append(MIKEY_DH(dh_group=_cycle(DH_LENGTHS, i),
                              dh_value=rng.randbytes(DH_LENGTHS[_cycle(DH_LENGTHS, i)]),
                              kv=_cycle(KV_TYPES, i // 8),
                              spi=rng.randbytes(4), valid_from=rng.randbytes(2),
                              valid_to=rng.randbytes(2)))
    if i % 10 == 6 or (classic and i % 10 == 1):
        chain.append(MIKEY_ERR(err_no=_cycle(ERR_NOS, i)))
    if i % 12 == 7 and not classic:
        chain.append(MIKEY_TP(ticket_type=1 + i % 2, flags=rng.getrandbits(12),
                              tp_data=rng.randbytes(8)))
    if i % 12 == 8 and not classic:
        chain.append(MIKEY_TICKET(ticket_type=1 + i % 2, flags=rng.getrandbits(12),
                                  tp_data=rng.randbytes(6), ticket_data=rng.randbytes(20),
                                  initiator_data=rng.randbytes(rng.choice((0, 8)))))
    if i % 13 == 9 and not classic:
        chain.append(MIKEY_SAKKE(sakke_data=rng.randbytes(40)))
    encr = _cycle(CLASSIC["encr_algs"] if classic else ENCR_ALGS, i // 2)
    mac_alg = _cycle(CLASSIC["mac_algs"] if classic else MAC_ALGS, i // 4)
    if encr == 0:
        n_keys = rng.randint(1, 3)
        keys = [_key_data(rng, _cycle(CLASSIC["key_types"] if classic else KEY_DATA_TYPES, i // 8 + k), _cycle(KV_TYPES, i // 3 + k),
                          last=(k == n_keys - 1)) for k in range(n_keys)]
        if data_type in PK_DATA_TYPES:  # PK envelopes: IDi first (RFC 3830 §3.2)
            keys.insert(0, MIKEY_ID(next_payload=20, id_type=1, id_data=b"alice@example.org"))
        kemac = MIKEY_KEMAC(encr_alg=0, key_data=keys, mac_alg=mac_alg,
                            mac=rng.randbytes(MAC_LENGTHS[mac_alg]))
    else:
        kemac = MIKEY_KEMAC(encr_alg=encr, encr_data=rng.randbytes(rng.choice((26, 40, 0))),
                            mac_alg=mac_alg, mac=rng.randbytes(MAC_LENGTHS[mac_alg]))
    chain.append(kemac)
    if i % 6 == 5:
        v_alg = _cycle(CLASSIC["mac_algs"] if classic else MAC_ALGS, i // 6)
        chain.append(MIKEY_V(auth_alg=v_alg, ver_data=rng.randbytes(MAC_LENGTHS[v_alg])))
    if i % 11 == 10 and not classic:
        chain.append(MIKEY_CHASH(hash_func=_cycle(HASH_FUNCS, i),
                                 hash=rng.randbytes(HASH_LENGTHS[_cycle(HASH_FUNCS, i)])))
    if i % 14 == 12:
        chain.append(MIKEY_PKE(c=_cycle(PKE_CACHE, i),
                               data=rng.randbytes(rng.choice((64, 128, 1100)))))
    if i % 5 == 2:
        chain.append(MIKEY_SIGN(s_type=_cycle(SIGN_TYPES, i), signature=rng.randbytes(32)))
    msg = hdr
    for payload in chain:
        msg = msg / payload
    return bytes(msg)


def build_corpus(count: int = 360, classic: int = 160, seed: int = 3830) -> list[bytes]:
    """The digest vectors, *count* generated messages, then *classic* RFC 3830-only ones."""
    rng = random.Random(seed)
    out = [DIGEST_MSK_MESSAGE, DIGEST_VERIFICATION_MESSAGE]
    out.extend(generated_message(i, rng) for i in range(count))
    out.extend(generated_message(i, rng, classic=True) for i in range(classic))
    return out


def coverage_targets() -> dict[str, set[int]]:
    """Field name -> every value the corpus must show for it."""
    return {
        "mikey.type": set(DATA_TYPES),
        "mikey.next_payload": {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
                               20, 21, 26} - {4},  # SIGN is announced, never announces
        "mikey.cs_id_map_type": {0, 1, 2},
        "mikey.prf_func": set(PRF_FUNCS),
        "mikey.t.ts_type": set(TS_TYPES),
        "mikey.tr.ts_type": set(TS_TYPES),
        "mikey.key.type": set(KEY_DATA_TYPES),
        "mikey.key.kv": set(KV_TYPES),
        "mikey.dh.kv": set(KV_TYPES),
        "mikey.kemac.encr_alg": set(ENCR_ALGS),
        "mikey.kemac.mac_alg": set(MAC_ALGS),
        "mikey.v.auth_alg": set(MAC_ALGS),
        "mikey.sp.param.type": set(SRTP_POLICY_PARAMS),
        "mikey.sp.proto_type": {0, 1},
        "mikey.ext.type": set(EXT_TYPES),
        "mikey.ext.key_id.type": set(KEY_ID_TYPES),
        "mikey.id.type": set(ID_TYPES),
        "mikey.id.role": set(ID_ROLES),
        "mikey.cert.type": set(CERT_TYPES),
        "mikey.chash.hash_func": set(HASH_FUNCS),
        "mikey.err.no": set(ERR_NOS),
        "mikey.sign.type": set(SIGN_TYPES),
        "mikey.pke.c": set(PKE_CACHE),
        "mikey.randr.role": set(RAND_ROLES),
        "mikey.tr.ts_role": set(TS_ROLES),
        "mikey.dh.group": set(DH_LENGTHS),
    }


def write_pcap(path: Path, messages: list[bytes], port: int = MIKEY_PORT,
               start: float = 1_700_000_000.0) -> None:
    """Write each message as one UDP datagram (IPv4, Ethernet) to a pcap file."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import PcapWriter

    with PcapWriter(str(path), linktype=1, sync=False) as writer:
        for n, raw in enumerate(messages):
            pkt = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                   / IP(src="10.0.0.1", dst="10.0.0.7") / UDP(sport=port, dport=port) / raw)
            pkt.time = start + n * 0.01
            writer.write(pkt)


def mbms_message(i: int, rng: random.Random) -> bytes:
    """A realistic MBMS MIKEY message (digest §4.4 profile), cycling the three kinds.

    MSK message (BM-SC -> UE under the MUK, V=1, IDi/IDr, Key Domain + MSK ID),
    MTK message (under the MSK, Key Domain + MSK ID + MTK ID, no IDs), and the UE's
    verification message. Key data are random bytes standing for AES-CM output.
    """
    kd = b"\x02\xf8\x10"
    msk_id = struct.pack("!HH", 1, 1 + i // 300)
    counter = struct.pack("!I", i + 1)
    kind = i % 10
    if kind == 9:  # verification message of an MSK delivery
        return bytes(MIKEY(data_type=1, csb_id=0x0BAD0000 | (i & 0xFFFF), cs_id_map_type=1)
                     / MIKEY_T(ts_type=2, ts_value=counter)
                     / MIKEY_V(auth_alg=1, ver_data=rng.randbytes(20)))
    if kind in (0, 5):  # MSK message
        kids = [MIKEY_KeyID(key_id_type=0, key_id=kd), MIKEY_KeyID(key_id_type=1, key_id=msk_id)]
        return bytes(MIKEY(data_type=0, v=1, csb_id=struct.unpack("!I", msk_id)[0], cs_id_map_type=1)
                     / MIKEY_T(ts_type=2, ts_value=counter) / MIKEY_RAND(rand=rng.randbytes(16))
                     / MIKEY_ID(id_type=1, id_data=b"bmsc.example.org")
                     / MIKEY_ID(id_type=1, id_data=b"%d@bsf.example.org" % (i % 1000))
                     / MIKEY_EXT(ext_type=3, key_ids=kids)
                     / MIKEY_KEMAC(encr_alg=1, encr_data=rng.randbytes(26), mac_alg=1,
                                   mac=rng.randbytes(20)))
    kids = [MIKEY_KeyID(key_id_type=0, key_id=kd), MIKEY_KeyID(key_id_type=1, key_id=msk_id),
            MIKEY_KeyID(key_id_type=2, key_id=struct.pack("!H", i & 0xFFFF))]
    return bytes(MIKEY(data_type=0, csb_id=struct.unpack("!I", msk_id)[0], cs_id_map_type=1)
                 / MIKEY_T(ts_type=2, ts_value=counter) / MIKEY_RAND(rand=rng.randbytes(16))
                 / MIKEY_EXT(ext_type=3, key_ids=kids)
                 / MIKEY_KEMAC(encr_alg=1, encr_data=rng.randbytes(38), mac_alg=1,
                               mac=rng.randbytes(20)))
