"""The ``download`` scenario: an MBMS download session (TS 26.346 FLUTE, TS 33.246
§6.6.3) whose files are OMA DRM DCF objects protected with the MTK.

The BM-SC multicasts an MTK message for download (§6.3.3.2.1: KEMAC key type
TGK, no salt), then a FLUTE session: an FDT Instance naming every file, each
file's packets (Compact No-Code FEC, 1024-byte symbols, 16-symbol source
blocks), a second MTK halfway, and the FDT again (a carousel). The DCF keys
are derived from the MTK as TS 33.246 §6.5.4 says (RFC 3830 §4.1.3 TEK
encryption/authentication constants, cs_id 0, the MTK message's CSB ID and
RAND). One file loses a packet and must be reported incomplete; one file is
sent in the clear with gzip Content-Encoding.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import struct
from typing import Any

from analyzer.crypto.dcf import candidate_keys, encrypt, sign
from analyzer.flute.receiver import block_layout
from analyzer.lab.frames import udp_frame
from analyzer.lab.mikey_build import key_ids_ext, psk_message
from analyzer.lab.procedures import join_all
from analyzer.lab.world import EPOCH, Msk, World
from dissectors.dcf import build_dcf
from dissectors.flute.fdt import build_fdt
from dissectors.flute.lct import Fti, build_alc
from dissectors.mikey import MIKEY_KeyData

#: The FLUTE session's destination port (TS 26.346 names none: the SDP does).
FLUTE_PORT = 4001
TSI = 1
SYMBOL = 1024
MAX_SBL = 16
#: Gap between two packets of the session (a 2 Mbit/s bearer).
PACKET_GAP = 0.004


def mtk_for_download(w: World, msk: Msk, mtk_id: int) -> tuple[bytes, dict[str, Any]]:
    """An MTK message for download (TGK, no salt) and what the DCF keys come from."""
    msk.counter += 1
    key, csb = w.rng.randbytes(16), w.rng.getrandbits(32)
    sent, rand = w.mtk_rand(msk)  # (spec: no RAND payload; the MSK's RAND derives the keys)
    mid = struct.pack("!H", mtk_id)
    msk.mtks.append({"mtk_id": mid.hex(), "key": key.hex(), "salt": None})
    data = [MIKEY_KeyData(next_payload=0, key_type=0, kv=0, key_data=key)]
    raw = psk_message(msk.key, csb, sent, msk.counter, data,
                      key_ids_ext(msk.kd, msk.msk_id, mid), key_rand=rand)
    return raw, {"kd": msk.kd, "msk_id": msk.msk_id, "mtk_id": mid, "key": key, "csb": csb,
                 "rand": rand}


def protect(w: World, plain: bytes, mtk: dict[str, Any], method: int) -> bytes:
    """*plain* as a signed MBMS DCF under *mtk* (AES_128_CBC = 1, AES_128_CTR = 2)."""
    keys = candidate_keys(mtk["key"], mtk["csb"], mtk["rand"], "rfc3830")[0]
    body = encrypt(method, keys.encr_key, w.rng.randbytes(16), plain)
    kid = mtk["kd"] + mtk["msk_id"] + mtk["mtk_id"]
    args = dict(key_id=kid, plaintext_length=len(plain), method=method,
                textual=(f"Content-Description:MBMS download, MTK {mtk['mtk_id'].hex()}",))
    unsigned = build_dcf(body, **args)  # the signature covers what precedes mdri
    return build_dcf(body, **args, signature=sign(keys.auth_key, unsigned))


def wrap_fdt(w: World, fdt: bytes, mtk: dict[str, Any]) -> bytes:
    """The FDT Instance in a DCF of its own (TS 33.246 §6.6.3): NULL encryption, so a
    receiver reads it at once, and the odfs HMAC-SHA1 under *mtk*'s keys (checked once
    that MTK is known), its obki naming the MTK."""
    keys = candidate_keys(mtk["key"], mtk["csb"], mtk["rand"], "rfc3830")[0]
    kid = mtk["kd"] + mtk["msk_id"] + mtk["mtk_id"]
    args = dict(key_id=kid, plaintext_length=len(fdt), method=0,
                content_type="application/fdt+xml", content_id="cid:fdt@bmsc")
    unsigned = build_dcf(fdt, **args)
    return build_dcf(fdt, **args, signature=sign(keys.auth_key, unsigned))


def _packets(toi: int, obj: bytes, fdt_id: int | None = None) -> list[bytes]:
    """The ALC packets of one object: one 1024-byte symbol each, EXT_FTI on the first,
    in the source blocks of RFC 5052 §9.1."""
    fti = Fti(len(obj), SYMBOL, MAX_SBL)
    a_large, a_small, i_large, _n = block_layout(fti)
    out = []
    symbols = [obj[i:i + SYMBOL] for i in range(0, len(obj), SYMBOL)] or [b""]
    ids, sbn = [], 0
    while len(ids) < len(symbols):
        ids += [(sbn, esi) for esi in range(a_large if sbn < i_large else a_small)]
        sbn += 1
    for n, sym in enumerate(symbols):
        sbn, esi = ids[n]
        out.append(build_alc(TSI, toi, sym, sbn=sbn, esi=esi, fti=fti if n == 0 or toi == 0
                             else None, fdt_instance_id=fdt_id,
                             close_object=n == len(symbols) - 1))
    return out


def _content(w: World, kind: str, size: int) -> bytes:
    if kind == "html":
        return (b"<!DOCTYPE html><html><head><title>Joke of the day</title></head><body>"
                + b"<p>" + b"Why did the MTK cross the bearer? " * (size // 36) + b"</p></body></html>")
    if kind == "text":
        return b"".join(f"{n:05d} Terms of service, clause {n}: keys are short-lived.\n".encode()
                        for n in range(size // 56))
    return w.rng.randbytes(size)


def download(w: World, opts: Any) -> None:
    """Join as ``basic`` does, then the FLUTE session under two MTKs."""
    msk = w.new_msk()
    t = join_all(w, EPOCH, msk) + 0.2
    raw, mtk1 = mtk_for_download(w, msk, 1)
    w.expect("mtk_update", None, "success")
    wire: list[tuple[int, bytes, Any]] = []
    entries = []

    def mikey_object(toi: int, message: bytes, n: int) -> None:
        """TS 33.246 §6.3.3.2.1: the MTK message as a file of the session (spec); or,
        legacy, a UDP MIKEY message to the group."""
        if not w.spec:
            wire.append((-1, message, None))
            return
        entries.append({"TOI": toi, "Content-Location":
                        f"http://bmsc.example.org/jokes/mtk{n}.mikey",
                        "Content-Type": "application/mikey", "Content-Length": len(message),
                        "Content-MD5": base64.b64encode(hashlib.md5(message).digest()).decode(),
                        "FEC-OTI-FEC-Encoding-ID": 0, "FEC-OTI-Encoding-Symbol-Length": SYMBOL,
                        "FEC-OTI-Maximum-Source-Block-Length": MAX_SBL})
        wire.append((toi, message, None))

    if w.spec:
        mikey_object(101, raw, 1)
    else:
        w.multicast_mikey(t, raw, "mtk 1 (download)")
    t += 0.1
    files = [("joke.html", "text/html", _content(w, "html", 3000), 1, 1, None),
             ("logo.png", "image/png", _content(w, "bin", 5000), 1, 2, None),
             ("clip.3gp", "video/3gpp", _content(w, "bin", 40000), 2, 1, 7),
             ("terms.txt", "text/plain", _content(w, "text", 6000), None, None, None),
             ("news.html", "text/html", _content(w, "html", 9000), 2, 2, None)]
    second = None
    for n, (name, ctype, plain, mtk_no, method, lose) in enumerate(files):
        toi = n + 1
        attrs = {"TOI": toi, "Content-Location": f"http://bmsc.example.org/jokes/{name}"}
        if mtk_no is None:  # in the clear, gzip-encoded on the air
            obj = gzip.compress(plain, mtime=0)
            attrs.update({"Content-Type": ctype, "Content-Encoding": "gzip",
                          "Content-Length": len(plain), "Transfer-Length": len(obj)})
            used = None
        else:
            if mtk_no == 2 and second is None:
                raw2, second = mtk_for_download(w, msk, 2)
                w.expect("mtk_update", None, "success")
                mikey_object(102, raw2, 2)
            used = mtk1 if mtk_no == 1 else second
            obj = protect(w, plain, used, method)
            attrs.update({"Content-Type": "application/vnd.oma.drm.dcf",
                          "Content-Length": len(obj)})
        attrs.update({"Content-MD5": base64.b64encode(hashlib.md5(obj).digest()).decode(),
                      "FEC-OTI-FEC-Encoding-ID": 0, "FEC-OTI-Encoding-Symbol-Length": SYMBOL,
                      "FEC-OTI-Maximum-Source-Block-Length": MAX_SBL})
        entries.append(attrs)
        w.downloads.append({
            "toi": toi, "name": name, "content_type": ctype, "size": len(plain),
            "sha256": hashlib.sha256(plain).hexdigest(), "transfer_length": len(obj),
            "mtk": None if used is None else
            f"{used['kd'].hex()}/{used['msk_id'].hex()}/{used['mtk_id'].hex()}",
            "method": {None: "clear", 1: "AES_128_CBC", 2: "AES_128_CTR"}[method],
            "complete": lose is None, "lost_packet": lose})
        if lose is not None:
            w.expected_findings.add("flute.incomplete")
        wire.append((toi, obj, lose))
    fdt = build_fdt(entries, expires=int(EPOCH) + 3600)
    if w.spec:  # a protected download service protects its FDT too (TS 33.246 §6.6.3)
        fdt = wrap_fdt(w, fdt, mtk1)
    sends = [(p, "fdt") for p in _packets(0, fdt, fdt_id=1)]
    for toi, obj, lose in wire:
        if toi == -1:
            sends.append((obj, "mikey"))
            continue
        for n, p in enumerate(_packets(toi, obj)):
            if n != lose:
                sends.append((p, f"flute toi {toi}"))
    sends += [(p, "fdt (carousel)") for p in _packets(0, fdt, fdt_id=1)]
    for payload, note in sends:
        if note == "mikey":
            w.multicast_mikey(t, payload, "mtk 2 (download)")
        else:
            w.emit(t, udp_frame(w.bmsc_ip, FLUTE_PORT, w.group, FLUTE_PORT, payload,
                                w.next_ident()), note)
        t += PACKET_GAP
