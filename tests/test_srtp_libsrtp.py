"""SRTP/SRTCP against libsrtp (pylibsrtp, an oracle only) and the real Marseillaise capture."""

from __future__ import annotations

import random
import struct
import subprocess
import sys

import pytest

pylibsrtp = pytest.importorskip("pylibsrtp")

from analyzer.crypto.srtp import SUITES, SrtpContext  # noqa: E402
from tests.conftest import ROOT, SHARED_CAPTURES  # noqa: E402

PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}
MARSEILLAISE = SHARED_CAPTURES / "marseillaise-srtp.pcap"
#: The Marseillaise capture's key (DESIGN.md "Peers and test data").
MARSEILLAISE_KEYS = ('[[srtp]]\nkey = "69206b6e6f7720616c6c20796f757220"\n'
                     'salt = "6c6974746c652073656372657473"\n')


@pytest.fixture
def marseillaise_keys(tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text(MARSEILLAISE_KEYS + 'ssrc = 0xdeadbeef\nsuite = "AES_CM_128_HMAC_SHA1_80"\n')
    return keys


def _session(master: bytes, suite: str, outbound: bool):
    kind = pylibsrtp.Policy.SSRC_ANY_OUTBOUND if outbound else pylibsrtp.Policy.SSRC_ANY_INBOUND
    return pylibsrtp.Session(pylibsrtp.Policy(key=master, ssrc_type=kind,
                                              srtp_profile=PROFILES[suite]))


def _rtp(seq: int, ts: int, ssrc: int, payload: bytes, pt: int = 96) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


@pytest.mark.parametrize("suite", sorted(PROFILES))
def test_libsrtp_streams_decrypt_with_wrap_reorder_loss_and_several_ssrcs(suite):
    rng = random.Random(3711)
    master = rng.randbytes(30)
    tx = _session(master, suite, outbound=True)
    packets = []
    for ssrc, start in ((0xDEADBEEF, 65000), (0x01020304, 100), (0xCAFEBABE, 65530)):
        for n in range(1500):  # the first and third streams wrap their sequence numbers
            payload = rng.randbytes(160)
            plain = _rtp(start + n, n * 160, ssrc, payload)
            packets.append((plain, tx.protect(plain)))
    # interleave the streams, reorder in small windows, lose 3 %
    order = sorted(range(len(packets)), key=lambda i: (i % 1500) * 3 + i // 1500)
    wire = [packets[i] for i in order]
    for k in range(0, len(wire) - 4, 7):
        wire[k], wire[k + 3] = wire[k + 3], wire[k]
    wire = [p for p in wire if rng.random() > 0.03]
    ctx = SrtpContext(SUITES[suite], master[:16], master[16:])
    for plain, protected in wire:
        got, reason = ctx.unprotect(protected, 12)
        assert reason == "ok" and got == plain


@pytest.mark.parametrize("suite", sorted(PROFILES))
def test_our_protect_is_accepted_by_libsrtp(suite):
    rng = random.Random(6188)
    master = rng.randbytes(30)
    ctx = SrtpContext(SUITES[suite], master[:16], master[16:])
    rx = _session(master, suite, outbound=False)
    roc = 0
    for n in range(70000 - 65000):
        seq = 65000 + n
        if seq == 65536:
            roc = 1
        plain = _rtp(seq, n * 160, 0x11223344, rng.randbytes(160))
        assert rx.unprotect(ctx.protect(plain, 12, roc=roc)) == plain


def test_srtcp_both_ways_with_libsrtp():
    rng = random.Random(5761)
    master = rng.randbytes(30)
    suite = "AES_CM_128_HMAC_SHA1_80"
    tx, rx = _session(master, suite, True), _session(master, suite, False)
    ours = SrtpContext(SUITES[suite], master[:16], master[16:])
    for index in range(1, 40):
        sr = struct.pack("!BBHI", 0x80, 200, 6, 0x55667788) + rng.randbytes(24)
        got, reason = ours.unprotect_rtcp(tx.protect_rtcp(sr))
        assert reason == "ok" and got == sr
        assert rx.unprotect_rtcp(ours.protect_rtcp(sr, index)) == sr


def test_wrong_key_is_reported_not_raised():
    master = bytes(30)
    tx = _session(master, "AES_CM_128_HMAC_SHA1_80", True)
    protected = tx.protect(_rtp(1, 0, 7, b"x" * 160))
    wrong = SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"], b"\x01" * 16, bytes(14))
    assert wrong.unprotect(protected, 12) == (None, "auth")
    assert wrong.unprotect(protected[:15], 12) == (None, "short")


@pytest.mark.skipif(not MARSEILLAISE.is_file(), reason="shared captures not beside the repo")
def test_marseillaise_capture_decrypts_entirely(tmp_path, marseillaise_keys):
    keys = marseillaise_keys
    out = tmp_path / "plain.pcap"
    proc = subprocess.run([sys.executable, "-m", "analyzer", "decrypt", str(MARSEILLAISE),
                           "--keys", str(keys), "-o", str(out)], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "11888 SRTP and 0 SRTCP packets decrypted, 0 authentication failures" in proc.stdout
    assert "11888 of 11888 packets decrypted" in proc.stdout
    # what tshark shows after decoding the output as RTP: plain RTP, no tag, good checksums
    from analyzer.capture.reading import read_capture
    from analyzer.net.decode import decode_transport
    plain = [decode_transport(r.linktype, r.data).payload for r in read_capture(out)]
    src = [decode_transport(r.linktype, r.data).payload for r in read_capture(MARSEILLAISE)]
    assert all(len(p) == len(s) - 10 for p, s in zip(plain, src))
    assert all(p[:12] == s[:12] for p, s in zip(plain, src))


@pytest.mark.tshark
@pytest.mark.skipif(not MARSEILLAISE.is_file(), reason="shared captures not beside the repo")
def test_marseillaise_output_rtp_payloads_as_tshark_shows_them(tmp_path, marseillaise_keys):
    keys = marseillaise_keys
    out = tmp_path / "plain.pcap"
    subprocess.run([sys.executable, "-m", "analyzer", "decrypt", str(MARSEILLAISE), "--keys",
                    str(keys), "-o", str(out)], check=True, capture_output=True, cwd=ROOT)
    fields = subprocess.run(["tshark", "-r", str(out), "-d", "udp.port==10000,rtp",
                             "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
                             "-T", "fields", "-e", "rtp.seq", "-e", "rtp.payload",
                             "-e", "udp.checksum.status", "-e", "ip.checksum.status"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(fields) == 11888
    ctx = SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"],
                      bytes.fromhex("69206b6e6f7720616c6c20796f757220"),
                      bytes.fromhex("6c6974746c652073656372657473"))
    from analyzer.capture.reading import read_capture
    from analyzer.net.decode import decode_transport
    for line, rec in zip(fields, read_capture(MARSEILLAISE)):
        seq, payload, udp_ok, ip_ok = line.split("\t")
        plain, reason = ctx.unprotect(decode_transport(rec.linktype, rec.data).payload, 12)
        assert reason == "ok"
        assert int(seq) == struct.unpack_from("!H", plain, 2)[0]
        assert payload.replace(":", "") == plain[12:].hex()
        assert (udp_ok, ip_ok) == ("1", "1")


def _dissect_json(*args):
    out = subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--json", *args],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout
    return [__import__("json").loads(line) for line in out.splitlines()]


def test_dissect_shows_srtp_by_announced_mki_without_keys():
    objs = _dissect_json("captures/lab-basic.pcapng")
    srtp = [o for o in objs if o["protocol"] == "srtp"]
    assert len(srtp) == 301
    fields = dict(srtp[0]["fields"])
    assert fields["rtp.version"] == 2 and fields["rtp.p_type"] == 0
    assert len(fields["srtp.mki"]) == 12 and len(fields["srtp.auth_tag"]) == 20
    assert "srtp.result" not in fields  # no keys: framing only


def test_dissect_with_keys_tells_decrypted_srtp_and_srtcp():
    objs = _dissect_json("--keys", "captures/mbms-chain-demo.keys.toml",
                         "captures/mbms-chain-demo.pcap")
    kinds = [(o["protocol"], dict(o["fields"]).get("srtp.result")) for o in objs]
    assert kinds.count(("srtp", "ok")) == 12 and kinds.count(("srtcp", "ok")) == 2


@pytest.mark.skipif(not MARSEILLAISE.is_file(), reason="shared captures not beside the repo")
def test_dissect_marseillaise_with_its_key(marseillaise_keys):
    objs = _dissect_json("--keys", str(marseillaise_keys), str(MARSEILLAISE))
    assert len(objs) == 11888
    assert all(dict(o["fields"])["srtp.result"] == "ok" for o in objs)


@pytest.mark.tshark
def test_rtp_fields_equal_tsharks():
    objs = [o for o in _dissect_json("captures/lab-basic.pcapng") if o["protocol"] == "srtp"]
    out = subprocess.run(["tshark", "-r", str(ROOT / "captures" / "lab-basic.pcapng"), "-d",
                          "udp.port==5004,rtp", "-Y", "rtp", "-T", "fields", "-e", "frame.number",
                          "-e", "rtp.seq", "-e", "rtp.timestamp", "-e", "rtp.ssrc", "-e",
                          "rtp.p_type", "-e", "rtp.marker"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    theirs = {int(line.split("\t")[0]): line.split("\t")[1:] for line in out}
    assert len(theirs) == len(objs)
    for obj in objs:
        f = dict(obj["fields"])
        seq, ts, ssrc, pt, marker = theirs[obj["frame"]]
        assert (f["rtp.seq"], f["rtp.timestamp"], f["rtp.ssrc"], f["rtp.p_type"]) == \
            (int(seq), int(ts), int(ssrc, 16), int(pt))
        assert f["rtp.marker"] == (1 if marker in ("1", "True") else 0)


def test_authenticate_only_advances_the_rollover_state_like_unprotect():
    """``authenticate`` (the timeline's path) follows a sequence wrap as ``unprotect`` does."""
    rng = random.Random(7714)
    master = rng.randbytes(30)
    tx = _session(master, "AES_CM_128_HMAC_SHA1_80", outbound=True)
    wire = [tx.protect(_rtp(65530 + n, n, 0x0BADCAFE, rng.randbytes(50))) for n in range(20)]
    ctx = SrtpContext(SUITES["AES_CM_128_HMAC_SHA1_80"], master[:16], master[16:])
    assert [ctx.authenticate(p, 12) for p in wire[:-1]] == ["ok"] * 19
    assert ctx.streams[0x0BADCAFE].roc == 1
    assert ctx.unprotect(wire[-1], 12)[1] == "ok"
    assert ctx.authenticate(wire[-1][:-1] + bytes([wire[-1][-1] ^ 1]), 12) == "auth"
    assert ctx.authenticate(wire[-1][:20], 12) == "short"


@pytest.mark.parametrize("switch_after_wrap", [37, 0])
def test_two_master_keys_by_mki_keep_the_stream_roc_across_the_switch(tmp_path, switch_after_wrap):
    """RFC 3711 §3.2.1: the ROC belongs to the stream. libsrtp protects one stream with
    key A until a sequence wrap (and *switch_after_wrap* packets more), then with key B;
    the MKIs (not authenticated, RFC 3711 §3.1) choose the key. Every packet decrypts
    byte for byte, also the ones under B, whose index has ROC 1."""
    from analyzer.keys.srtp import SrtpDecryptor
    from analyzer.keys.store import load_keys

    suite = "AES_CM_128_HMAC_SHA1_80"
    rng = random.Random(4771)
    key_a, key_b = rng.randbytes(30), rng.randbytes(30)
    mki_a, mki_b = b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"
    tx_a, tx_b = _session(key_a, suite, True), _session(key_b, suite, True)
    keys = tmp_path / "keys.toml"
    keys.write_text("".join(
        f'[[srtp]]\nkey = "{k[:16].hex()}"\nsalt = "{k[16:].hex()}"\nmki = "{m.hex()}"\n\n'
        for k, m in ((key_a, mki_a), (key_b, mki_b))))
    decryptor = SrtpDecryptor(load_keys(keys))
    start = 65536 - 200
    switch = 65536 + switch_after_wrap
    for n, index in enumerate(range(start, start + 600)):
        plain = _rtp(index, n * 160, 0x5EED5EED, rng.randbytes(160))
        # both senders see every packet (so libsrtp's own index follows the wrap); the
        # wire carries key A's packet before the switch and key B's after it
        by_a, by_b = tx_a.protect(plain), tx_b.protect(plain)
        wire, mki = (by_a, mki_a) if index < switch else (by_b, mki_b)
        wire = wire[:-10] + mki + wire[-10:]
        assert decryptor.decrypt(wire, "232.0.0.1:5004") == plain, index
    stats = next(iter(decryptor.stats.values()))
    assert stats.decrypted == 600 and stats.auth_failures == 0


def test_a_receiver_joining_after_a_wrap_resynchronises_its_roc_and_says_so(tmp_path):
    """A stream first seen after its sequence wrapped (ROC 1) under a key whose configured
    ROC is 0: the first packet fails at ROC 0, ROC + 1 holds, and the statistics say so;
    the packets after it decrypt with no further re-try. libsrtp protects them."""
    from analyzer.keys.srtp import SrtpDecryptor
    from analyzer.keys.store import load_keys

    suite = "AES_CM_128_HMAC_SHA1_80"
    rng = random.Random(3550)
    master = rng.randbytes(30)
    tx = _session(master, suite, True)
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[[srtp]]\nkey = "{master[:16].hex()}"\nsalt = "{master[16:].hex()}"\n'
                    'roc = 0\n')
    decryptor = SrtpDecryptor(load_keys(keys))
    wire = []
    for index in range(65536 - 20, 65536 + 40):
        plain = _rtp(index, index * 160, 0xABCDEF01, rng.randbytes(160))
        wire.append((plain, tx.protect(plain)))
    for plain, protected in wire[30:]:  # joined 10 packets after the wrap
        assert decryptor.decrypt(protected, "232.0.0.1:5004") == plain
    stats = next(iter(decryptor.stats.values()))
    assert stats.roc_resync == {"roc+1": 1} and stats.decrypted == 30
    assert "ROC re-synchronised by roc+1 x1" in stats.line()


# ---------------------------------------------------------------- RFC 4771 (RCC)

def _rcc_wire(libsrtp_packet: bytes, seq: int, roc: int, mode: int, r: int, n_tag: int,
              mki: bytes) -> bytes:
    """The RFC 4771 packet for a libsrtp-protected one (80-bit HMAC-SHA-1 tag over the
    authenticated portion || ROC, which is what RCC's MAC is): an RCC packet (SEQ mod
    R = 0) carries ROC || MAC truncated to n_tag - 4 (RCCm1, RCCm2) or the ROC only
    (RCCm3); the others the plain tag (RCCm2, n_tag = 10) or none (RCCm1, RCCm3)."""
    body, mac = libsrtp_packet[:-10], libsrtp_packet[-10:]
    if seq % r == 0:
        tag = roc.to_bytes(4, "big") + (b"" if mode == 3 else mac[:n_tag - 4])
    else:
        tag = mac[:n_tag] if mode == 2 else b""
    return body + mki + tag


@pytest.mark.parametrize("r", [1, 16])
@pytest.mark.parametrize("mode,n_tag", [(1, 14), (2, 10), (3, 14)])
def test_rfc4771_modes_decrypt_libsrtp_packets_and_a_late_receiver_learns_the_roc(mode, n_tag, r):
    """TS 33.246 §6.6.2.1 makes RCC mandatory. libsrtp protects a stream across a
    sequence wrap; the receiver joins at ROC 1 knowing nothing (its state says ROC 0):
    packets before the first RCC packet wait for the ROC, every one after it decrypts
    byte for byte."""
    from analyzer.crypto.srtp import StreamState
    from analyzer.crypto.srtp_policy import SrtpPolicy

    rng = random.Random(4771 + mode * 100 + r)
    master = rng.randbytes(30)
    tx = _session(master, "AES_CM_128_HMAC_SHA1_80", True)
    mki = b"\x00\x01\x00\x02\x00\x05"
    suite = SrtpPolicy(1, 16, mode + 1, n_tag, r).suite()
    rx = SrtpContext(suite, master[:16], master[16:], mki=mki, rcc=mode, rcc_r=r)
    state = StreamState(0)  # a fresh receiver: ROC 0 assumed, nothing seen
    first_rcc = None
    for n, index in enumerate(range(65536 - 300, 65536 + 300)):
        plain = _rtp(index, n * 160, 0x4771ABCD, rng.randbytes(160))
        protected = tx.protect(plain)  # libsrtp follows the wrap itself (ROC 0 -> 1)
        if index < 65536 + 7:
            continue  # the receiver joins 7 packets after the wrap
        seq = index & 0xFFFF
        wire = _rcc_wire(protected, seq, index >> 16, mode, r, n_tag, mki)
        got, reason = rx.unprotect(wire, 12, state)
        if first_rcc is None and seq % r:
            assert (got, reason) == (None, "roc"), index  # no ROC yet: not guessed
            continue
        first_rcc = first_rcc or index
        assert reason == "ok" and got == plain, (index, reason)
        assert rx.last_roc == 1 and (rx.last_rcc_roc == 1) == (seq % r == 0)
    assert first_rcc is not None and (first_rcc & 0xFFFF) % r == 0


def test_an_rcc_tag_with_a_wrong_mac_is_not_trusted_for_its_roc():
    from analyzer.crypto.srtp import StreamState

    rng = random.Random(1982)
    master = rng.randbytes(30)
    tx = _session(master, "AES_CM_128_HMAC_SHA1_80", True)
    mki = b"\x00\x01\x00\x02\x00\x05"
    from analyzer.crypto.srtp_policy import SrtpPolicy
    rx = SrtpContext(SrtpPolicy(1, 16, 3, 14, 4).suite(), master[:16], master[16:], mki=mki,
                     rcc=2, rcc_r=4)
    state = StreamState(0)
    packets = []
    for n, index in enumerate(range(65536 - 20, 65536 + 40)):  # libsrtp wraps to ROC 1
        plain = _rtp(index, n * 160, 0x1982, rng.randbytes(160))
        protected = tx.protect(plain)
        if index > 65536:
            packets.append((index, plain, _rcc_wire(protected, index & 0xFFFF, 1, 1, 4, 14,
                                                     mki)))
    # an RCC packet (RCCm1 and RCCm2 frame them alike); a forgery of it claims ROC 7
    index, plain, wire = next(p for p in packets if p[0] % 4 == 0)
    forged = wire[:-14] + (7).to_bytes(4, "big") + bytes(10)
    assert rx.unprotect(forged, 12, state) == (None, "auth")
    assert state.s_l is None and state.roc == 0  # nothing adopted from it
    got, reason = rx.unprotect(wire, 12, state)
    assert reason == "ok" and got == plain and state.roc == 1


@pytest.mark.parametrize("suite", sorted(PROFILES))
def test_the_tag_check_of_a_trial_key_agrees_with_authenticate(suite):
    """``tag_matches`` (what the decryptor checks before trying a key without MKI on a
    new stream) says yes exactly when a fresh context authenticates the packet: on
    libsrtp's packets, at ROC 0 and 1, and on copies with one byte flipped."""
    rng = random.Random(4771)
    master = rng.randbytes(30)
    tx = _session(master, suite, outbound=True)
    checked = 0
    for n in range(200):
        wire = tx.protect(_rtp(n, n * 160, 0x5EED0000 + n % 3, rng.randbytes(rng.randint(0, 40))))
        variants = [wire]
        flip = bytearray(wire)
        flip[rng.randrange(len(flip))] ^= 1 << rng.randrange(8)
        variants.append(bytes(flip))
        for packet in variants:
            for roc in (0, 1):
                fresh = SrtpContext(SUITES[suite], master[:16], master[16:], roc=roc)
                want = fresh.authenticate(packet, 12) == "ok"
                probe = SrtpContext(SUITES[suite], master[:16], master[16:])
                assert probe.tag_matches(packet, 12, roc) == want
                assert not probe.streams  # nothing kept
                checked += want
    assert checked >= 200  # every genuine packet at ROC 0
