"""Byte-exact build and dissect vectors (digest §5.5, RFC 3830 §6 layouts)."""

from __future__ import annotations

import pytest

from dissectors.mikey import (
    MIKEY,
    MIKEY_DH,
    MIKEY_EXT,
    MIKEY_GENERIC_ID,
    MIKEY_ID,
    MIKEY_KEMAC,
    MIKEY_PKE,
    MIKEY_RAND,
    MIKEY_SIGN,
    MIKEY_SP,
    MIKEY_SRTP_ID,
    MIKEY_T,
    MIKEY_TICKET,
    MIKEY_V,
    MIKEY_KeyData,
    MIKEY_KeyID,
    MIKEY_SPParam,
    all_issues,
    field_list,
    parse,
)
from tests.corpus import DIGEST_MSK_MESSAGE, DIGEST_VERIFICATION_MESSAGE

RAND = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")


def test_digest_msk_message_builds_byte_exact():
    msg = (MIKEY(data_type=0, v=1, prf_func=0, csb_id=0x01020304, cs_id_map_type=1)
           / MIKEY_T(ts_type=2, ts_value=b"\x00\x00\x00\x01")
           / MIKEY_RAND(rand=RAND)
           / MIKEY_ID(id_type=1, id_data=b"bmsc.example.org")
           / MIKEY_ID(id_type=1, id_data=b"c2VjcmV0cmFuZDE2Ynl0ZQ==@bsf.example.org")
           / MIKEY_EXT(ext_type=3, key_ids=[MIKEY_KeyID(key_id_type=0, key_id=bytes.fromhex("00f110")),
                                           MIKEY_KeyID(key_id_type=1, key_id=bytes.fromhex("00010002"))])
           / MIKEY_KEMAC(encr_alg=1, encr_data=bytes.fromhex(
               "cff420d84e14b145d4f157ed6500527749b3c03fad314e8a0500"),
               mac_alg=1, mac=bytes.fromhex("659e603a05336467e53ddc8d5f7ea938c99062af")))
    assert bytes(msg) == DIGEST_MSK_MESSAGE
    assert len(DIGEST_MSK_MESSAGE) == 164


def test_digest_msk_message_dissects_field_by_field():
    fields = [(f.name, f.value) for f in field_list(parse(DIGEST_MSK_MESSAGE))]
    assert fields[:8] == [("mikey.version", 1), ("mikey.type", 0), ("mikey.next_payload", 5),
                          ("mikey.v.set", 1), ("mikey.prf_func", 0), ("mikey.csb_id", 0x01020304),
                          ("mikey.cs_count", 0), ("mikey.cs_id_map_type", 1)]
    assert ("mikey.t.counter", 1) in fields
    assert ("mikey.id.data", "bmsc.example.org") in fields
    assert ("mikey.mbms.key_domain_id", "00f110") in fields
    assert ("mikey.mbms.msk_id", "00010002") in fields
    assert ("mikey.ext.data", "000300f110010400010002") in fields
    assert fields[-2:] == [("mikey.kemac.mac_alg", 1),
                           ("mikey.kemac.mac", "659e603a05336467e53ddc8d5f7ea938c99062af")]
    assert all_issues(parse(DIGEST_MSK_MESSAGE)) == []


def test_digest_verification_message():
    msg = parse(DIGEST_VERIFICATION_MESSAGE)
    assert msg.data_type == 1 and msg.csb_id == 0x01020304
    v = msg[MIKEY_V]
    assert v.auth_alg == 1
    assert v.ver_data.hex() == "29b7eb1401fe8f7040a69c2b1fa4d2c0f1651234"
    built = (MIKEY(data_type=1, csb_id=0x01020304, cs_id_map_type=1)
             / MIKEY_T(ts_type=2, ts_value=b"\x00\x00\x00\x01") / MIKEY_V(auth_alg=1, ver_data=v.ver_data))
    assert bytes(built) == DIGEST_VERIFICATION_MESSAGE


@pytest.mark.parametrize("layer, wire", [
    # SRTP-ID map entry: policy 1, SSRC 0xdeadbeef, ROC 7 (RFC 3830 §6.1.1)
    (MIKEY(data_type=0, csb_id=1, cs_id_map_type=0, cs_map=[MIKEY_SRTP_ID(policy_no=1, ssrc=0xDEADBEEF, roc=7)])
     / MIKEY_RAND(rand=b"\x11" * 16),
     "01000b00000000010100" "01deadbeef00000007" "0010" + "11" * 16),
    # GENERIC-ID block: CS 1, SRTP, S=1, policies [0], SSRC/ROC/SEQ, SPI 4 bytes (RFC 6043 §6.1.1)
    (MIKEY(data_type=14, csb_id=2, cs_id_map_type=2, cs_map=[MIKEY_GENERIC_ID(
        cs_id=1, prot_type=0, s=1, policy_nos=[0], session_data=bytes.fromhex("cafebabe000000011234"),
        spi=bytes.fromhex("00000005"))]) / MIKEY_RAND(rand=b"\x22" * 16),
     "010e0b00000000020102" "010081" "00" "000a" "cafebabe000000011234" "04" "00000005" "0010" + "22" * 16),
    # NULL KEMAC with a TEK+SALT key with SPI/MKI validity (RFC 3830 §6.2, §6.13, §6.14)
    (MIKEY(data_type=0, csb_id=3, cs_id_map_type=1) / MIKEY_KEMAC(encr_alg=0, key_data=[MIKEY_KeyData(
        next_payload=0, key_type=3, kv=1, key_data=b"\xaa" * 16, salt=b"\xbb" * 14, spi=b"\x00\x01")],
        mac_alg=0),
     "01000100000000030001" "00" "00" "0027" "00" "31" "0010" + "aa" * 16 + "000e" + "bb" * 14 + "02" "0001" "00"),
    # SP with two SRTP parameters (RFC 3830 §6.10)
    (MIKEY(data_type=0, csb_id=4, cs_id_map_type=1) / MIKEY_SP(policy_no=0, prot_type=0, params=[
        MIKEY_SPParam(type=0, value=b"\x01"), MIKEY_SPParam(type=11, value=b"\x0a")]),
     "01000a00000000040001" "00" "00" "00" "0006" "000101" "0b010a"),
    # DH group OAKLEY 1 (96-byte value), KV SPI (RFC 3830 §6.4)
    (MIKEY(data_type=4, csb_id=5, cs_id_map_type=1) / MIKEY_DH(dh_group=1, dh_value=b"\x33" * 96, kv=1, spi=b"\x07"),
     "01040300000000050001" "00" "01" + "33" * 96 + "01" "01" "07"),
    # PKE cache 1, then SIGN type 1 ending the chain (RFC 3830 §6.3, §6.5)
    (MIKEY(data_type=2, csb_id=6, cs_id_map_type=1) / MIKEY_PKE(next_payload=4, c=1, data=b"\x44" * 5)
     / MIKEY_SIGN(s_type=1, signature=b"\x55" * 3),
     "01020200000000060001" "04" "4005" + "44" * 5 + "1003" + "555555"),
    # TICKET with flags D, G and M set: PRF 7 bits | flags 12 bits | reserved 5 bits (RFC 6043 §6.10)
    (MIKEY(data_type=14, csb_id=7, cs_id_map_type=1) / MIKEY_TICKET(ticket_type=1, flags=0x800 | 0x100 | 0x004,
        tp_data=b"\x01", ticket_data=b"\x02\x03", initiator_data=b""),
     "010e1100000000070001" "00" "0001" "01" "01" "012080" "0001" "01" "0002" "0203" "0000"),
])
def test_build_vectors_are_byte_exact_and_round_trip(layer, wire):
    raw = bytes(layer)
    assert raw.hex() == wire
    parsed = parse(raw)
    assert bytes(parsed) == raw
    assert all_issues(parsed) == []


def test_dissection_fast_path_gives_scapys_state(corpus):
    """MIKEYPacket's fast __init__/do_dissect leave every slot as Scapy's own would."""
    from scapy.packet import NoPayload, Packet

    from dissectors.mikey.base import MIKEYPacket

    def state(pkt):
        out = []
        while pkt is not None and not isinstance(pkt, NoPayload):
            slots = {s: getattr(pkt, s) for s in sorted(Packet.__all_slots__)
                     if s not in ("payload", "underlayer", "parent", "time") and hasattr(pkt, s)}
            sub = [state(p) for p in getattr(pkt, "sub_packets", lambda: [])()]
            out.append((type(pkt).__name__, repr(slots), sub, pkt.issues))
            pkt = pkt.payload
        return out

    fast = [state(parse(raw)) for raw in corpus[:120]]
    original = MIKEYPacket.__init__, MIKEYPacket.do_dissect

    def scapy_init(self, *args, **kwargs):
        object.__setattr__(self, "issues", [])
        Packet.__init__(self, *args, **kwargs)

    try:
        MIKEYPacket.__init__, MIKEYPacket.do_dissect = scapy_init, Packet.do_dissect
        slow = [state(parse(raw)) for raw in corpus[:120]]
    finally:
        MIKEYPacket.__init__, MIKEYPacket.do_dissect = original
    assert fast == slow
