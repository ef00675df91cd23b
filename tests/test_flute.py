"""FLUTE/ALC layers, FDT, object reassembly and the DCF (issue #10)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import struct
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.capture.where import Where
from analyzer.crypto.dcf import candidate_keys, decrypt, encrypt
from analyzer.crypto.prf import TEK_ENCR_CONST, label, prf
from analyzer.flute.receiver import FluteReceiver, Limits, block_layout, symbol_offset
from analyzer.keys.store import KeyStore
from analyzer.views.alc import open_object
from dissectors.dcf import build_dcf, looks_like_dcf, parse_dcf
from dissectors.flute import Fti, build_alc, looks_like_alc, parse_alc
from dissectors.flute.fdt import build_fdt, parse_fdt


def at(n: int) -> Where:
    return Where(0, n, 1_700_000_000 + n / 100, "10.0.0.1:4001", "232.0.0.1:4001")


# ---------------------------------------------------------------- LCT / ALC

#: V=1 C=0 PSI=0 | S=1 O=1 H=0 A=0 B=1 | HDR_LEN 5 words | CP 0 | CCI | TSI 7 | TOI 3 |
#: EXT_CENC (193, GZIP) | SBN 2 | ESI 0x0105 | payload "abc"
VECTOR = bytes.fromhex("10 a1 05 00  00000000  00000007  00000003  c1 03 0000  0002 0105"
                       .replace(" ", "")) + b"abc"


def test_alc_vector_builds_byte_exact_and_dissects_field_by_field():
    assert build_alc(7, 3, b"abc", sbn=2, esi=0x105, cenc=3, close_object=True) == VECTOR
    pkt = parse_alc(VECTOR)
    assert (pkt.version, pkt.tsi, pkt.toi, pkt.codepoint, pkt.hdr_len) == (1, 7, 3, 0, 20)
    assert (pkt.close_object, pkt.close_session, pkt.cenc, pkt.sbn, pkt.esi) == \
        (True, False, 3, 2, 0x105)
    assert pkt.payload == b"abc" and pkt.issues == []
    fields = [(f[0], f[1]) for f in pkt.items if len(f) == 6]
    assert ("rmt-lct.tsi", 7) in fields and ("rmt-lct.cenc", 3) in fields
    assert ("rmt-fec.esi", 0x105) in fields and ("rmt-lct.hlen", 20) in fields


def test_ext_fdt_and_ext_fti_round_trip():
    raw = build_alc(1, 0, b"<x/>", fdt_instance_id=0xABCDE, fti=Fti(2**40 + 5, 1400, 64))
    pkt = parse_alc(raw)
    assert pkt.is_fdt and pkt.fdt_instance_id == 0xABCDE and pkt.fdt_version == 2
    assert pkt.fti == Fti(2**40 + 5, 1400, 64)
    # EXT_FTI: HET 64, HEL 4, 48-bit transfer length, 16 reserved, E, B (RFC 5445 §3.2.3)
    assert raw[20:36].hex() == "4004" + (2**40 + 5).to_bytes(6, "big").hex() + "0000" + \
        "0578" + "00000040"


def test_rfc3451_sct_and_ert_fields_are_skipped_not_misread():
    raw = bytearray(build_alc(9, 4, b"zz"))
    raw[1] |= 0x0C  # T and R: SCT and ERT follow the TOI (RFC 3451 §5.1)
    raw[2] += 2
    raw[16:16] = b"\x00\x00\x03\xe8\x00\x00\x07\xd0"
    pkt = parse_alc(bytes(raw))
    assert (pkt.tsi, pkt.toi, pkt.payload) == (9, 4, b"zz")
    assert ("rmt-lct.sct", 1000) in [(f[0], f[1]) for f in pkt.items if len(f) == 6]


def test_other_fec_schemes_are_recognised_not_reassembled():
    raw = bytearray(build_alc(1, 2, b"x" * 10, codepoint=6))  # RaptorQ: SBN 8 | ESI 24
    pkt = parse_alc(bytes(raw))
    assert pkt.fec_id == 6 and not pkt.decodable
    assert "alc.fec_not_decoded" in [i.code for i in pkt.issues]


def test_heuristic_takes_alc_and_leaves_other_udp():
    assert looks_like_alc(VECTOR)
    assert not looks_like_alc(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www")  # DNS
    assert not looks_like_alc(b"\x80\x00" + os.urandom(30))  # RTP
    bad = bytearray(VECTOR)
    bad[2] = 40  # HDR_LEN past the datagram
    assert not looks_like_alc(bytes(bad))
    assert parse_alc(bytes(bad)).issues[0].code == "alc.malformed"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=120))
def test_alc_parser_never_raises(data):
    parse_alc(data)
    looks_like_alc(data)


# ---------------------------------------------------------------- FDT

def test_fdt_files_inherit_instance_attributes():
    xml = (b'<FDT-Instance xmlns="urn:ietf:params:xml:ns:fdt" Expires="1" Content-Type="a/b" '
           b'FEC-OTI-Encoding-Symbol-Length="512"><File TOI="3" Content-Location="dir/x.bin" '
           b'Content-Length="100" Content-MD5="' + base64.b64encode(b"\x01" * 16) + b'"/>'
           b'<File TOI="4" Content-Location="y" Content-Type="c/d"/></FDT-Instance>')
    fdt = parse_fdt(xml)
    assert [(f.toi, f.name, f.content_type, f.symbol_length) for f in fdt.files] == \
        [(3, "x.bin", "a/b", 512), (4, "y", "c/d", 512)]
    assert fdt.files[0].content_md5 == b"\x01" * 16 and fdt.issues == []


@pytest.mark.parametrize("xml, code", [
    (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">'
     b'<!ENTITY c "&b;&b;&b;&b;&b;">]><FDT-Instance Expires="1"><File TOI="1" '
     b'Content-Location="&c;"/></FDT-Instance>', "flute.fdt_refused"),
    (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><FDT-Instance>&e;</FDT-Instance>',
     "flute.fdt_refused"),
    (b'<FDT-Instance Expires="1"><File TOI="1" Content-Location="a" '
     b'Content-Length="99999999999999999999"/></FDT-Instance>', "flute.fdt_absurd_length"),
    (b'<FDT-Instance Expires="1"><File TOI="-1" Content-Location="a"/></FDT-Instance>',
     "flute.fdt_absurd_length"),
    (b"<FDT-Instance", "flute.fdt_malformed"),
    (b"<html/>", "flute.fdt_malformed"),
])
def test_hostile_fdt_is_a_finding(xml, code):
    assert code in [i.code for i in parse_fdt(xml).issues]


# ---------------------------------------------------------------- reassembly

def _session(data: bytes, name: str = "f.bin", symbol: int = 100, sbl: int = 4,
             md5: bytes | None = None) -> tuple[bytes, list[bytes]]:
    fti = Fti(len(data), symbol, sbl)
    fdt = build_fdt([{"TOI": 1, "Content-Location": name, "Content-Length": len(data),
                      "Content-MD5": base64.b64encode(md5 or hashlib.md5(data).digest()).decode()}])
    a_large, a_small, i_large, n = block_layout(fti)
    ids = [(b, e) for b in range(n) for e in range(a_large if b < i_large else a_small)]
    pkts = []
    for k, (b, e) in enumerate(ids):
        off, _end = symbol_offset(fti, b, e)
        pkts.append(build_alc(1, 1, data[off:off + symbol], sbn=b, esi=e,
                              fti=fti if k == 0 else None))
    return build_alc(1, 0, fdt, fdt_instance_id=1, fti=Fti(len(fdt), 1400, 64)), pkts


def _feed(rx: FluteReceiver, raws: list[bytes]) -> list:
    out = []
    for n, raw in enumerate(raws):
        out += rx.packet(parse_alc(raw), at(n))
    return out + rx.finish()


def test_block_partitioning_follows_rfc5052():
    # 40 symbols, B = 16: three blocks of 14, 13, 13 (RFC 5052 §9.1)
    assert block_layout(Fti(40 * 1024, 1024, 16)) == (14, 13, 1, 3)
    assert symbol_offset(Fti(40 * 1024, 1024, 16), 1, 0) == (14 * 1024, 27 * 1024)
    assert symbol_offset(Fti(40 * 1024, 1024, 16), 0, 14) is None


def test_out_of_order_multi_block_object_with_duplicates_reassembles():
    data = os.urandom(1234)
    fdt, pkts = _session(data)
    order = [fdt] + pkts[-3:] + pkts[::-1]  # the last three, then all reversed
    [obj] = _feed(FluteReceiver(), order)
    assert obj.complete and obj.data == data and obj.md5 == "ok" and obj.duplicates == 3


def test_symbols_before_any_fti_wait_for_the_fdt():
    data = os.urandom(950)
    fdt_pkt, pkts = _session(data, symbol=100, sbl=1000)
    bare = [build_alc(1, 1, data[i * 100:(i + 1) * 100], esi=i) for i in range(10)]
    objs = _feed(FluteReceiver(), bare[1:] + [fdt_pkt] + bare[:1])
    assert [o.data == data for o in objs] == [False] or objs[0].complete  # FDT has no E
    rx = FluteReceiver()
    fdt = build_fdt([{"TOI": 1, "Content-Location": "a", "Content-Length": 950,
                      "FEC-OTI-Encoding-Symbol-Length": 100,
                      "FEC-OTI-Maximum-Source-Block-Length": 1000}])
    done = _feed(rx, bare[3:] + [build_alc(1, 0, fdt, fdt_instance_id=2,
                                           fti=Fti(len(fdt), 1400, 64))] + bare[:3])
    assert done[0].complete and done[0].data == data


def test_lost_packet_is_reported_with_its_range_not_delivered_whole():
    data = os.urandom(1000)
    fdt, pkts = _session(data)
    [obj] = _feed(FluteReceiver(), [fdt] + pkts[:4] + pkts[5:])
    assert not obj.complete and obj.data is None and obj.missing == [(400, 500)]
    assert obj.received == 900 and "100 of 1000 bytes" in obj.reason


def test_overlapping_symbols_with_other_bytes_are_a_conflict_first_kept():
    data = os.urandom(400)
    fdt, pkts = _session(data)
    forged = build_alc(1, 1, b"\xee" * 100, sbn=0, esi=1)
    rx = FluteReceiver()
    [obj] = _feed(rx, [fdt, pkts[0], pkts[1], forged] + pkts[2:])
    assert obj.complete and obj.data == data and obj.conflicts == 1
    assert "flute.symbol_conflict" in [n.code for n in rx.notes]


def test_absurd_transfer_length_allocates_nothing():
    tracemalloc.start()
    rx = FluteReceiver(Limits(max_object=1 << 20))
    raws = [build_alc(1, 5, os.urandom(1000), esi=i, fti=Fti(2**47, 1000, 2**31))
            for i in range(50)]
    _feed(rx, raws)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20
    assert "flute.object_too_large" in [n.code for n in rx.notes]


def test_buffer_cap_bounds_what_waits_for_an_fti():
    rx = FluteReceiver(Limits(max_buffered=10_000))
    _feed(rx, [build_alc(1, 9, b"x" * 1000, esi=i) for i in range(50)])
    assert "flute.buffer_cap" in [n.code for n in rx.notes]
    assert rx._held <= 10_000


def test_gzip_content_encoding_is_undone_and_bombs_are_refused():
    plain = b"clause " * 2000
    obj = gzip.compress(plain)
    fdt = build_fdt([{"TOI": 1, "Content-Location": "t.txt", "Content-Encoding": "gzip",
                      "Transfer-Length": len(obj)}])
    raws = [build_alc(1, 0, fdt, fdt_instance_id=1, fti=Fti(len(fdt), 9000, 1)),
            build_alc(1, 1, obj, fti=Fti(len(obj), len(obj), 1))]
    [out] = _feed(FluteReceiver(), raws)
    assert out.data == plain
    bomb = gzip.compress(b"\0" * (4 << 20))
    raws = [build_alc(1, 0, fdt, fdt_instance_id=1, fti=Fti(len(fdt), 9000, 1)),
            build_alc(1, 1, bomb, fti=Fti(len(bomb), len(bomb), 1))]
    [out] = _feed(FluteReceiver(Limits(max_object=1 << 20)), raws)
    assert out.data is None and "beyond" in out.reason


# ---------------------------------------------------------------- DCF

MTK = bytes(range(16))
KID = bytes.fromhex("02f810" "00010002" "0007")


def _dcf(plain: bytes, method: int = 1, csb: int = 0x1234, rand: bytes = b"r" * 16) -> bytes:
    keys = candidate_keys(MTK, csb, rand, "rfc3830")[0]
    return build_dcf(encrypt(method, keys.encr_key, b"\x42" * 16, plain), key_id=KID,
                     plaintext_length=len(plain), method=method)


def test_dcf_headers_round_trip_and_name_the_mtk():
    raw = _dcf(b"hello world")
    assert looks_like_dcf(raw)
    dcf = parse_dcf(raw)
    c = dcf.containers[0]
    assert dcf.mbms and dcf.issues == []
    assert (c.encryption_method, c.padding_scheme, c.plaintext_length) == (1, 1, 11)
    assert c.mtk == ("02f810", "00010002", "0007") and c.key_id_type == 2
    assert raw[c.data_offset:c.data_offset + 16] == b"\x42" * 16


def test_dcf_key_is_derived_as_ts33246_6_5_4_says():
    keys = candidate_keys(MTK, 0x1234, b"r" * 16, "auto")
    assert [k.how for k in keys] == ["rfc3830", "direct"]
    assert keys[0].encr_key == prf(MTK, label(TEK_ENCR_CONST, 0, 0x1234, b"r" * 16), 16)
    assert keys[0].encr_key != MTK


@pytest.mark.parametrize("method", [1, 2])
def test_dcf_decrypts_with_the_learned_mtk_and_reports_a_wrong_one(method):
    from analyzer.flute.receiver import DeliveredObject

    plain = os.urandom(3000)
    raw = _dcf(plain, method)
    obj = DeliveredObject("d", 1, 1, None, raw, len(raw), len(raw), [], True, None, at(0),
                          at(1), 3, 0, 0, 0)
    store = KeyStore()
    store.learn_mtk(KID[:3], KID[3:7], KID[7:], MTK, None, "test", csb_id=0x1234,
                    rand=b"r" * 16)
    opened = open_object(obj, store)
    assert opened.plain == plain and opened.key_how == "rfc3830"
    assert opened.result == ("ok" if method == 1 else "unchecked")
    assert open_object(obj, KeyStore()).result == "no_key"
    store.learn_mtk(KID[:3], KID[3:7], KID[7:], bytes(16), None, "test", csb_id=0x1234,
                    rand=b"r" * 16)
    if method == 1:  # CBC padding and PlaintextLength expose a wrong key
        assert open_object(obj, store).result == "bad_key"


def test_cbc_with_wrong_key_fails_the_padding_check():
    body = encrypt(1, MTK, b"\0" * 16, b"x" * 40)
    assert decrypt(1, MTK, body, 40, 1) == (b"x" * 40, True)
    assert decrypt(1, bytes(16), body, 40, 1)[0] is None


def _at(raw: bytes, box: bytes, skip: int, value: bytes) -> bytes:
    """*raw* with *value* written *skip* bytes after box type *box*."""
    i = raw.index(box) + 4 + skip
    return raw[:i] + value + raw[i + len(value):]


@pytest.mark.parametrize("mutate", [
    lambda b: b[:-5],                                               # odda cut short
    lambda b: _at(b, b"ohdr", 4 + 10, b"\xff\xff"),                  # ContentIDLength lies
    lambda b: _at(b, b"odrm", -8, struct.pack("!I", 0x7FFFFFFF)),   # odrm past the file
    lambda b: _at(b, b"odda", 4, struct.pack("!Q", 2**60)),         # DataLength lies
    lambda b: _at(b, b"odhe", -8, b"\x00\x00\x00\x01"),             # size 1, no room
    lambda b: b[:20] + b"\x00\x00\x00\x08odrm" * 300,               # box after box
])
def test_dcf_with_lying_lengths_is_reported_not_crashed(mutate):
    raw = mutate(_dcf(b"p" * 100))
    dcf = parse_dcf(raw)
    assert dcf.issues, "a lying length must be reported"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_dcf_parser_never_raises(data):
    parse_dcf(b"\x00\x00\x00\x10ftypodcf\x00\x00\x00\x02" + data)
    parse_dcf(data)


def test_a_dcf_naming_no_key_is_opened_only_by_a_confirmed_trial():
    from analyzer.flute.receiver import DeliveredObject

    plain = os.urandom(500)
    keys = candidate_keys(MTK, 0x1234, b"r" * 16, "rfc3830")[0]
    raw = build_dcf(encrypt(1, keys.encr_key, b"\x42" * 16, plain), key_id=b"",
                    plaintext_length=len(plain), method=1)
    assert parse_dcf(raw).containers[0].mtk is None
    obj = DeliveredObject("d", 1, 1, None, raw, len(raw), len(raw), [], True, None, at(0),
                          at(1), 1, 0, 0, 0)
    store = KeyStore()
    for n in range(5):  # other MTKs first: none of them passes the padding check
        store.learn_mtk(KID[:3], KID[3:7], bytes([0, n]), os.urandom(16), None, "t",
                        csb_id=0x1234, rand=b"r" * 16)
    store.learn_mtk(KID[:3], KID[3:7], KID[7:], MTK, None, "t", csb_id=0x1234, rand=b"r" * 16)
    opened = open_object(obj, store)
    assert (opened.result, opened.by_trial, opened.plain) == ("ok", True, plain)
    assert opened.mtk == ("02f810", "00010002", "0007")
    from dataclasses import replace

    from analyzer.capture.profile import DEFAULT_PROFILE
    off = replace(DEFAULT_PROFILE, dcf_key_trial=False)
    assert open_object(obj, store, off).result == "no_key"


def test_packets_of_several_overlapping_symbols_count_each_byte_once():
    # RFC 5445: a packet may carry several consecutive symbols; two packets sharing
    # symbol 1 must not make 300 distinct bytes look like the whole 400
    data = os.urandom(400)
    fti = Fti(400, 100, 10)
    raws = [build_alc(1, 1, data[0:200], esi=0, fti=fti), build_alc(1, 1, data[100:300], esi=1),
            build_alc(1, 1, data[200:400], esi=2),
            build_alc(1, 1, data[300:400], esi=3)]
    rx = FluteReceiver()
    done = []
    for n, raw in enumerate(raws):
        done += rx.packet(parse_alc(raw), at(n))
    assert len(done) == 1 and done[0].complete and done[0].data == data
    assert done[0].received == 400 and done[0].packets == 3
    assert rx._held == 0


def test_a_cut_short_signature_confirms_nothing():
    from analyzer.crypto.dcf import sign, signature_ok

    tag = sign(MTK, b"file")
    assert signature_ok(MTK, b"file", tag) and len(tag) == 20
    assert not signature_ok(MTK, b"file", tag[:1]) and not signature_ok(MTK, b"file", b"")


def test_a_shredded_object_reports_every_missing_byte():
    """Over 1,000 holes: the ranges listed are capped, the count of bytes is not."""
    rx = FluteReceiver()
    fti = Fti(4000 * 10, 10, 4000)
    for esi in range(0, 4000, 2):  # every other symbol
        rx.packet(parse_alc(build_alc(1, 5, bytes(10), esi=esi, fti=fti)), at(esi))
    (obj,) = rx.finish()
    assert len(obj.missing) == 1000 and not obj.complete
    assert obj.reason == "20000 of 40000 bytes never received"
