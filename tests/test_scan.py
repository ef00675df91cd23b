"""Issue #8: the reader's quick rejection and the two-core scan change nothing.

Every capture is read three ways - the plain keep call for every record, the
reader's :class:`~analyzer.capture.reading.QuickReject`, and :func:`analyzer.pipeline.scan.scan_capture`
cut into small chunks on two workers - and must give the same records, the same
tally and the same error, in both byte orders, through damage, and with an
interface described in the middle of the file.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.capture.reading import CaptureError, Tally, read_capture
from analyzer.keys.store import load_keys
from analyzer.net import decode
from analyzer.net.prefilter import Prefilter
from analyzer.output.timeline import timeline
from analyzer.pipeline import scan
from analyzer.pipeline.session import Session
from dissectors.flute.lct import looks_like_alc
from dissectors.srtp import rtp_fields, rtp_header
from tests.conftest import CAPTURES, SHARED_CAPTURES

MIXED = CAPTURES / "lab-mixed.pcapng"
SRTP = SHARED_CAPTURES / "marseillaise-srtp.pcap"
#: the real SRTP capture lives in ../shared: without it, the tests that need it skip
HAVE_SRTP = SRTP.is_file()
NEEDS_SRTP = pytest.mark.skipif(not HAVE_SRTP, reason="needs ../shared/captures beside the repo")
ALL = sorted(CAPTURES.glob("*.pcap*")) + ([SRTP] if HAVE_SRTP else [])


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(scan, "PARALLEL_MIN", 0)
    monkeypatch.setattr(scan, "CHUNK_BYTES", 16_000)


def _walk(records, tally: Tally):
    out, error = [], None
    try:
        for r in records:
            out.append((r.number, r.time, r.linktype, r.data, r.orig_len))
    except CaptureError as exc:
        error = str(exc)
    return out, (tally.packets, tally.start, tally.end), error


def _serial(path, keep):
    tally = Tally()
    return _walk(read_capture(path, keep, tally), tally)


def _parallel(path, keep, srtp=False):
    tally = Tally()
    return _walk(scan.scan_capture(path, keep, tally, srtp=srtp, workers=2), tally)


def _no_quick(keep: Prefilter):
    """The same prefilter, called for every record (the reader sees no ``quick``)."""
    return lambda linktype, buf, start, end: keep(linktype, buf, start, end)


def _pcap_big_endian(src: Path, out: Path, nanoseconds: bool = False) -> Path:
    """*src* rewritten as a big-endian pcap (µs or ns timestamps)."""
    records = list(read_capture(src))
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    parts = [struct.pack(">IHHiIII", magic, 2, 4, 0, 0, 262144, records[0].linktype)]
    for r in records:
        sec = int(r.time)
        frac = round((r.time - sec) * (1e9 if nanoseconds else 1e6))
        parts.append(struct.pack(">IIII", sec, frac, len(r.data), r.orig_len) + r.data)
    out.write_bytes(b"".join(parts))
    return out


def _pcapng_blocks(data: bytes) -> list[bytes]:
    blocks, pos = [], 0
    while pos < len(data):
        blen = struct.unpack_from("<I", data, pos + 4)[0]
        blocks.append(data[pos:pos + blen])
        pos += blen
    return blocks


@pytest.mark.parametrize("srtp", [False, True])
@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_quick_rejection_keeps_what_the_keep_call_keeps(path, srtp):
    quick = Prefilter(srtp=srtp)
    assert _serial(path, quick) == _serial(path, _no_quick(Prefilter(srtp=srtp)))


@NEEDS_SRTP
def test_quick_rejection_of_written_off_flows_follows_the_key_count(tmp_path):
    """A written-off SRTP flow is dropped by the reader until more keys are known."""
    be = _pcap_big_endian(SRTP, tmp_path / "be.pcap")
    for path in (SRTP, be):
        flows = {(r.data[30:34], struct.unpack_from("!H", r.data, 36)[0])
                 for r in read_capture(path) if len(r.data) > 42 and r.data[23] == 17}
        for keys, kept in ((3, False), (6, True)):
            pair = [Prefilter(srtp=True), Prefilter(srtp=True)]
            for keep in pair:
                keep.dead.update(dict.fromkeys(flows, 5))
                keep.key_source = lambda keys=keys: keys
            got = _serial(path, pair[0])
            assert got == _serial(path, _no_quick(pair[1]))
            assert bool(got[0]) == kept, (path.name, keys)


@pytest.mark.parametrize("srtp", [False, True])
@pytest.mark.parametrize("path", [MIXED, CAPTURES / "lab-storm.pcapng",
                                  CAPTURES / "lab-download.pcapng"] + ([SRTP] if HAVE_SRTP else []),
                         ids=lambda p: p.name)
def test_parallel_scan_reads_what_the_serial_reader_reads(path, srtp, small_chunks):
    cut = scan.boundaries(path, path.stat().st_size)
    assert cut is not None and len(cut[1]) > 4  # really cut into chunks
    assert _parallel(path, Prefilter(srtp=srtp), srtp) == _serial(path, Prefilter(srtp=srtp))


@pytest.mark.parametrize("path", [MIXED, CAPTURES / "lab-missed-update.pcapng"],
                         ids=lambda p: p.name)
def test_parallel_scan_follows_the_learned_srtp_state(path, small_chunks):
    """Written-off flows revived as the key count grows while the records are
    consumed: the parallel read keeps exactly what the serial read keeps."""
    flows = sorted({(r.data[30:34], struct.unpack_from("!H", r.data, 36)[0])
                    for r in read_capture(path) if len(r.data) > 42 and r.data[23] == 17
                    and r.data[42] >> 6 == 2})
    assert flows
    total = sum(1 for _ in read_capture(path))
    kept = []
    for read in (_serial_records, _parallel_records):
        clock = {"keys": 0}
        keep = Prefilter(srtp=True)
        keep.dead.update({flow: n % 9 for n, flow in enumerate(flows)})
        keep.key_source = lambda clock=clock: clock["keys"]
        out = []
        for r in read(path, keep):
            out.append((r.number, r.data, r.orig_len))
            clock["keys"] = r.number * 10 // total  # keys learned as the capture goes on
        kept.append(out)
    assert kept[0] == kept[1]
    assert 0 < len(kept[0]) < total  # some flows were still written off, some revived


def _serial_records(path, keep):
    return read_capture(path, keep)


def _parallel_records(path, keep):
    return scan.scan_capture(path, keep, srtp=True, workers=2)


@pytest.mark.parametrize("nanoseconds", [False, True])
def test_parallel_scan_of_a_big_endian_pcap(tmp_path, small_chunks, nanoseconds):
    path = _pcap_big_endian(MIXED, tmp_path / "be.pcap", nanoseconds)
    serial = _serial(path, Prefilter())
    assert serial[0] and _parallel(path, Prefilter()) == serial


@pytest.mark.parametrize("cut", [0.37, 0.81])
def test_parallel_scan_of_a_truncated_capture(tmp_path, small_chunks, cut):
    """Everything before the damage, then the serial reader's own error message."""
    data = MIXED.read_bytes()
    path = tmp_path / "cut.pcapng"
    path.write_bytes(data[:int(len(data) * cut)])
    serial = _serial(path, Prefilter())
    assert serial[2] is not None and "truncated" in serial[2]
    assert _parallel(path, Prefilter()) == serial


def test_parallel_scan_of_a_capture_damaged_in_the_middle(tmp_path, small_chunks):
    blocks = _pcapng_blocks(MIXED.read_bytes())
    bad = bytearray(blocks[len(blocks) // 2])
    struct.pack_into("<I", bad, 4, 0x7FFFFFF1)  # a block length no block has
    blocks[len(blocks) // 2] = bytes(bad)
    path = tmp_path / "bad.pcapng"
    path.write_bytes(b"".join(blocks))
    serial = _serial(path, Prefilter())
    assert serial[2] is not None and "corrupt block length" in serial[2]
    assert _parallel(path, Prefilter()) == serial


def test_parallel_scan_with_an_interface_described_mid_file(tmp_path, small_chunks):
    """An IDB after the first packets (a raw-IP interface, used from then on by
    every twentieth packet and every MIKEY or RTP one): the chunks after it are read
    again serially."""
    blocks = _pcapng_blocks(MIXED.read_bytes())
    idb = struct.pack("<IIHHI", 1, 20, 101, 0, 0) + struct.pack("<I", 20)
    half = len(blocks) // 2
    out = blocks[:half] + [idb]
    for n, block in enumerate(blocks[half:]):
        epb = struct.unpack_from("<I", block)[0] == 6
        port = struct.unpack_from("!H", block, 28 + 14 + 22)[0] if epb and len(block) > 66 else 0
        if epb and (n % 20 == 0 or port in (2269, 5004)):
            incl = struct.unpack_from("<I", block, 20)[0]
            frame = block[28 + 14:28 + incl]  # the IP packet without its Ethernet header
            body = struct.pack("<IIIII", 1, *struct.unpack_from("<II", block, 12), len(frame),
                               len(frame)) + frame + b"\0" * (-len(frame) % 4)
            block = struct.pack("<II", 6, len(body) + 12) + body + struct.pack("<I", len(body) + 12)
        out.append(block)
    path = tmp_path / "idb.pcapng"
    path.write_bytes(b"".join(out))
    idb_at = sum(map(len, blocks[:half]))
    assert any(c > idb_at + 1000 for c in scan.boundaries(path, path.stat().st_size)[1][:-1])
    serial = _serial(path, Prefilter())
    assert {r[2] for r in serial[0]} == {1, 101} and serial[2] is None
    assert _parallel(path, Prefilter()) == serial


def test_small_files_are_read_serially():
    assert MIXED.stat().st_size < scan.PARALLEL_MIN
    assert scan.boundaries(MIXED, 10) is None  # nothing to cut


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_export_on_two_cores_is_the_serial_export(path, small_chunks):
    docs = []
    for workers in (1, 2):
        run = Session(workers=workers)
        run.add_captures([path])
        docs.append(timeline(run))
    assert docs[0] == docs[1] and docs[0]["captures"][0]["packets"] > 0


@pytest.mark.parametrize("path", sorted(p for p in CAPTURES.glob("*.pcap*")
                                         if p.with_suffix(".keys.toml").is_file()),
                         ids=lambda p: p.name)
def test_export_with_keys_on_two_cores_is_the_serial_export(path, small_chunks):
    """SRTP flows are written off and revived in the main process as keys come: the
    RTP-like packets the workers hand over by place must be those the serial read keeps."""
    docs = []
    for workers in (1, 2):
        run = Session(load_keys(path.with_suffix(".keys.toml")), workers=workers)
        run.add_captures([path])
        docs.append(timeline(run))
    assert docs[0] == docs[1]


@settings(max_examples=400, deadline=None)
@given(st.binary(min_size=40, max_size=90), st.sampled_from([0x45, 0x46, 0x55]),
       st.sampled_from([17, 6, 1]), st.sampled_from([0, 0x2000, 0x0001, 0x4000]),
       st.integers(0, 0xFFFF), st.sampled_from([2152, 4359, 5004]))
def test_one_unpack_decode_is_the_general_decode(body, vihl, proto, frag, total, port):
    frame = bytearray(b"\x02" * 12 + b"\x08\x00" + body)
    frame[14], frame[23] = vihl, proto
    struct.pack_into("!HH", frame, 16, total, 0)
    struct.pack_into("!H", frame, 20, frag)
    struct.pack_into("!H", frame, 36, port)
    data = bytes(frame)
    assert decode._udp4(data) == decode._decode(1, data)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=40), st.integers(0x80, 0xBF), st.integers(0, 255))
def test_rtp_fields_is_what_rtp_header_finds(rest, b0, b1):
    data = bytes([b0, b1]) + rest
    hdr = rtp_header(data)
    assert rtp_fields(data) == (None if hdr is None else (hdr.ssrc, hdr.header_len))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60), st.integers(0, 8), st.integers(0, 8))
def test_alc_heuristic_in_place_is_the_heuristic_on_a_copy(data, before, after):
    data = bytes([0x10 | (data[0] & 0x0F if data else 0)]) + data[1:]
    framed = b"\xAA" * before + data + b"\x55" * after
    assert looks_like_alc(framed, before, before + len(data)) == looks_like_alc(data)


def test_alc_heuristic_in_place_takes_a_real_packet():
    from tests.test_flute import VECTOR

    framed = b"\x12\x34" + VECTOR + b"\x00" * 7
    assert looks_like_alc(framed, 2, 2 + len(VECTOR))
    assert not looks_like_alc(framed, 2, 2 + 11)  # the header cut short


@pytest.mark.parametrize("keys", [False, True])
def test_dissect_on_two_cores_is_the_serial_dissect(keys, small_chunks, capsys):
    from analyzer.cli import main

    path = CAPTURES / "lab-missed-update.pcapng"
    extra = ["--keys", str(path.with_suffix(".keys.toml"))] if keys else []
    outputs = []
    for workers in ("1", "2"):
        assert main(["dissect", "--json", "--workers", workers, str(path), *extra]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and outputs[0].count("\n") > 100


def test_without_worker_processes_the_serial_reader_reads_it_all(small_chunks, monkeypatch):
    """No processes (a sandbox without semaphores), or a worker that dies: the records
    come from the serial reader from where the workers left off."""
    serial = _serial(MIXED, Prefilter())

    def no_pool(*_a, **_k):
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(scan, "ProcessPoolExecutor", no_pool)
    assert _parallel(MIXED, Prefilter()) == serial


#: the chunk (its start offset) whose worker dies, in the test below
_DIE_AT: list[int] = []


def _dying_chunk(path, section, start, stop, *rest):
    if start in _DIE_AT:
        os._exit(3)  # the worker process ends abruptly
    return scan._read_chunk.__wrapped__(path, section, start, stop, *rest)


def test_a_worker_that_dies_hands_over_to_the_serial_reader(small_chunks, monkeypatch):
    serial = _serial(MIXED, Prefilter())
    cuts = scan.boundaries(MIXED, MIXED.stat().st_size)[1]
    _dying_chunk.__wrapped__ = scan._read_chunk
    monkeypatch.setattr(scan, "_read_chunk", _dying_chunk)
    monkeypatch.setattr(sys.modules[__name__], "_DIE_AT", [cuts[len(cuts) // 2]])
    assert _parallel(MIXED, Prefilter()) == serial


def _tui_load(path: Path, pool) -> tuple:
    """What the TUI's loader makes of *path*, read in its thread or on *pool*: rows,
    timeline, errors and the place of every record."""
    from analyzer.tui.model import PacketIndex, load

    index = PacketIndex([str(path)])
    ticks: list[int] = []
    out = load([str(path)], load_keys(MIXED.with_suffix(".keys.toml")), index=index, pool=pool,
               on_progress=lambda f: ticks.append(1))
    rec = index.records[0]
    return ([(r.pkt.capture, r.pkt.frame, r.pkt.summary) for r in out.rows], out.timeline,
            out.errors, rec.times.tobytes(), rec.offsets.tobytes(), rec.lengths.tobytes(),
            rec.linktypes.tobytes()), len(ticks)


@pytest.mark.parametrize("cut", [None, 0.55, "pcap"])
def test_the_tui_reads_on_worker_processes_what_it_reads_alone(tmp_path, small_chunks, cut):
    """The TUI's index (every record's place), rows and timeline, read on a pool started
    beforehand (chunk by chunk) and in the loader's thread, are the same - for pcapng,
    and for a big-endian pcap with nanoseconds -; a truncated capture gives everything
    before the damage and the same error. Progress is told as chunks come in."""
    path = MIXED
    if cut == "pcap":
        path = _pcap_big_endian(MIXED, tmp_path / "be.pcap", True)
        cut = None
    elif cut is not None:
        path = tmp_path / "cut.pcapng"
        data = MIXED.read_bytes()
        path.write_bytes(data[:int(len(data) * cut)])
    pool = scan.start_pool(2)
    assert pool is not None
    try:
        parallel, told = _tui_load(path, pool)
    finally:
        pool.shutdown()
    serial, _ = _tui_load(path, None)
    assert parallel == serial
    assert len(serial[0]) > 50 and (cut is None) == (serial[2] == [])
    assert told > 10  # (a tick per chunk: cancel and progress stay responsive)
