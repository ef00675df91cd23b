"""SRTP/SRTCP packets in ``dissect`` (RFC 3711 framing, MBMS MKI = MSK ID || MTK ID).

A UDP packet is shown as SRTP when it is RTP-framed and either
* its MKI names an MTK announced by a MIKEY MTK message earlier in the capture
  (key IDs are visible without any key), or
* with a key file, a known or learned key opens it, or it belongs to a stream
  that one did (then the failure - auth, unknown MKI - is shown).

Fields use Wireshark's RTP names (``rtp.seq``, ``rtp.ssrc`` ...) and ``srtp.mki``,
``srtp.auth_tag``; with keys, ``srtp.result`` (ok / auth / unknown) and
``srtp.key``. The decrypted payload itself is not shown (``decrypt`` writes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from analyzer.crypto.srtp_policy import RCC_NAMES
from analyzer.keys.srtp import SrtpDecryptor
from analyzer.net.decode import Transport
from analyzer.net.prefilter import Prefilter, packed
from analyzer.views.facts import SrtpFact
from analyzer.views.result import Dissected, LazyDissected, endpoint
from dissectors.mikey import MIKEY_EXT, iter_layers, parse
from dissectors.mikey.base import Field_, Node
from dissectors.srtp import is_rtcp, rtp_header

TAG_LENGTHS = (10, 4)
#: MIKEY messages kept for their MKIs before they are parsed anyway (memory grows
#: with the key messages, not the packets)
MAX_PENDING = 65536


@dataclass(frozen=True)
class SrtpInfo:
    """What the main process learned of an SRTP/SRTCP packet before it is rendered."""

    rtcp: bool
    header: bytes
    mki: bytes
    tag: bytes
    payload_len: int
    result: str = ""
    key: str | None = None
    roc: int | None = None      # the rollover counter it authenticated with
    resync: str = ""            # what held when its ROC was re-synchronised
    rcc: int = 0                # RFC 4771 mode of its key (1, 2, 3; 0 none)
    rcc_roc: int | None = None  # the ROC its RCC tag carried (packets with SEQ mod R = 0)
    mtk: tuple[str, str, str] | None = None  # the MTK that opened it (hex IDs)


class SrtpFinder:
    """Stateful SRTP recognition for ``dissect`` (in capture order, main process)."""

    def __init__(self, decryptor: SrtpDecryptor | None = None,
                 prefilter: "Prefilter | None" = None) -> None:
        self.decryptor = decryptor
        self.mkis: set[bytes] = set()
        #: the lengths of the MKIs announced, in order (what a packet's tail is looked up by)
        self._mki_sizes: list[int] = []
        self._pending: list[bytes] = []  # MIKEY messages whose MKIs are not yet noted
        #: told which UDP flows carry nothing known (and which do), so that the
        #: reader stops handing on flows no key or announced MKI opens
        self.prefilter = prefilter
        if prefilter is not None:
            prefilter.key_source = self.key_count

    def key_count(self) -> int:
        """What could open a flow, as one growing number: the decryptor's keys (high
        bits: they are what ``decrypt(since=...)`` counts) and the announced MKIs."""
        if self._pending:
            self._learn_pending()
        decryptor = self.decryptor
        if decryptor is None:
            return min(len(self.mkis), (1 << 20) - 1)
        return (decryptor.key_count << 20) | min(len(self.mkis), (1 << 20) - 1)

    def learn_mikey(self, data: bytes) -> None:
        """Note the MKI (MSK ID || MTK ID) an MTK message announces. The message is
        parsed when the next RTP-like packet is classified (a capture without SRTP
        costs no second parse of its MIKEY messages)."""
        self._pending.append(data)
        if len(self._pending) >= MAX_PENDING:
            self._learn_pending()

    def _learn_pending(self) -> None:
        pending, self._pending = self._pending, []
        for data in pending:
            for layer in iter_layers(parse(data)):
                if isinstance(layer, MIKEY_EXT) and layer.ext_type == 3:
                    ids = layer.key_ids_by_type()
                    if 1 in ids and 2 in ids and len(self.mkis) < 65536:
                        self.mkis.add(ids[1] + ids[2])
                        if len(ids[1] + ids[2]) not in self._mki_sizes:
                            self._mki_sizes = sorted({*self._mki_sizes, len(ids[1] + ids[2])})

    def classify(self, tp: Transport) -> SrtpInfo | None:
        data = tp.payload
        if tp.proto != "udp" or len(data) < 12 or data[0] >> 6 != 2:
            return None
        if self._pending:
            self._learn_pending()
        rtcp = is_rtcp(data)
        result, key, mtk, roc, resync, framing = "", None, None, None, "", None
        keep = self.prefilter
        flow = packed(tp.dst) if keep is not None else b""
        named = False
        if self.decryptor is not None:
            since = keep.tried(flow, tp.dport) >> 20 if keep is not None else 0
            self.decryptor.decrypt(data, endpoint(tp.dst, tp.dport), plaintext=False, since=since)
            result, key, mtk = self.decryptor.last
            roc, resync = self.decryptor.last_roc, self.decryptor.last_resync
            framing = self.decryptor.last_framing
            named = self.decryptor.last_mki_match
        mki = b""
        tag_len = 10
        if framing is not None and not rtcp:  # the key that opened it knows its framing
            tag_len, mki_len = framing[0], framing[1]
            head = rtp_header(data).header_len if rtp_header(data) else 12
            cut = len(data) - tag_len
            if keep is not None:
                keep.srtp_hit(flow, tp.dport)
            return SrtpInfo(False, data[:head], data[cut - mki_len:cut], data[cut:],
                            max(0, cut - mki_len - head), result, key, roc, resync,
                            framing[2], framing[3], mtk)
        for tag_len in TAG_LENGTHS:
            for size in self._mki_sizes:
                cut = len(data) - tag_len
                if data[cut - size:cut] in self.mkis:
                    mki = data[cut - size:cut]
                    break
            if mki:
                break
        if keep is not None:
            if result or mki or named:
                keep.srtp_hit(flow, tp.dport)
            else:
                keep.srtp_miss(flow, tp.dport, self.key_count())
        if not result and not mki:
            return None
        tag_len = tag_len if mki else 10
        head = 8 if rtcp else (rtp_header(data).header_len if rtp_header(data) else 12)
        cut = len(data) - tag_len - len(mki)
        return SrtpInfo(rtcp, data[:head], mki, data[len(data) - tag_len:],
                        max(0, cut - head - (4 if rtcp else 0)), result, key, roc, resync,
                        mtk=mtk)


def build_srtp(cand: Any) -> Dissected:
    """The dissected form of an SRTP/SRTCP candidate: its Info text and fact now,
    its tree (:func:`srtp_items`) when first asked for - a capture holds tens of
    thousands of these, and a list of them shows their Info texts."""
    info: SrtpInfo = cand.srtp
    h = info.header
    if info.rtcp:
        ssrc = int.from_bytes(h[4:8], "big")
        summary = f"SRTCP PT {h[1]}, SSRC 0x{ssrc:08x}"
    else:
        ssrc = int.from_bytes(h[8:12], "big")
        summary = f"SRTP SSRC 0x{ssrc:08x}, Seq {int.from_bytes(h[2:4], 'big')}, " \
                  f"PT {h[1] & 0x7F}"
    if info.mki:
        summary += f", MKI {info.mki.hex()}"
    if info.result:
        summary += {"ok": f", decrypted ({info.key})", "auth": ", authentication failed",
                    "unknown": ", unknown MKI"}.get(info.result, "")
    fact = SrtpFact(ssrc, info.result, info.key or None, info.mtk) if info.result else None
    return LazyDissected(cand.capture, cand.frame, cand.time, cand.src, cand.dst,
                         "srtcp" if info.rtcp else "srtp", summary, make=partial(srtp_items, info),
                         srtp=fact)


def srtp_items(info: SrtpInfo) -> list:
    """The tree of an SRTP/SRTCP packet (RFC 3550 §5.1, §6.4; RFC 3711 §3.1, §3.4):
    its clear header, the sizes and tags of its protected parts, and what the keys
    made of it."""
    h = info.header
    items: list = [Node("Secure RTCP" if info.rtcp else "Secure RTP", -1)]
    add = items.append
    if info.rtcp:
        add(Field_("rtcp.version", h[0] >> 6, "Version", depth=0))
        add(Field_("rtcp.pt", h[1], "Packet type", depth=0))
        add(Field_("rtcp.senderssrc", int.from_bytes(h[4:8], "big"), "Sender SSRC",
                   f"0x{int.from_bytes(h[4:8], 'big'):08x}", depth=0))
    else:
        seq, ts, ssrc = int.from_bytes(h[2:4], "big"), int.from_bytes(h[4:8], "big"), \
            int.from_bytes(h[8:12], "big")
        for name, value, label in (("rtp.version", h[0] >> 6, "Version"),
                                   ("rtp.padding", (h[0] >> 5) & 1, "Padding"),
                                   ("rtp.ext", (h[0] >> 4) & 1, "Extension"),
                                   ("rtp.cc", h[0] & 0x0F, "Contributing source count"),
                                   ("rtp.marker", h[1] >> 7, "Marker"),
                                   ("rtp.p_type", h[1] & 0x7F, "Payload type"),
                                   ("rtp.seq", seq, "Sequence number"),
                                   ("rtp.timestamp", ts, "Timestamp")):
            add(Field_(name, value, label, depth=0))
        add(Field_("rtp.ssrc", ssrc, "SSRC", f"0x{ssrc:08x}", depth=0))
    add(Field_("srtp.enc_payload_len", info.payload_len, "Encrypted payload length", depth=0))
    if info.mki:
        add(Field_("srtp.mki", info.mki.hex(), "MKI", depth=0))
    add(Field_("srtp.auth_tag", info.tag.hex(), "Authentication tag", depth=0))
    if info.result:
        add(Field_("srtp.result", info.result, "Decryption", depth=0))
        if info.key:
            add(Field_("srtp.key", info.key, "Key", depth=0))
        if info.roc is not None:
            add(Field_("srtp.roc", info.roc, "Rollover counter", depth=0))
        if info.resync:
            add(Field_("srtp.roc_resync", info.resync, "ROC re-synchronised by", depth=0))
        if info.rcc:
            add(Field_("srtp.rcc.mode", RCC_NAMES[info.rcc], "Integrity transform (RFC 4771)",
                       depth=0))
        if info.rcc_roc is not None:
            add(Field_("srtp.rcc.roc", info.rcc_roc, "ROC carried (RCC packet)", depth=0))
    return items
