"""The layers as a Scapy user meets them: rdpcap/sniff give MIKEY and BM-SC body layers, a
message built in Scapy round-trips through tshark and our dissector, the BM-SC layers read
the bodies as ``dissect --json`` does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from scapy.all import TCPSession, raw, rdpcap, sniff, wrpcap
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

import dissectors.bmsc_layers as B
from dissectors.mikey import (
    MIKEY,
    MIKEY_EXT,
    MIKEY_ID,
    MIKEY_KEMAC,
    MIKEY_RAND,
    MIKEY_T,
    MIKEY_KeyData,
    MIKEY_KeyID,
    field_list,
    parse,
)
from tests.conftest import CAPTURES, ROOT
from tests.tshark_oracle import tshark_mikey_fields, tshark_path
from tests.tshark_model import tshark_view

LABS = sorted(CAPTURES.glob("lab-*.pcapng"))


def test_rdpcap_gives_mikey_layers_on_both_ports(tmp_path):
    """A lab capture with its group MTK messages moved to 4359 (as some BM-SCs send
    them): rdpcap shows MIKEY with its payload chain on 2269 and on 4359, either way."""
    packets = rdpcap(str(CAPTURES / "lab-basic.pcapng"))
    moved = 0
    for p in packets:
        if p.haslayer(MIKEY) and p[IP].dst.startswith("232."):
            p[UDP].sport = p[UDP].dport = 4359
            del p[UDP].chksum
            moved += 1
    assert moved
    wrpcap(str(tmp_path / "ports.pcap"), packets)
    again = rdpcap(str(tmp_path / "ports.pcap"))
    ports = {}
    for p in again:
        if p.haslayer(MIKEY):
            ports.setdefault(p[UDP].dport, []).append(p)
    assert set(ports) == {2269, 4359}
    for port, found in ports.items():
        chain = found[0][MIKEY]
        assert chain.haslayer(MIKEY_T) and chain.haslayer(MIKEY_EXT), port
    assert "MIKEY / MIKEY_T" in again[next(i for i, p in enumerate(again)
                                           if p.haslayer(MIKEY))].summary()


def _msk_message() -> MIKEY:
    """An MSK message as a Scapy user writes it (TS 33.246 §6.4.5.1: HDR, T, RAND, IDi,
    IDr, EXT(key IDs), KEMAC(Key data) - here with NULL encryption to keep it readable)."""
    return (MIKEY(data_type=0, v=1, csb_id=0x01020304, cs_id_map_type=1, prf_func=0)
            / MIKEY_T(ts_type=2, ts_value=b"\x00\x00\x00\x07")
            / MIKEY_RAND(rand=bytes(range(16)))
            / MIKEY_ID(id_type=1, id_data=b"bmsc.example.org")
            / MIKEY_ID(id_type=1, id_data=b"ue1@bsf.example.org")
            / MIKEY_EXT(ext_type=3, key_ids=[MIKEY_KeyID(key_id_type=0, key_id=b"\x02\xf8\x10"),
                                             MIKEY_KeyID(key_id_type=1,
                                                         key_id=b"\x00\x01\x00\x02")])
            / MIKEY_KEMAC(encr_alg=0, key_data=[MIKEY_KeyData(key_type=2, kv=0,
                                                              key_data=b"\x11" * 16)],
                          mac_alg=1, mac=b"\x22" * 20))


def test_a_message_built_in_scapy_round_trips():
    msg = _msk_message()
    data = raw(msg)
    back = parse(data)
    assert raw(back) == data
    ours = [(f.name, f.value) for f in field_list(back)]
    assert ("mikey.mbms.msk_id", "00010002") in ours and ("mikey.t.counter", 7) in ours
    # the same bytes under Scapy's own UDP: the bound layer dissects them the same
    frame = Ether(raw(Ether() / IP(src="10.0.0.1", dst="10.0.0.7") / UDP(sport=2269,
                                                                        dport=2269) / msg))
    assert [(f.name, f.value) for f in field_list(frame[MIKEY])] == ours


@pytest.mark.tshark
def test_tshark_decodes_a_scapy_built_message_as_we_do(tmp_path):
    if tshark_path() is None:
        pytest.skip("tshark not installed")
    msg = _msk_message()
    pcap = tmp_path / "built.pcap"
    wrpcap(str(pcap), [Ether() / IP(src="10.0.0.1", dst="10.0.0.7") / UDP(sport=2269,
                                                                           dport=2269) / msg])
    theirs = tshark_mikey_fields(pcap)[0]
    view = tshark_view(parse(raw(msg)))
    assert view.fields and theirs[:len(view.fields)] == view.fields
    names = [n for n, _ in theirs]
    assert "mikey.kemac.encr_alg" in names and "_ws.expert" not in " ".join(names)
    err = subprocess.run([tshark_path(), "-r", str(pcap), "-Y", "_ws.malformed or _ws.expert"],
                         capture_output=True, text=True).stdout
    assert not err.strip()  # no malformed or expert info: tshark decodes it without error


def _ours_bmsc(capture) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--json", str(capture)],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    return [r for r in rows if r["protocol"] == "bmsc"
            and any(name == "bmsc.body.kind" for name, _ in r["fields"])]


def _theirs_bmsc(capture) -> list[B.MBMS_Body]:
    return [p[B.MBMS_Body] for p in sniff(offline=str(capture), session=TCPSession)
            if p.haslayer(B.MBMS_Body)]


@pytest.mark.parametrize("capture", LABS, ids=lambda p: p.stem)
def test_bmsc_layers_read_each_body_as_dissect_does(capture):
    """sniff(offline=..., session=TCPSession) gives the BM-SC body layers with the fields
    dissect --json shows (one body parser for both)."""
    ours = _ours_bmsc(capture)
    theirs = _theirs_bmsc(capture)
    assert len(ours) == len(theirs)
    for row, layer in zip(ours, theirs):
        fields = row["fields"]

        def all_of(name):
            return [v for n, v in fields if n == name]
        assert layer.kind == all_of("bmsc.body.kind")[0]
        assert [k.key_domain.hex() or None for k in layer.keys] == all_of("bmsc.key.key_domain_id")
        assert [k.msk_id.hex() or None for k in layer.keys] == all_of("bmsc.key.msk_id")
        assert [k.status for k in layer.keys if k.status is not None] == all_of("bmsc.key.status")
        assert [s.decode() for s in layer.service_ids] == all_of("bmsc.service_id")
        btid = all_of("bmsc.btid") or all_of("bmsc.body.btid")
        assert layer.btid.decode() == (btid[0] if btid else "")
    if capture.stem in ("lab-basic", "lab-reject", "lab-solicited-pull"):
        assert theirs and any(layer.keys for layer in theirs)


def test_a_bmsc_body_built_from_fields():
    from scapy.layers.http import HTTP, HTTPRequest

    body = B.MBMS_MSKRequest(keys=[B.MBMS_Key(key_domain=b"\x02\xf8\x10",
                                              msk_id=b"\x00\x01\x00\x02")])
    req = HTTP() / HTTPRequest(Method=b"POST", Path=b"/keymanagement?requesttype=msk-request",
                               Content_Type=b"application/mbms-msk+xml") / body
    back = HTTP(raw(req))
    got = back[B.MBMS_MSKRequest]
    assert [(k.key_domain, k.msk_id) for k in got.keys] == [(b"\x02\xf8\x10", b"\x00\x01\x00\x02")]
    assert got.body is not None and not got.body.issues
