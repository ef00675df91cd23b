"""Crypto against published and digest vectors (RFC 3711 App. B, RFC 3394, digest §5.3-§5.6)."""

from __future__ import annotations

import pytest

from analyzer.crypto.gba import (
    UA_MBMS,
    MukRule,
    ks_int_naf,
    ks_naf,
    muk_from_gba,
    naf_id,
)
from analyzer.crypto.kemac import (
    KemacError,
    aes_cm_iv,
    aes_kw_unwrap,
    aes_kw_wrap,
    decrypt_key_data,
    timestamp_64,
    verification_input,
    verify_mac,
)
from analyzer.crypto.prf import AUTH_CONST, label, message_keys, prf, tek_from_tgk
from analyzer.crypto.srtp import SUITES, SrtpContext, _derive, _KeyStream, derive_session_key
from analyzer.lab.mikey_build import key_ids_ext, psk_message, verification_message
from dissectors.mikey import MIKEY_KeyData
from tests.corpus import DIGEST_MSK_MESSAGE, DIGEST_VERIFICATION_MESSAGE

RAND = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")
PSK = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
CSB = 0x01020304
MK = bytes.fromhex("E1F97A0D3E018BE0D64FA32C06DE4139")
MS = bytes.fromhex("0EC675AD498AFEEBB6960B3AABE6")


# ---------------------------------------------------------------- RFC 3711 Appendix B

def test_rfc3711_b2_aes_cm_keystream():
    ks = _KeyStream(bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C"))
    stream = ks.xor(int("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000", 16), bytes(16 * 0xFF02))

    def block(counter: int) -> str:
        return stream[counter * 16:(counter + 1) * 16].hex().upper()

    blocks = {c: block(c) for c in (0, 1, 2, 0xFEFF, 0xFF00, 0xFF01)}
    assert blocks[0] == "E03EAD0935C95E80E166B16DD92B4EB4"
    assert blocks[1] == "D23513162B02D0F72A43A2FE4A5F97AB"
    assert blocks[2] == "41E95B3BB0A2E8DD477901E4FCA894C0"
    assert blocks[0xFEFF] == "EC8CDF7398607CB0F2D21675EA9EA1E4"
    assert blocks[0xFF00] == "362B7C3C6773516318A077D7FC5073AE"
    assert blocks[0xFF01] == "6A2CC3787889374FBEB4C81B17BA6C44"


def test_rfc3711_b3_key_derivation():
    assert derive_session_key(MK, MS, 0, 0, 16).hex().upper() == "C61E7A93744F39EE10734AFE3FF7A087"
    assert derive_session_key(MK, MS, 2, 0, 14).hex().upper() == "30CBBC08863D8C85D49DB34A9AE1"
    assert derive_session_key(MK, MS, 1, 0, 94).hex().upper() == (
        "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE"
        "E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25"
        "6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2")
    assert derive_session_key(MK, MS, 3, 0, 16).hex() == "4c1aa45a81f73d61c800bbb00fbb1eaa"
    assert derive_session_key(MK, MS, 4, 0, 20).hex() == "8d54534feb49ae8e7993a6bd0b844fc323a93dfd"
    assert derive_session_key(MK, MS, 5, 0, 14).hex() == "9581c7ad87b3e530bf3e4454a8b3"


def test_session_keys_derived_together_match_rfc3711_b3():
    """The labels derived in one AES call (encryption and salt when a packet first
    authenticates) are the RFC 3711 B.3 keys, each cut at its own length."""
    enc, salt, auth = _derive(MK, MS, 0, ((0, 16), (2, 14), (1, 20)))
    assert enc.hex().upper() == "C61E7A93744F39EE10734AFE3FF7A087"
    assert salt.hex().upper() == "30CBBC08863D8C85D49DB34A9AE1"
    assert auth.hex().upper() == "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"
    with pytest.raises(ValueError):
        _derive(MK, MS, 0, ((1, 200),))


def test_full_srtp_packet_vector():
    """Digest §5.3 (libsrtp srtp_driver validation case)."""
    plain = bytes.fromhex("800f1234decafbadcafebabe" + "ab" * 16)
    protected = bytes.fromhex("800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402"
                              "b78d6acc99ea179b8dbb")
    ctx = SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"], MK, MS)
    assert ctx.protect(plain, 12) == protected
    rx = SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"], MK, MS)
    assert rx.unprotect(protected, 12) == (plain, "ok")
    tampered = protected[:-1] + bytes([protected[-1] ^ 1])
    assert SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"], MK, MS).unprotect(tampered, 12) == (None, "auth")


# ---------------------------------------------------------------- MIKEY (digest §5.4, §5.5)

def test_mikey_prf_vectors():
    keys = message_keys(PSK, CSB, RAND)
    assert label(0x150533E1, 0xFF, CSB, RAND).hex() == "150533e1ff01020304" + RAND.hex()
    assert keys.encr_key.hex() == "c7d5ea38a8bb7fcc0ce4bde369385e6e"
    assert keys.auth_key.hex() == "e9aafa56336576d4ad0344de632877bcbc241789"
    assert keys.salt_key.hex() == "8592a87f26e9f20a6a2602a2c80f"
    tek, salt = tek_from_tgk(bytes.fromhex("101112131415161718191a1b1c1d1e1f"), 1, CSB, RAND)
    assert tek.hex() == "faf00487c9b637b05d86782a70e0a331"
    assert salt.hex() == "b0bade3f84d0e486421d706fa761"
    assert prf(bytes(range(40)), label(AUTH_CONST, 0xFF, CSB, RAND), 20).hex() == \
        "b44999fb30511bef7e5ba60caad58f2e5856e6ab"


def test_prf_sha256_and_block_splitting():
    # PRF func 1 uses HMAC-SHA-256 blocks; a 64-byte in-key is two 256-bit blocks XORed
    one = prf(bytes(32), b"label", 48, 1)
    two = prf(bytes(32) + bytes(32), b"label", 48, 1)
    assert len(one) == 48 and one != prf(bytes(32), b"label", 48, 0)
    assert two == bytes(48)  # identical blocks cancel out: the XOR of the P outputs


def test_digest_msk_message_decrypts_and_verifies():
    keys = message_keys(PSK, CSB, RAND)
    t64 = timestamp_64(2, b"\x00\x00\x00\x01")
    assert aes_cm_iv(keys.salt_key, CSB, t64).hex() == "8592a97d25edf20a6a2602a2c80e0000"
    enc = bytes.fromhex("cff420d84e14b145d4f157ed6500527749b3c03fad314e8a0500")
    plain = decrypt_key_data(1, keys.encr_key, keys.salt_key, CSB, t64, enc)
    assert plain.hex() == "00020010101112131415161718191a1b1c1d1e1f02000102ffff"
    assert verify_mac(1, keys.auth_key, DIGEST_MSK_MESSAGE[:-20], DIGEST_MSK_MESSAGE[-20:])
    data = verification_input(DIGEST_VERIFICATION_MESSAGE[:-20], b"bmsc.example.org",
                              b"c2VjcmV0cmFuZDE2Ynl0ZQ==@bsf.example.org", b"\x00\x00\x00\x01")
    assert verify_mac(1, keys.auth_key, data, DIGEST_VERIFICATION_MESSAGE[-20:])
    assert not verify_mac(1, bytes(20), data, DIGEST_VERIFICATION_MESSAGE[-20:])


def test_digest_messages_are_rebuilt_byte_exact_by_the_builder():
    key = MIKEY_KeyData(next_payload=0, key_type=0, kv=2,
                        key_data=bytes.fromhex("101112131415161718191a1b1c1d1e1f"),
                        valid_from=b"\x00\x01", valid_to=b"\xff\xff")
    idi, idr = b"bmsc.example.org", b"c2VjcmV0cmFuZDE2Ynl0ZQ==@bsf.example.org"
    msg = psk_message(PSK, CSB, RAND, 1, [key], key_ids_ext(bytes.fromhex("00f110"),
                      bytes.fromhex("00010002")), idi, idr, v=1)
    assert msg == DIGEST_MSK_MESSAGE
    assert verification_message(PSK, CSB, RAND, 1, idi, idr) == DIGEST_VERIFICATION_MESSAGE


def test_rfc3394_key_wrap_vector_and_custom_iv():
    kek = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
    data = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
    default_iv = bytes.fromhex("A6A6A6A6A6A6A6A6")
    wrapped = aes_kw_wrap(kek, default_iv, data)
    assert wrapped.hex().upper() == "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"
    assert aes_kw_unwrap(kek, default_iv, wrapped) == data
    iv = bytes(range(8))
    assert aes_kw_unwrap(kek, iv, aes_kw_wrap(kek, iv, data)) == data
    with pytest.raises(KemacError):
        aes_kw_unwrap(kek, iv, wrapped)


# ---------------------------------------------------------------- GBA (digest §5.6)

def test_gba_naf_keys():
    ks = bytes(range(32))
    rand = bytes(range(0x20, 0x30))
    impi = "001010123456789@ims.mnc001.mcc001.3gppnetwork.org"
    nafid = naf_id("bmsc.example.org")
    assert nafid == b"bmsc.example.org" + UA_MBMS
    assert ks_naf(ks, rand, impi, nafid).hex() == \
        "b8f5d228ae83963cdde1290dde04de9ea6d9091fdd8aa23ff3698551617ca079"
    assert ks_int_naf(ks, rand, impi, nafid).hex() == \
        "8a2b4b624a039804d41c820a84a23e5a477e1ba416431bfcad1613a770afcc31"
    assert muk_from_gba(ks, rand, impi, "bmsc.example.org") == ks_int_naf(ks, rand, impi, nafid)
    assert muk_from_gba(ks, rand, impi, "bmsc.example.org", MukRule("ks_naf", 16)) == \
        ks_naf(ks, rand, impi, nafid)[:16]


# ---------------------------------------------------------------- SRTP options

@pytest.mark.parametrize("suite", sorted(SUITES))
@pytest.mark.parametrize("mki", [b"", b"\x07", b"\x00\x01\x00\x02\x00\x05"])
def test_every_suite_and_mki_length_round_trips(suite, mki):
    spec = SUITES[suite]
    key, salt = bytes(range(spec.key_len)), bytes(range(100, 114))
    tx = SrtpContext(spec, key, salt, mki=mki)
    rx = SrtpContext(spec, key, salt, mki=mki)
    for seq in (65534, 65535, 0, 1):  # the receiver follows the wrap
        rtp = bytes([0x80, 0x60]) + seq.to_bytes(2, "big") + bytes(4) + b"\x0a\x0b\x0c\x0d" + b"p" * 50
        roc = 1 if seq < 2 else 0
        wire = tx.protect(rtp, 12, roc=roc)
        assert len(wire) == len(rtp) + len(mki) + spec.tag_len
        assert wire[len(rtp):len(rtp) + len(mki)] == mki
        assert (wire[12:len(rtp)] == rtp[12:]) == (spec.cipher == "NULL")
        assert rx.unprotect(wire, 12) == (rtp, "ok")
    assert rx.streams[0x0A0B0C0D].roc == 1


def test_aes256_session_keys_use_the_256_bit_master_key():
    key = bytes(range(32))
    short = SrtpContext(SUITES["AES_256_CM_HMAC_SHA1_80"], key, bytes(14))
    assert derive_session_key(key, bytes(14), 0, 0, 32) != derive_session_key(key[:16], bytes(14), 0, 0, 32)
    rtp = bytes([0x80, 0, 0, 1]) + bytes(8) + b"x" * 20
    assert short.protect(rtp, 12) != SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"], key[:16],
                                                  bytes(14)).protect(rtp, 12)


def test_key_derivation_rate_rederives_session_keys():
    key, salt = bytes(16), bytes(14)
    ctx = SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"], key, salt, kdr=4)
    rx = SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"], key, salt, kdr=4)
    no_kdr = SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"], key, salt)
    for seq in range(10):
        rtp = bytes([0x80, 0]) + seq.to_bytes(2, "big") + bytes(8) + b"y" * 30
        wire = ctx.protect(rtp, 12)
        assert rx.unprotect(wire, 12) == (rtp, "ok")
        if seq >= 4:  # r = index DIV 4 > 0: other keys than without a rate
            assert wire != no_kdr.protect(rtp, 12)
    assert derive_session_key(key, salt, 0, 1, 16) != derive_session_key(key, salt, 0, 0, 16)


def test_srtcp_unencrypted_e_flag_and_index():
    ctx = SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"], bytes(16), bytes(14))
    sr = bytes([0x80, 200, 0, 6]) + b"\x01\x02\x03\x04" + b"z" * 20
    wire = ctx.protect_rtcp(sr, 0x1234, encrypt=False)
    assert wire[8:28] == sr[8:]  # E = 0: sent in clear, still authenticated
    assert wire[28:32] == (0x1234).to_bytes(4, "big")
    assert ctx.unprotect_rtcp(wire) == (sr, "ok")
    enc = ctx.protect_rtcp(sr, 0x1235)
    assert enc[28] & 0x80 and enc[8:28] != sr[8:]
    assert ctx.unprotect_rtcp(enc[:-1] + bytes([enc[-1] ^ 1])) == (None, "auth")


def test_srtcp_mki_short_and_unauthenticated_mki():
    """RFC 3711 §3.4: the MKI sits between the SRTCP index and the tag and is not
    authenticated; a packet too short for header, index, MKI and tag is ``short``."""
    ctx = SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"], bytes(range(16)), bytes(14),
                      mki=b"\x00\x01")
    sr = bytes([0x80, 200, 0, 6]) + b"\x01\x02\x03\x04" + b"z" * 20
    wire = ctx.protect_rtcp(sr, 7)
    assert wire[-12:-10] == b"\x00\x01" and ctx.unprotect_rtcp(wire) == (sr, "ok")
    other = wire[:-12] + b"\x00\x02" + wire[-10:]
    assert ctx.unprotect_rtcp(other) == (None, "mki")
    assert ctx.unprotect_rtcp(wire[:8] + wire[-16:])[1] == "auth"  # (an empty payload)
    assert ctx.unprotect_rtcp(wire[:7] + wire[-16:]) == (None, "short")
    assert ctx.unprotect_rtcp(b"\x00" * 8 + wire[8:]) == (None, "short")  # not RTCP
