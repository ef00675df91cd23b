"""Conformance with tshark for ALC/LCT and the FLUTE FDT on ``captures/lab-download-legacy.pcapng``.

The capture carries one FLUTE session on UDP 4001 (TSI 1). tshark 4.0.17 has no
ALC heuristic, so it is run with ``-d udp.port==4001,alc`` (its
``alc.lct.codepoint_as_fec_id`` default matches our FLUTE reading of the code
point). Its PDML (every field in tree order, ``show`` and raw ``value``) is
compared, frame by frame (1-based in both), with :func:`parse_alc` on the same
UDP payload and with ``mbms-analyzer dissect --json`` (the real command line).

Where tshark differs in meaning from us it is named here, not copied:

* ``rmt-lct.hlen``: tshark shows bytes (the raw ``value`` is the HDR_LEN byte,
  in 32-bit words); ours is bytes as well, and so is ``AlcPacket.hdr_len``.
* ``rmt-lct.cci``: shown as ``00:00:00:00``; its raw value is compared with our hex.
* ``rmt-fec.esi``: shown in hex (``0x00000001``); compared as an integer.
* ``rmt-fec.instance_id``: tshark's name for the 16 reserved bits of EXT_FTI
  (RFC 5445 §3.2.3 has no FEC Instance ID for Compact No-Code, FEC Encoding ID 0);
  we do not emit it.
* ``rmt-lct.ext`` (extension count), ``rmt-lct.fsize`` / ``rmt-lct.flags``
  (the bit-field words) and ``alc.payload`` (bytes; ours is a length) are
  tshark-only; ``rmt-lct.psi`` and ``flute.*`` are ours only.
* EXT_CENC: tshark reads the CENC byte at offset 3 of the extension (a reserved
  byte, so always 0) instead of offset 1 (RFC 3926 §3.4.1: HET | CENC | Reserved).
  The capture has no EXT_CENC (terms.txt's gzip is only in the FDT), so the
  quirk is pinned on a synthetic packet in the last test.
* tshark hands each FDT packet's payload to its XML dissector on its own: it
  never reassembles the FDT Instance (TOI 0). Its fragments are compared with
  our reassembly; the one ``File`` split across packets appears in tshark as
  an ``xml.cdata`` tail in one packet and an ``xml.unknown`` head in the next.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from defusedxml import ElementTree

from analyzer.capture.reading import read_capture
from analyzer.net.decode import decode_transport
from dissectors.flute import build_alc, parse_alc
from dissectors.flute.fdt import parse_fdt
from tests.conftest import CAPTURES
from tests.tshark_oracle import tshark_path

pytestmark = pytest.mark.tshark

#: the legacy-conventions download: its FDT is plain XML, which tshark dissects (the spec-true
#: one wraps it in a DCF, TS 33.246 §6.6.3, which tshark cannot look into)
CAPTURE = CAPTURES / "lab-download-legacy.pcapng"
PORT = 4001

#: Fields both tshark and we emit, compared by name, order and value.
COMPARED = ("alc.version", "rmt-lct.version", "rmt-lct.fsize.cci", "rmt-lct.fsize.tsi",
            "rmt-lct.fsize.toi", "rmt-lct.flags.sct_present", "rmt-lct.flags.ert_present",
            "rmt-lct.flags.close_session", "rmt-lct.flags.close_object", "rmt-lct.hlen",
            "rmt-lct.codepoint", "rmt-lct.cci", "rmt-lct.tsi", "rmt-lct.toi",
            "rmt-lct.hec.type", "rmt-lct.hec.len", "rmt-lct.flute_version",
            "rmt-lct.fdt_instance_id", "rmt-fec.fti.transfer_length",
            "rmt-fec.fti.encoding_symbol_length", "rmt-fec.fti.max_source_block_length",
            "rmt-fec.encoding_id", "rmt-fec.sbn", "rmt-fec.esi")
#: What only tshark shows (see the module docstring).
TSHARK_ONLY = ("rmt-lct.fsize", "rmt-lct.flags", "rmt-lct.ext", "rmt-fec.instance_id",
               "alc.payload")
#: What only we show.
OURS_ONLY = ("rmt-lct.psi", "alc.payload")


# ------------------------------------------------------------------ helpers

@functools.lru_cache(maxsize=4)
def _pdml(capture: Path, decode_as: bool = True):
    cmd = [tshark_path() or "tshark", "-r", str(capture), "-T", "pdml"]
    if decode_as:
        cmd[3:3] = ["-d", f"udp.port=={PORT},alc"]
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    return ElementTree.fromstring(out)


def _frame_number(packet) -> int:
    for f in packet.iter("field"):
        if f.get("name") == "frame.number":
            return int(f.get("show"))
    raise AssertionError("no frame.number")


def _tshark_alc(capture: Path = CAPTURE, decode_as: bool = True) -> dict[int, object]:
    """Frame number -> tshark's ``alc`` proto element, for every frame it calls ALC."""
    frames = {}
    for packet in _pdml(capture, decode_as).iter("packet"):
        alc = [p for p in packet.findall("proto") if p.get("name") == "alc"]
        if alc:
            assert len(alc) == 1
            frames[_frame_number(packet)] = alc[0]
    return frames


def _tshark_value(name: str, show: str, value: str) -> object:
    if name == "rmt-lct.cci":
        return value.lower()
    return int(show, 0)


def _tshark_fields(alc) -> list[tuple[str, str, str]]:
    """(name, show, value) of every named field under the alc proto, in tree order
    (the XML dissector's tree is left out)."""
    out = []

    def walk(elem):
        for child in elem:
            if child.tag == "proto" and child.get("name") == "xml":
                continue
            if child.tag == "field" and child.get("name"):
                out.append((child.get("name"), child.get("show", ""), child.get("value", "")))
            walk(child)
    walk(alc)
    return out


def _xml(alc):
    found = [p for p in alc.iter("proto") if p.get("name") == "xml"]
    return found[0] if found else None


@functools.lru_cache(maxsize=1)
def _udp_payloads() -> dict[int, bytes]:
    """Frame number -> UDP payload, for every UDP datagram to or from port 4001."""
    out = {}
    for record in read_capture(CAPTURE):
        tp = decode_transport(record.linktype, record.data)
        if tp is not None and tp.proto == "udp" and PORT in (tp.sport, tp.dport):
            out[record.number] = bytes(tp.payload)
    return out


@functools.lru_cache(maxsize=2)
def _ours_json(*extra: str) -> tuple[dict, ...]:
    out = subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--json", *extra,
                          str(CAPTURE)], capture_output=True, text=True, check=True).stdout
    return tuple(json.loads(line) for line in out.splitlines())


def _ours_alc_records() -> dict[int, list]:
    """Frame -> the fields of our per-packet ALC record (the one with the LCT header;
    frame 113 also gets an end-of-capture FLUTE object summary, without it)."""
    per_frame: dict[int, list] = {}
    for obj in _ours_json():
        if obj["protocol"] == "alc" and any(n == "rmt-lct.tsi" for n, _ in obj["fields"]):
            assert obj["frame"] not in per_frame, f"two ALC header records for {obj['frame']}"
            per_frame[obj["frame"]] = obj["fields"]
    return per_frame


def _fdt_transmissions() -> list[list[int]]:
    """The FDT (TOI 0) packets in capture order, split into transmissions: a new one
    starts when an ESI repeats or after Close Object."""
    runs: list[list[int]] = []
    seen: set[tuple[int, int]] = set()
    closed = True
    for number, data in sorted(_udp_payloads().items()):
        pkt = parse_alc(data)
        if not pkt.is_fdt:
            continue
        if closed or (pkt.sbn, pkt.esi) in seen:
            runs.append([])
            seen = set()
        runs[-1].append(number)
        seen.add((pkt.sbn, pkt.esi))
        closed = pkt.close_object
    return runs


def _reassemble(frames: list[int]) -> bytes:
    pkts = [parse_alc(_udp_payloads()[n]) for n in frames]
    symbol = pkts[0].fti.symbol_length
    data = bytearray(pkts[0].fti.transfer_length)
    covered = 0
    for pkt in sorted(pkts, key=lambda p: (p.sbn, p.esi)):
        assert pkt.sbn == 0, "the FDT fits in one source block"
        data[pkt.esi * symbol:pkt.esi * symbol + len(pkt.payload)] = pkt.payload
        covered += len(pkt.payload)
    assert covered == len(data), "every byte of the FDT Instance is carried exactly once"
    return bytes(data)


ATTR = re.compile(r'([A-Za-z][\w:.-]*)="([^"]*)"')


def _attrs(text: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in ATTR.findall(text)}


def _tshark_whole_files(xml) -> list[dict[str, str]]:
    """Attributes of each ``File`` element tshark's XML dissector shows as a tag."""
    files = []
    for tag in xml.iter("field"):
        if tag.get("name") == "xml.tag" and tag.get("show", "").startswith("<File "):
            attrs = [a.get("show") for a in tag if a.get("name") == "xml.attribute"]
            files.append(_attrs(" ".join(attrs)))
    return files


def _our_file_attrs(f) -> dict[str, str]:
    return dict(f.attributes)


# ------------------------------------------------------------------ tests

def test_tshark_and_we_call_the_same_frames_alc():
    udp = set(_udp_payloads())
    theirs = set(_tshark_alc())
    ours = {o["frame"] for o in _ours_json() if o["protocol"] == "alc"}
    ours_port = {o["frame"] for o in _ours_json("--flute-port", str(PORT))
                 if o["protocol"] == "alc"}
    assert len(udp) > 50
    assert theirs == udp, sorted(theirs ^ udp)
    assert ours == theirs, sorted(ours ^ theirs)
    # our heuristic (default) and the explicit port (our Decode As) agree
    assert ours_port == ours
    # tshark has no ALC heuristic: without the decode-as it finds none
    assert _tshark_alc(decode_as=False) == {}


def test_every_lct_and_fec_field_equals_tshark():
    theirs = _tshark_alc()
    ours_json = _ours_alc_records()
    assert set(ours_json) == set(theirs)
    compared = fti_frames = fdt_frames = 0
    for number, alc in sorted(theirs.items()):
        data = _udp_payloads()[number]
        pkt = parse_alc(data)
        assert pkt.issues == [], (number, pkt.issues)
        fields = _tshark_fields(alc)
        names = {n for n, _, _ in fields}
        assert names <= set(COMPARED) | set(TSHARK_ONLY), (number, names - set(COMPARED))
        t = [(n, _tshark_value(n, s, v)) for n, s, v in fields if n in COMPARED]
        o = [(n, v) for n, v in ours_json[number] if n in COMPARED]
        # our ALC/LCT/FEC names (the rest are the FDT, objects and DCFs completed here)
        extra = {n for n, _ in ours_json[number] if n.startswith(("alc.", "rmt-"))}
        assert extra <= set(COMPARED) | set(OURS_ONLY), (number, extra - set(COMPARED))
        # dissect --json and tshark: same fields, same order, same values
        assert t == o, (number, t, o)
        compared += len(t)

        tv = {}
        for n, v in t:
            tv.setdefault(n, []).append(v)
        one = {n: v[0] for n, v in tv.items() if len(v) == 1}
        # parse_alc on the same UDP payload
        assert one["rmt-lct.tsi"] == pkt.tsi
        assert one["rmt-lct.toi"] == pkt.toi
        assert one["rmt-lct.codepoint"] == pkt.codepoint
        assert one["rmt-fec.encoding_id"] == pkt.fec_id
        assert one["rmt-fec.sbn"] == pkt.sbn
        assert one["rmt-fec.esi"] == pkt.esi
        assert one["rmt-lct.flags.close_object"] == pkt.close_object
        # HDR_LEN: tshark shows bytes, its raw value is the wire byte in words
        hlen = next(f for f in alc.iter("field") if f.get("name") == "rmt-lct.hlen")
        assert int(hlen.get("show")) == int(hlen.get("value"), 16) * 4 == pkt.hdr_len
        assert one.get("rmt-lct.fdt_instance_id") == pkt.fdt_instance_id
        assert one.get("rmt-lct.flute_version") == pkt.fdt_version
        if pkt.fti is None:
            assert "rmt-fec.fti.transfer_length" not in one
        else:
            fti_frames += 1
            assert (one["rmt-fec.fti.transfer_length"], one["rmt-fec.fti.encoding_symbol_length"],
                    one["rmt-fec.fti.max_source_block_length"]) == \
                (pkt.fti.transfer_length, pkt.fti.symbol_length, pkt.fti.max_source_block_length)
        ext = [f for f in fields if f[0] == "rmt-lct.ext"]
        assert (int(ext[0][1]) if ext else 0) == len(tv.get("rmt-lct.hec.type", []))
        # where the payload starts: tshark's alc.payload (or its XML) against ours
        xml = _xml(alc)
        start = 42 + pkt.hdr_len + 4  # Ethernet + IPv4 + UDP, LCT header, FEC Payload ID
        assert (xml is not None) == pkt.is_fdt, number
        if xml is None:
            payload = [f for f in fields if f[0] == "alc.payload"]
            assert payload[0][2] == pkt.payload.hex(), number
        else:
            fdt_frames += 1
            # tshark's XML tree leaves out trailing whitespace
            assert (int(xml.get("pos")), int(xml.get("size"))) == \
                (start, len(pkt.payload.rstrip(b" \t\r\n"))), number
    assert compared > 1000
    assert fti_frames >= 6 and fdt_frames == 4  # the FDT (2 symbols) sent twice


def test_fdt_reassembled_and_tshark_fragments_agree():
    theirs = _tshark_alc()
    runs = _fdt_transmissions()
    assert [len(r) for r in runs] == [2, 2]  # sent at the start and again at the end
    docs = [_reassemble(r) for r in runs]
    assert docs[0] == docs[1]
    fdt = parse_fdt(docs[0])
    assert fdt.issues == [] and len(fdt.files) == 5
    by_toi = {f.toi: f for f in fdt.files}
    symbol = parse_alc(_udp_payloads()[runs[0][0]]).fti.symbol_length

    # which File elements lie wholly inside one packet (so tshark can see them whole)
    spans = [(m.start(), m.end(), int(_attrs(m.group(0).decode())["TOI"]))
             for m in re.finditer(rb"<File\s[^>]*/>", docs[0])]
    assert sorted(t for _, _, t in spans) == sorted(by_toi)
    whole = {t for s, e, t in spans if s // symbol == (e - 1) // symbol}
    split = {t for _, _, t in spans} - whole
    assert whole and len(split) == len(runs[0]) - 1  # here each symbol boundary cuts one

    for run in runs:
        xmls = [_xml(theirs[n]) for n in run]
        assert all(x is not None for x in xmls)
        seen = [a for x in xmls for a in _tshark_whole_files(x)]
        assert sorted(int(a["TOI"]) for a in seen) == sorted(whole)
        for a in seen:
            ours = by_toi[int(a["TOI"])]
            # every attribute tshark shows is ours, and no attribute is only ours
            assert a == _our_file_attrs(ours), (run, a)
            assert a["Content-Location"] == ours.content_location
            assert int(a["Content-Length"]) == ours.content_length
            assert a["Content-Type"] == ours.content_type
            assert base64.b64decode(a["Content-MD5"]) == ours.content_md5
            assert a.get("Content-Encoding") == ours.content_encoding
            assert (int(a["Transfer-Length"]) if "Transfer-Length" in a else None) == \
                ours.transfer_length
            assert int(a["FEC-OTI-Encoding-Symbol-Length"]) == ours.symbol_length
            assert int(a["FEC-OTI-Maximum-Source-Block-Length"]) == \
                ours.max_source_block_length
        # the FDT-Instance tag (first packet): its Expires
        top = [f for f in xmls[0].iter("field") if f.get("name") == "xml.tag"
               and f.get("show", "").startswith("<FDT-Instance")]
        assert len(top) == 1
        top_attrs = _attrs(" ".join(a.get("show") for a in top[0]
                                    if a.get("name") == "xml.attribute"))
        assert top_attrs["Expires"] == fdt.expires
        # each split File: tshark's cdata tail of one packet + unknown head of the next
        joined_tois = set()
        for before, after in zip(xmls, xmls[1:]):
            # (the text after the last whole tag is cdata in the first packet, "unknown" in
            # one that itself began inside an element)
            tail = [f.get("show") for f in before.iter("field")
                    if f.get("name") in ("xml.cdata", "xml.unknown")]
            head = [f.get("show") for f in after if f.get("name") == "xml.unknown"]
            assert tail and head
            joined = _attrs(tail[-1] + head[0])
            joined_tois.add(int(joined["TOI"]))
            assert joined == _our_file_attrs(by_toi[int(joined["TOI"])]), joined
        assert joined_tois == split


def test_fdt_files_in_dissect_json_equal_the_reassembled_fdt():
    runs = _fdt_transmissions()
    fdt = parse_fdt(_reassemble(runs[0]))
    expected = []
    for f in fdt.files:
        for name, value in (("flute.file.toi", f.toi),
                            ("flute.file.content_location", f.content_location),
                            ("flute.file.content_length", f.content_length),
                            ("flute.file.transfer_length", f.transfer_length),
                            ("flute.file.content_type", f.content_type),
                            ("flute.file.content_encoding", f.content_encoding),
                            ("flute.file.content_md5", f.content_md5.hex())):
            if value is not None:
                expected.append((name, value))
    wanted = {n for n, _ in expected}
    completing = runs[0][-1]
    with_files = {}
    for obj in _ours_json():
        got = [(n, v) for n, v in obj["fields"] if n in wanted]
        if got:
            with_files[obj["frame"]] = got
    assert completing in with_files
    fdt_frames = {n for r in runs for n in r}
    for frame, got in with_files.items():
        assert frame in fdt_frames, frame  # only an FDT packet completes an FDT
        assert got == expected, frame
    assert [f.toi for f in fdt.files] == [1, 2, 3, 4, 5]
    gz = next(f for f in fdt.files if f.content_encoding)
    assert (gz.content_encoding, gz.transfer_length) == ("gzip", 559)


def test_tshark_reads_ext_cenc_from_a_reserved_byte(tmp_path):
    """EXT_CENC is HET 193 | CENC | 16 reserved bits (RFC 3926 §3.4.1): tshark 4.0.17
    takes the last byte, so it shows 0 for any CENC; we read byte 1."""
    from tests.corpus import write_pcap
    raw = build_alc(7, 3, b"abc", sbn=2, esi=0x105, cenc=3, close_object=True)
    pcap = tmp_path / "cenc.pcap"
    write_pcap(pcap, [raw], port=PORT)
    alc = _tshark_alc(pcap)[1]
    ext = next(f for f in alc.iter("field") if f.get("name") == "rmt-lct.hec.type")
    cenc = next(f for f in alc.iter("field") if f.get("name") == "rmt-lct.cenc")
    assert int(ext.get("show")) == 193
    assert int(cenc.get("pos")) == int(ext.get("pos")) + 3  # the reserved byte
    assert int(cenc.get("show")) == 0
    assert parse_alc(raw).cenc == 3 == raw[int(ext.get("pos")) - 42 + 1]
    # the rest of that packet agrees
    t = [(n, _tshark_value(n, s, v)) for n, s, v in _tshark_fields(alc)
         if n in ("rmt-lct.tsi", "rmt-lct.toi", "rmt-fec.sbn", "rmt-fec.esi")]
    assert t == [("rmt-lct.tsi", 7), ("rmt-lct.toi", 3), ("rmt-fec.sbn", 2),
                 ("rmt-fec.esi", 0x105)]
