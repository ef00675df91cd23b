"""SRTP/SRTCP decryption of captures with known and learned keys (the ``decrypt`` command).

Keys come from ``[[srtp]]`` tables (filtered by SSRC and destination, selected
by MKI when one is given), from ``[[mtk]]`` tables, and from MTKs learned from
MIKEY messages earlier in the capture (:class:`~analyzer.mikey_keys.KeyHierarchy`).
An MTK becomes an SRTP master key with the MTK's salt (digest §4.7); it is
selected by MKI, ``MSK ID || MTK ID`` by default (:class:`SrtpRules`, [U]), or
by trial (the auth tag decides) when the MKI layout differs.

A packet is replaced only when it authenticates. Per stream (SSRC) the
decryptor counts packets decrypted, authentication failures and packets whose
MKI names no known key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dissectors.srtp import is_rtcp, rtp_fields

from .crypto.srtp import SUITES, SrtpContext
from .keys import Key, KeyStore

MAX_STREAMS = 65536
#: MTKs tried without MKI (trial by auth tag): only the most recently learned ones
MAX_TRIAL_KEYS = 4


@dataclass(frozen=True)
class SrtpRules:
    """How MTKs become SRTP keys (TS 33.246 §5.3 unread [U]).

    Attributes:
        mki: ``msk_mtk`` (MKI = MSK ID || MTK ID, 6 bytes), ``mtk`` (MTK ID only),
            or ``none`` (no MKI on the wire; keys are tried).
        suite: the SRTP suite of MTK-protected streams when no SP says otherwise.
    """

    mki: str = "msk_mtk"
    suite: str = "AES_CM_128_HMAC_SHA1_80"


@dataclass
class StreamStats:
    """Counters of one SSRC (the summary line of ``decrypt``)."""

    ssrc: int
    dst: str
    decrypted: int = 0
    rtcp_decrypted: int = 0
    auth_failures: int = 0
    unknown_mki: int = 0
    keys: set[str] = field(default_factory=set)

    def line(self) -> str:
        keys = ", ".join(sorted(self.keys)) or "none"
        return (f"SSRC 0x{self.ssrc:08x} -> {self.dst}: {self.decrypted} SRTP and "
                f"{self.rtcp_decrypted} SRTCP packets decrypted, {self.auth_failures} "
                f"authentication failures, {self.unknown_mki} with unknown MKI (keys: {keys})")


@dataclass
class _Candidate:
    label: str
    ctx: SrtpContext
    ssrc: int | None = None
    dst: str | None = None
    mtk: tuple[str, str, str] | None = None
    trial: bool = False  # an MTK tried without MKI: its failure says nothing of the MKI
    order: int = 0  # place in the decryptor's list: keys learned later come later


class SrtpDecryptor:
    """Decrypts SRTP/SRTCP payloads with every key of a store (sans-IO)."""

    def __init__(self, store: KeyStore, rules: SrtpRules = SrtpRules()) -> None:
        self.store = store
        self.rules = rules
        #: the outcome of the last :meth:`decrypt`: (result, key label, MTK ids or None);
        #: result ``ok``, ``auth`` (the key its MKI names fails), ``unknown`` (no key for a
        #: known stream) or "" (not an SRTP packet of a known stream)
        self.last: tuple[str, str | None, tuple[str, str, str] | None] = ("", None, None)
        #: when the last packet did not decrypt: did its MKI name a known key? (a
        #: packet that opens with its stream's key is not looked up)
        self.last_mki_match = False
        self.stats: dict[tuple[int, str], StreamStats] = {}
        self._cands: list[_Candidate] = []
        self._mtk_seen: set[tuple[bytes, bytes, bytes]] = set()
        self._by_stream: dict[tuple[int, str], _Candidate] = {}
        self._index_size = -1
        self._mki_found = 0
        for n, key in enumerate(store.srtp):
            ex = key.extra
            ctx = SrtpContext(SUITES[ex["suite"]], key.value or b"", key.salt or b"",
                              ex.get("kdr", 0), ex.get("mki", b""), ex.get("roc", 0))
            self._cands.append(_Candidate(f"srtp#{n + 1}", ctx, ex.get("ssrc"), ex.get("dst"),
                                          order=len(self._cands)))

    def _refresh_mtks(self) -> None:
        if len(self.store.mtks) == len(self._mtk_seen):
            return
        for ids, key in self.store.mtks.items():
            if ids in self._mtk_seen or not key.ready:
                continue
            self._mtk_seen.add(ids)
            for cand in self._mtk_candidates(ids, key):
                cand.order = len(self._cands)
                self._cands.append(cand)

    def _mtk_candidates(self, ids: tuple[bytes, bytes, bytes], key: Key) -> list[_Candidate]:
        """SRTP contexts for an MTK, in the order of DESIGN.md: the MKI of the rule
        (MSK ID || MTK ID), the key data's SPI/MKI, then no MKI (trial by auth tag)."""
        kd, msk_id, mtk_id = ids
        mkis = [{"msk_mtk": msk_id + mtk_id, "mtk": mtk_id}.get(self.rules.mki, b"")]
        spi = key.extra.get("spi")
        if spi:
            mkis.append(spi)
        mkis.append(b"")
        suite = SUITES[self.rules.suite]
        label = f"MTK {kd.hex()}/{msk_id.hex()}/{mtk_id.hex()}"
        return [_Candidate(label, SrtpContext(suite, (key.value or b"")[:suite.key_len],
                                              key.salt or b"", 0, mki),
                           mtk=(kd.hex(), msk_id.hex(), mtk_id.hex()), trial=not mki)
                for mki in dict.fromkeys(mkis)]

    def _matching(self, payload: bytes, rtcp: bool = False) -> list[_Candidate]:
        """Candidates whose MKI is the packet's (looked up, not tried one by one),
        then those without MKI: key-file entries and the newest MTKs on trial.
        For SRTCP the MKI sits before the SRTCP tag (RFC 3711 §3.4)."""
        if self._index_size != len(self._cands):
            self._by_mki: dict[tuple[int, int, bytes], list[_Candidate]] = {}
            self._by_rtcp_mki: dict[tuple[int, int, bytes], list[_Candidate]] = {}
            for cand in self._cands:
                mki, suite = cand.ctx.mki, cand.ctx.suite
                if mki:
                    self._by_mki.setdefault((suite.tag_len, len(mki), mki), []).append(cand)
                    self._by_rtcp_mki.setdefault((suite.rtcp_tag_len, len(mki), mki),
                                                 []).append(cand)
            self._shapes = sorted({k[:2] for k in self._by_mki})
            self._rtcp_shapes = sorted({k[:2] for k in self._by_rtcp_mki})
            self._plain = [c for c in self._cands if not c.ctx.mki and not c.trial]
            self._trials = [c for c in self._cands if c.trial][-MAX_TRIAL_KEYS:]
            self._index_size = len(self._cands)
        found: list[_Candidate] = []
        n = len(payload)
        table = self._by_rtcp_mki if rtcp else self._by_mki
        for tag_len, mki_len in (self._rtcp_shapes if rtcp else self._shapes):
            end = n - tag_len
            found.extend(table.get((tag_len, mki_len, payload[end - mki_len:end]), ()))
        self._mki_found = len(found)
        return found + self._plain + self._trials

    @property
    def key_count(self) -> int:
        """How many keys (contexts) there are to try: it grows as MTKs are learned."""
        self._refresh_mtks()
        return len(self._cands)

    def _stats(self, ssrc: int, dst: str) -> StreamStats:
        st = self.stats.get((ssrc, dst))
        if st is None:
            if len(self.stats) >= MAX_STREAMS:
                self.stats.clear()
            st = self.stats[(ssrc, dst)] = StreamStats(ssrc, dst)
        return st

    def decrypt(self, payload: bytes, dst: str, plaintext: bool = True,
                since: int = 0) -> bytes | None:
        """Plain RTP/RTCP for an SRTP/SRTCP UDP payload to *dst*, or None.

        With ``plaintext=False`` an SRTP packet is only authenticated (``last``,
        the statistics and the rollover state as usual) and ``b""`` stands for
        its plaintext: what the timeline and the packet list need. With *since*,
        only keys learned after the first *since* are tried (on a flow where
        those have all failed before).
        """
        self._refresh_mtks()
        self.last = ("", None, None)
        self.last_mki_match = False
        if not self._cands:
            return None
        if is_rtcp(payload):
            return self._rtcp(payload, dst)
        fields = rtp_fields(payload)
        if fields is None:
            return None
        ssrc, header_len = fields
        key = (ssrc, dst)
        known = key in self.stats
        cached = self._by_stream.get(key)
        tried_mki = False
        if cached is not None and cached.order >= since:
            # the key this stream's last packet opened with: the common case, tried
            # before the MKI lookup (which is needed only when it fails)
            plain, reason = self._try(cached, payload, ssrc, header_len, dst, plaintext)
            if plain is not None:
                return plain
            tried_mki = reason == "auth" and not cached.trial
        matching = self._matching(payload)
        self.last_mki_match = self._mki_found > 0
        for cand in matching:
            if cand is cached or cand.order < since:
                continue
            plain, reason = self._try(cand, payload, ssrc, header_len, dst, plaintext)
            if plain is not None:
                return plain
            if reason == "auth" and not cand.trial:
                tried_mki = True
        if known:
            st = self._stats(ssrc, dst)
            if tried_mki:
                st.auth_failures += 1
                self.last = ("auth", None, None)
            else:
                st.unknown_mki += 1
                self.last = ("unknown", None, None)
        return None

    def _try(self, cand: _Candidate, payload: bytes, ssrc: int, header_len: int, dst: str,
             plaintext: bool) -> tuple[bytes | None, str]:
        """One key on an SRTP packet: (plain RTP, or b"" without *plaintext*; or None)
        and the reason; a success is counted and remembered for the stream."""
        if (cand.ssrc is not None and cand.ssrc != ssrc) or \
                (cand.dst is not None and cand.dst != dst):
            return None, ""
        if plaintext:
            plain, reason = cand.ctx.unprotect(payload, header_len)
        else:
            reason = cand.ctx.authenticate(payload, header_len)
            plain = b"" if reason == "ok" else None
        if plain is not None:
            self._opened(cand, ssrc, dst).decrypted += 1
        return plain, reason

    def _opened(self, cand: _Candidate, ssrc: int, dst: str) -> StreamStats:
        """*cand* opened a packet of stream (*ssrc*, *dst*): remembered for the stream,
        and the stream's counters (for the caller to count the packet)."""
        st = self._stats(ssrc, dst)
        st.keys.add(cand.label)
        self._by_stream[(ssrc, dst)] = cand
        self.last = ("ok", cand.label, cand.mtk)
        return st

    def _rtcp(self, payload: bytes, dst: str) -> bytes | None:
        ssrc = int.from_bytes(payload[4:8], "big")
        cached = self._by_stream.get((ssrc, dst))
        order = ([cached] if cached is not None else []) + \
            [c for c in self._matching(payload, rtcp=True) if c is not cached]
        for cand in order:
            if cand.ssrc is not None and cand.ssrc != ssrc:
                continue
            if cand.dst is not None and cand.dst != dst:
                continue
            plain, _ = cand.ctx.unprotect_rtcp(payload)
            if plain is not None:
                self._opened(cand, ssrc, dst).rtcp_decrypted += 1
                return plain
        return None


@dataclass
class DecryptResult:
    """What :func:`decrypt_captures` did."""

    streams: list[StreamStats]
    replaced: int
    total: int
    errors: list[str]


def decrypt_captures(paths: list[str], store: KeyStore, output: str) -> DecryptResult:
    """Write *paths* to one pcap with every SRTP/SRTCP packet that decrypts and
    authenticates replaced by plain RTP/RTCP (keys learned from MIKEY in order).

    Raises OSError when *output* cannot be written and ValueError for captures
    of different link types; capture damage is returned in ``errors``.
    """
    from dissectors.mikey import parse

    from .decode import decode_transport, replace_udp_payload
    from .dissect import classify
    from .mikey_keys import KeyHierarchy
    from .reading import CaptureError, read_capture
    from .result import endpoint
    from .writer import PcapWriter

    hierarchy = KeyHierarchy(store)
    decryptor = SrtpDecryptor(store)
    replaced = total = 0
    errors: list[str] = []
    with PcapWriter(output) as writer:
        for index, path in enumerate(paths):
            try:
                for record in read_capture(path):
                    total += 1
                    data = None
                    cand = classify(record, index)
                    if cand is not None:
                        for _carrier, raw, issue in cand.found:
                            if issue is None:
                                hierarchy.process(parse(raw), raw, f"mikey:{index}:{record.number}")
                    else:
                        tp = decode_transport(record.linktype, record.data)
                        if tp is not None and tp.proto == "udp" and tp.payload:
                            plain = decryptor.decrypt(tp.payload, endpoint(tp.dst, tp.dport))
                            if plain is not None:
                                data = replace_udp_payload(record.data, tp, plain)
                                replaced += 1
                    writer.write(record, data)
            except CaptureError as exc:
                errors.append(str(exc))
    return DecryptResult(list(decryptor.stats.values()), replaced, total, errors)
