"""SRTP/SRTCP decryption of captures with known and learned keys (what ``decrypt`` writes and the views show).

Keys come from ``[[srtp]]`` tables (filtered by SSRC and destination, selected
by MKI when one is given), from ``[[mtk]]`` tables, and from MTKs learned from
MIKEY messages earlier in the capture (:class:`~analyzer.keys.hierarchy.KeyHierarchy`).
An MTK becomes an SRTP master key with the MTK's salt (digest §4.7); it is
selected by MKI, ``MSK ID || MTK ID`` by default (:class:`SrtpRules`, [U]), or
by trial (the auth tag decides) when the MKI layout differs.

A packet is replaced only when it authenticates. Per stream (SSRC) the
decryptor counts packets decrypted, authentication failures and packets whose
MKI names no known key.

The rollover counter belongs to the stream (SSRC and destination), not to a
master key (RFC 3711 §3.2.1, §3.3.1): when the MKI switches to the next MTK -
or the next ``[[srtp]]`` key - the stream's ROC and highest sequence number
carry over, as in libsrtp. A fresh stream starts at the ROC the MTK message's
SRTP-ID CS map gives for its SSRC (RFC 3830 §6.1.1), else the key's configured
``roc``. When the first packets under a new key still fail, the ROC is re-tried
(the CS map's, ROC - 1, ROC + 1, the configured one: bounded) before the
packet counts as an authentication failure, and the statistics say which held.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from analyzer.crypto.srtp import SUITES, SrtpContext, StreamState
from analyzer.keys.store import Key, KeyStore
from dissectors.srtp import is_rtcp, rtp_fields

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
    #: RFC 4771 streams: packets before the first RCC packet told the ROC
    waiting_roc: int = 0
    keys: set[str] = field(default_factory=set)
    #: ROC re-synchronisations, by what held (``cs_map``, ``roc-1``, ``roc+1``, ``configured``)
    roc_resync: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        keys = ", ".join(sorted(self.keys)) or "none"
        resync = "".join(f", ROC re-synchronised by {why} x{n}"
                         for why, n in sorted(self.roc_resync.items()))
        return (f"SSRC 0x{self.ssrc:08x} -> {self.dst}: {self.decrypted} SRTP and "
                f"{self.rtcp_decrypted} SRTCP packets decrypted, {self.auth_failures} "
                f"authentication failures, {self.unknown_mki} with unknown MKI (keys: {keys})"
                + resync + (f", {self.waiting_roc} before the first ROC-carrying (RCC) packet"
                            if self.waiting_roc else ""))


@dataclass
class _Candidate:
    label: str
    ctx: SrtpContext
    ssrc: int | None = None
    dst: str | None = None
    mtk: tuple[str, str, str] | None = None
    trial: bool = False  # an MTK tried without MKI: its failure says nothing of the MKI
    order: int = 0  # place in the decryptor's list: keys learned later come later
    #: SSRC -> ROC of the MTK message's SRTP-ID CS map (RFC 3830 §6.1.1)
    srtp_ids: dict[int, int] = field(default_factory=dict)


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
        #: the MTKs taken up, in order (their contexts are tried in this order)
        self.taken: list[tuple[bytes, bytes, bytes]] = []
        self._by_stream: dict[tuple[int, str], _Candidate] = {}
        #: the rollover state of each stream (SSRC, destination), whatever key opens it
        self._state: dict[tuple[int, str], StreamState] = {}
        #: what held when the last packet's ROC was re-synchronised ("" when it was not)
        self.last_resync = ""
        #: the ROC of the last SRTP packet that authenticated
        self.last_roc: int | None = None
        #: how that packet was framed: (tag length, MKI length, RFC 4771 mode or 0, the
        #: ROC its RCC tag carried or None)
        self.last_framing: tuple[int, int, int, int | None] | None = None
        self._index_size = 0
        self._mki_found = 0
        self._by_mki: dict[tuple[int, int, bytes], list[_Candidate]] = {}
        self._by_rtcp_mki: dict[tuple[int, int, bytes], list[_Candidate]] = {}
        self._shapes: list[tuple[int, int]] = []
        self._rtcp_shapes: list[tuple[int, int]] = []
        self._plain: list[_Candidate] = []
        self._trials: list[_Candidate] = []
        #: store MTKs looked at so far, and those not ready then (looked at again)
        self._store_seen = 0
        self._unready: list[tuple[bytes, bytes, bytes]] = []
        for n, key in enumerate(store.srtp):
            ex = key.extra
            ctx = SrtpContext(SUITES[ex["suite"]], key.value or b"", key.salt or b"",
                              ex.get("kdr", 0), ex.get("mki", b""), ex.get("roc", 0))
            self._cands.append(_Candidate(f"srtp#{n + 1}", ctx, ex.get("ssrc"), ex.get("dst"),
                                          order=len(self._cands)))

    def _refresh_mtks(self) -> None:
        """Take up the MTKs of the store that are ready, in the store's order (those
        added since the last call, and those that were not ready then)."""
        mtks = self.store.mtks
        if len(mtks) == self._store_seen and not self._unready:
            return
        # (the store only adds MTKs: the new ones are the last, read from the end)
        fresh = list(itertools.islice(reversed(mtks), len(mtks) - self._store_seen))[::-1] \
            if len(mtks) > self._store_seen else []
        self._store_seen = len(mtks)
        waiting = self._unready + fresh
        self._unready = []
        for ids in waiting:
            key = mtks.get(ids)
            if key is None or ids in self._mtk_seen:
                continue
            if not key.ready:
                self._unready.append(ids)
                continue
            self._mtk_seen.add(ids)
            self.taken.append(ids)
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
        # the SRTP policy of the MSK message's SP (TS 33.246 §6.6.2.1: RFC 4771 RCC)
        msk = self.store.msks.get((kd, msk_id))
        policy = msk.extra.get("srtp_policy") if msk is not None else None
        if policy is None or not policy.rcc:
            mkis.append(b"")  # (no trial without MKI for RCC: packets without a MAC)
        suite = policy.suite() if policy is not None else SUITES[self.rules.suite]
        label = f"MTK {kd.hex()}/{msk_id.hex()}/{mtk_id.hex()}"
        srtp_ids = dict(key.extra.get("srtp_ids") or {})
        return [_Candidate(label, SrtpContext(suite, (key.value or b"")[:suite.key_len],
                                              key.salt or b"", 0, mki,
                                              rcc=policy.rcc if policy is not None else 0,
                                              rcc_r=policy.r if policy is not None else 1),
                           mtk=(kd.hex(), msk_id.hex(), mtk_id.hex()), trial=not mki,
                           srtp_ids=srtp_ids)
                for mki in dict.fromkeys(mkis)]

    def _matching(self, payload: bytes, rtcp: bool = False) -> list[_Candidate]:
        """Candidates whose MKI is the packet's (looked up, not tried one by one),
        then those without MKI: key-file entries and the newest MTKs on trial.
        For SRTCP the MKI sits before the SRTCP tag (RFC 3711 §3.4)."""
        if self._index_size != len(self._cands):  # index the keys taken up since
            new = self._cands[self._index_size:]
            for cand in new:
                mki, suite = cand.ctx.mki, cand.ctx.suite
                if mki:
                    # RFC 4771: the tag length follows the packet (ROC || MAC, plain, none)
                    for tag_len in ({0, 4, suite.tag_len} if cand.ctx.rcc else {suite.tag_len}):
                        self._by_mki.setdefault((tag_len, len(mki), mki), []).append(cand)
                        if (tag_len, len(mki)) not in self._shapes:
                            self._shapes = sorted(self._shapes + [(tag_len, len(mki))])
                    self._by_rtcp_mki.setdefault((suite.rtcp_tag_len, len(mki), mki),
                                                 []).append(cand)
                    if (suite.rtcp_tag_len, len(mki)) not in self._rtcp_shapes:
                        self._rtcp_shapes = sorted(self._rtcp_shapes
                                                   + [(suite.rtcp_tag_len, len(mki))])
            self._plain = self._plain + [c for c in new if not c.ctx.mki and not c.trial]
            self._trials = (self._trials + [c for c in new if c.trial])[-MAX_TRIAL_KEYS:]
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

    @property
    def count(self) -> int:
        """How many keys were taken up as of the last :meth:`decrypt` (what
        :attr:`key_count` says, without looking at the store again)."""
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
        self.last_resync = ""
        self.last_roc = None
        self.last_framing = None
        if not self._cands:
            return None
        if is_rtcp(payload):
            return self._rtcp(payload, dst, since)
        fields = rtp_fields(payload)
        if fields is None:
            return None
        ssrc, header_len = fields
        key = (ssrc, dst)
        known = key in self.stats
        cached = self._by_stream.get(key)
        tried_mki = waiting = False
        if cached is not None and cached.order >= since:
            # the key this stream's last packet opened with: the common case, tried
            # before the MKI lookup (which is needed only when it fails)
            plain, reason = self._try(cached, payload, ssrc, header_len, dst, plaintext)
            if plain is not None:
                return plain
            tried_mki = reason == "auth" and not cached.trial
            waiting = reason == "roc"
        matching = self._matching(payload)
        self.last_mki_match = self._mki_found > 0
        fresh = key not in self._state
        for cand in matching:
            if cand is cached or cand.order < since:
                continue
            if cand.trial and fresh and not cand.ctx.rcc and cand.ssrc is None \
                    and cand.dst is None and not cand.ctx.tag_matches(
                        payload, header_len, cand.srtp_ids.get(ssrc, cand.ctx.roc)):
                continue  # (what _try would find, without its bookkeeping: most tries fail)
            plain, reason = self._try(cand, payload, ssrc, header_len, dst, plaintext)
            if plain is not None:
                return plain
            if reason == "auth" and not cand.trial:
                tried_mki = True
            waiting = waiting or reason == "roc"
        if waiting and not tried_mki:  # RFC 4771: its ROC comes with the next RCC packet
            self._stats(ssrc, dst).waiting_roc += 1
            self.last = ("roc", None, None)
        elif known:
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
        stream = (ssrc, dst)
        state = self._state.get(stream)
        fresh = state is None
        if state is None:  # (kept only once a packet of it authenticates)
            state = StreamState(cand.srtp_ids.get(ssrc, cand.ctx.roc))
        plain, reason = self._run(cand, payload, header_len, state, None, plaintext)
        held = ""
        if plain is None and reason == "auth" and not cand.trial \
                and (fresh or self._by_stream.get(stream) is not cand):
            # the first packets under a new key (or of a new stream) fail: re-try the ROC
            for roc, why in self._rocs(state, cand, ssrc):
                plain, reason = self._run(cand, payload, header_len, state, roc, plaintext)
                if plain is not None:
                    held = why
                    break
        if plain is not None:
            if fresh:
                if len(self._state) >= MAX_STREAMS:
                    self._state.clear()
                self._state[stream] = state
            st = self._opened(cand, ssrc, dst)
            st.decrypted += 1
            ctx = cand.ctx
            self.last_roc = ctx.last_roc
            self.last_framing = (ctx.last_tag_len, len(ctx.mki), ctx.rcc, ctx.last_rcc_roc)
            if held:
                st.roc_resync[held] = st.roc_resync.get(held, 0) + 1
                self.last_resync = held
        return plain, reason

    @staticmethod
    def _run(cand: _Candidate, payload: bytes, header_len: int, state: StreamState,
             roc: int | None, plaintext: bool) -> tuple[bytes | None, str]:
        if plaintext:
            return cand.ctx.unprotect(payload, header_len, state, roc)
        reason = cand.ctx.authenticate(payload, header_len, state, roc)
        return (b"" if reason == "ok" else None), reason

    @staticmethod
    def _rocs(state: StreamState, cand: _Candidate, ssrc: int) -> list[tuple[int, str]]:
        """The ROCs a receiver re-tries under a new key, in order (at most four)."""
        base = state.roc
        tries = [(cand.srtp_ids[ssrc], "cs_map")] if ssrc in cand.srtp_ids else []
        tries += [(base - 1, "roc-1"), (base + 1, "roc+1"), (cand.ctx.roc, "configured")]
        out: list[tuple[int, str]] = []
        seen = {base} if state.s_l is None else set()
        for roc, why in tries:
            if 0 <= roc <= 0xFFFFFFFF and roc not in seen:
                seen.add(roc)
                out.append((roc, why))
        return out

    def _opened(self, cand: _Candidate, ssrc: int, dst: str) -> StreamStats:
        """*cand* opened a packet of stream (*ssrc*, *dst*): remembered for the stream,
        and the stream's counters (for the caller to count the packet)."""
        st = self._stats(ssrc, dst)
        st.keys.add(cand.label)
        self._by_stream[(ssrc, dst)] = cand
        self.last = ("ok", cand.label, cand.mtk)
        return st

    def _rtcp(self, payload: bytes, dst: str, since: int = 0) -> bytes | None:
        """An SRTCP packet: its stream's key first, then those its MKI names and those
        without MKI; on a flow written off, only the keys learned since (as for SRTP)."""
        ssrc = int.from_bytes(payload[4:8], "big")
        cached = self._by_stream.get((ssrc, dst))
        order = ([cached] if cached is not None and cached.order >= since else []) + \
            [c for c in self._matching(payload, rtcp=True)
             if c is not cached and c.order >= since]
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
