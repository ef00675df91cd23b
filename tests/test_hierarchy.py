"""The MBMS key hierarchy end to end: MUK -> MSK -> MTK -> SRTP, keys, wrong keys, secrets."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.crypto.srtp import SUITES, SrtpContext
from analyzer.keys.hierarchy import KeyHierarchy
from analyzer.keys.store import KeyFileError, load_keys
from dissectors.mikey import parse
from tests.conftest import ROOT
from tests.demo_capture import CHAIN, CHAIN_KEYS, CHAIN_MSK, CHAIN_MUK, chain_packets


def run(*args):
    return subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_only_the_muk_decrypts_the_whole_chain(tmp_path):
    out = tmp_path / "plain.pcap"
    proc = run("decrypt", str(CHAIN), "--keys", str(CHAIN_KEYS), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "12 SRTP and 0 SRTCP packets decrypted, 0 authentication failures, 0 with unknown MKI" \
        in proc.stdout
    assert "0 SRTP and 2 SRTCP packets decrypted" in proc.stdout
    assert "14 of 18 packets decrypted" in proc.stdout
    from analyzer.capture.reading import read_capture
    from analyzer.net.decode import decode_transport
    plain = [decode_transport(r.linktype, r.data).payload for r in read_capture(out)]
    wire = [decode_transport(r.linktype, r.data).payload for r in read_capture(CHAIN)]
    rtp = [p for p, w in zip(plain, wire) if p != w and p[1] == 96]
    assert len(rtp) == 12 and all(len(p) == 12 + 120 for p in rtp)


def test_dissect_with_keys_shows_mac_status_and_decrypted_keys_hidden():
    proc = run("dissect", "--json", "--keys", str(CHAIN_KEYS), str(CHAIN))
    objs = [json.loads(line) for line in proc.stdout.splitlines()
            if json.loads(line)["protocol"] == "mikey"]
    assert [o["summary"].rsplit(", ", 1)[-1] for o in objs] == ["MAC good"] * 4
    fields = dict((name, value) for name, value in objs[0]["fields"])
    assert fields["mikey.kemac.mac_status"] == "good"
    assert fields["mikey.kemac.decrypted.key.data"] is None  # hidden
    assert CHAIN_MSK.hex() not in proc.stdout and CHAIN_MUK.hex() not in proc.stdout
    revealed = run("dissect", "--json", "--reveal-keys", "--keys", str(CHAIN_KEYS), str(CHAIN))
    assert ["mikey.kemac.decrypted.key.data", CHAIN_MSK.hex()] in json.loads(
        revealed.stdout.splitlines()[0])["fields"]
    text = run("dissect", "--keys", str(CHAIN_KEYS), str(CHAIN)).stdout
    assert "MAC status: good" in text and CHAIN_MSK.hex() not in text


def test_wrong_muk_is_a_finding_not_a_crash(tmp_path):
    keys = tmp_path / "wrong.toml"
    keys.write_text(CHAIN_KEYS.read_text().replace(CHAIN_MUK.hex()[:4], "ffff"))
    proc = run("dissect", "--json", "--keys", str(keys), str(CHAIN))
    assert proc.returncode == 0
    objs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert objs[0]["errors"][0]["code"] == "mikey.mac_bad"
    assert objs[2]["summary"].endswith("MAC not checked")  # the MSK was never learned
    out = run("decrypt", str(CHAIN), "--keys", str(keys), "-o", str(tmp_path / "o.pcap"))
    assert out.returncode == 0 and "0 of 18 packets decrypted" in out.stdout


@pytest.mark.parametrize("text, message", [
    ('[[muk]]\nidr = "x"\nkey = "zz"\n', ":3: [[muk]] key: expected a hex string"),
    ('[[msk]]\nkey_domain = "02f810"\nmsk_id = "0001"\nkey = "00"\n',
     ":3: [[msk]] msk_id: expected 4 bytes, got 2"),
    ('[[srtp]]\nkey = "00112233445566778899aabbccddeeff"\nsuite = "ROT13"\n',
     ":3: [[srtp]] suite: unknown suite"),
    ('\n[[mtk]]\nkey_domain = "02f810"\n', ":2: [[mtk]]: missing key, msk_id, mtk_id"),
    ('[[srtp]]\nkey = "00112233445566778899aabbccddeeff"\nkye = "1"\n', ":3: [[srtp]] kye: unknown field"),
    ('[[muk]\n', "line 1"),
    ('[[nope]]\nx = 1\n', ":1: unknown table [[nope]]"),
])
def test_key_file_errors_name_file_line_and_field(tmp_path, text, message):
    path = tmp_path / "k.toml"
    path.write_text(text)
    with pytest.raises(KeyFileError) as err:
        load_keys(path)
    assert str(path) in str(err.value) and message in str(err.value)
    proc = run("dissect", "--keys", str(path), str(CHAIN))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_key_file_accepts_colons_case_and_gba_inputs(tmp_path):
    path = tmp_path / "k.toml"
    path.write_text('[settings]\nmuk_source = "ks_naf"\n[[muk]]\nidr = "ue"\n'
                    'ks = "' + bytes(range(32)).hex() + '"\nrand = "' + bytes(16).hex().upper() + '"\n'
                    'impi = "001010123456789@ims.mnc001.mcc001.3gppnetwork.org"\nnaf = "bmsc.example.org"\n'
                    '[[mtk]]\nkey_domain = "02:F8:10"\nmsk_id = "00010002"\nmtk_id = "0005"\n'
                    'key = "' + bytes(16).hex() + '"\n')
    store = load_keys(path)
    assert store.muks[0].ready and len(store.muks[0].value) == 32
    assert (bytes.fromhex("02f810"), bytes.fromhex("00010002"), bytes.fromhex("0005")) in store.mtks
    assert "value" not in repr(store) and bytes(16).hex() not in repr(store)


# ---------------------------------------------------------------- robustness

#: The MSK message, its verification, and the first MTK message of the chain demo.
_CHAIN_RAW = [bytes(p.payload.payload.payload) for p in chain_packets()[:3]]


@st.composite
def mutated_mikey(draw):
    raw = bytearray(draw(st.sampled_from(_CHAIN_RAW)))
    for _ in range(draw(st.integers(0, 3))):
        pos = draw(st.integers(0, len(raw) - 1))
        raw[pos] = draw(st.integers(0, 255))
    cut = draw(st.integers(len(raw) // 2, len(raw)))
    return bytes(raw[:cut])


@settings(max_examples=2000, deadline=None, database=None)
@given(mutated_mikey())
def test_mutated_kemacs_with_right_keys_never_raise(raw):
    store = load_keys(CHAIN_KEYS)
    hierarchy = KeyHierarchy(store)
    for good in _CHAIN_RAW[:1]:
        hierarchy.process(parse(good), good, "seed")  # learn the MSK first
    outcome = hierarchy.process(parse(raw), raw, "fuzz")
    if raw not in _CHAIN_RAW:
        # a changed message never passes: its failure is reported, nothing is learned
        assert outcome.mac_status != "good"
        assert outcome.learned == []


@settings(max_examples=3000, deadline=None, database=None)
@given(st.binary(min_size=0, max_size=300), st.booleans())
def test_random_srtp_with_right_and_wrong_keys_never_raises(data, right):
    rng = random.Random(len(data))
    key = bytes(16) if right else rng.randbytes(16)
    ctx = SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"], key, bytes(14), mki=b"\x00\x01")
    plain, reason = ctx.unprotect(data, 12)
    assert (plain is None) == (reason != "ok")
    plain, reason = ctx.unprotect_rtcp(data)
    assert (plain is None) == (reason != "ok")


def test_mtk_selected_by_rule_mki_by_key_data_spi_or_by_trial():
    from analyzer.keys.srtp import SrtpDecryptor
    from analyzer.keys.store import KeyStore

    store = KeyStore()
    kd, msk, mtk = bytes.fromhex("02f810"), bytes.fromhex("00010002"), bytes.fromhex("0009")
    key, salt = bytes(range(16)), bytes(range(14))
    store.learn_mtk(kd, msk, mtk, key, salt, "test", spi=b"\x00\x00\x00\x07")
    dec = SrtpDecryptor(store)
    suite = SUITES["AES_CM_128_HMAC_SHA1_80"]
    rtp = bytes([0x80, 0, 0, 1]) + bytes(4) + b"\x00\x00\x00\x2a" + b"a" * 40
    for mki, label in ((msk + mtk, "rule"), (b"\x00\x00\x00\x07", "spi"), (b"", "trial")):
        wire = SrtpContext(suite, key, salt, mki=mki).protect(rtp, 12)
        assert dec.decrypt(wire, f"232.0.0.{len(mki)}:5004") == rtp, label
        assert dec.last == ("ok", "MTK 02f810/00010002/0009", ("02f810", "00010002", "0009"))
    other = SrtpContext(suite, bytes(16), salt, mki=msk + b"\xff\xff").protect(rtp, 12)
    assert dec.decrypt(other, "232.0.0.6:5004") is None and dec.last[0] == "unknown"


def test_the_decryptor_takes_up_mtks_in_store_order_once_they_are_ready():
    """MTKs are taken up as they become ready, in the store's order, each once; one
    learned without a value yet (its message not opened) is taken up when it gets one,
    and an MTK's contexts are indexed by their MKI as soon as they are taken up."""
    from analyzer.keys.srtp import SrtpDecryptor
    from analyzer.keys.store import KeyStore

    store = KeyStore()
    decryptor = SrtpDecryptor(store)
    kd, msk = bytes.fromhex("02f810"), bytes.fromhex("00010001")
    late = store.learn_mtk(kd, msk, b"\x00\x01", None, None, "test")
    store.learn_mtk(kd, msk, b"\x00\x02", bytes(16), bytes(14), "test")
    # (two contexts an MTK: MKI MSK ID || MTK ID, and none - a trial by tag)
    assert decryptor.key_count == 2 and decryptor.taken == [(kd, msk, b"\x00\x02")]
    assert decryptor.key_count == 2  # nothing twice
    late.value, late.salt = bytes(range(16)), bytes(14)
    store.learn_mtk(kd, msk, b"\x00\x03", bytes(16), bytes(14), "test")
    assert decryptor.key_count == 6
    assert decryptor.taken == [(kd, msk, b"\x00\x02"), (kd, msk, b"\x00\x01"),
                               (kd, msk, b"\x00\x03")]
    # a packet whose MKI (MSK ID || MTK ID) names the late key finds its context first
    packet = bytes([0x80, 96]) + bytes(10) + bytes(20) + msk + b"\x00\x01" + bytes(10)
    first = decryptor._matching(packet)[0]
    assert first.mtk == (kd.hex(), msk.hex(), "0001") and first.ctx.mki == msk + b"\x00\x01"
