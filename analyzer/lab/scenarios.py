"""The lab scenarios: each one a recognisable story from the seed (TS 33.246 §6.3).

=================  ================================================================
``basic``          registration, UE-initiated MSK request with digest challenge, MSK
                   delivery (V=1) and ack, MTK updates on the group, SRTP under the MTK
``push``           ``basic``, then a BM-SC MSK push with acks; one UE never acks
``solicited-pull`` ``basic``, then key IDs 0 solicit every UE; UEs ask after a random
                   delay; one is re-challenged with ``stale=true``
``missed-update``  ``basic``, then an MSK push one UE misses (out of coverage); it asks
                   for the key later (missed key update)
``reject``         one UE's MSK request is refused; it holds no MSK and deregisters
``attacks``        ``basic`` with a replayed MTK message, a forged MAC, SRTP under an
                   unknown MKI, a truncated MIKEY message and garbage on the MIKEY port
``storm``          thousands of UEs answer one solicitation at once (no spreading)
``mixed``          ``basic`` inside heavy unrelated traffic (DNS, web, plain RTP)
``download``       a FLUTE download session of DCF files under two MTKs; one file
                   loses a packet (:mod:`analyzer.lab.download`)
``interop``        what BM-SCs and UEs of other vendors do: one MSK pushed to every UE
                   with one CSB ID and the acks back in random order (some with IDr,
                   some without); MTK messages sent ahead of the switch, one sent again
                   unchanged, one first damaged then re-sent intact; two SRTP streams, one wrapping inside an
                   MTK (with a reordered pair across the wrap), one wrapping exactly at
                   an MTK change; a solicited pull refused with a message-level 403
=================  ================================================================

The XML bodies use the element names we recall of TS 33.246/TS 26.346
(``dissectors/bmsc.py`` explains why they are unconfirmed).
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.flows.reconstructor import STORM_THRESHOLD
from analyzer.lab.download import download
from analyzer.lab.frames import tcp_frame, udp_frame
from analyzer.lab.procedures import (
    deliver_msk,
    deregistration,
    join_all,
    msk_request,
    solicit,
)
from analyzer.lab.world import (
    EPOCH,
    HTTP_PORT,
    MIKEY_PORT,
    Msk,
    RtpStream,
    World,
)


@dataclass(frozen=True)
class Options:
    """Scenario options (the ``lab`` command's flags)."""

    ues: int = 3
    duration: float = 10.0
    mtk_period: float = 2.0
    msk_period: float = 0.0
    loss: float = 0.0
    rate: float = 50.0
    #: RFC 4771 (TS 33.246 §6.6.2.1): mode 1..3 (RCCm1..RCCm3; 0 none) and the rate R
    rcc: int = 0
    rcc_r: int = 1
    #: ``spec`` (TS 33.246 as written) or ``legacy`` (this lab's first conventions)
    conventions: str = "spec"


class Stream:
    """MTK updates on the group and the SRTP stream they protect, over a time span."""

    def __init__(self, w: World, opts: Options) -> None:
        self.w, self.opts = w, opts
        self.mtk_id = 0
        self.mki = b""
        self.msk: Msk | None = None

    def new_mtk(self, t: float, msk: Msk) -> None:
        self.msk = msk
        self.mtk_id += 1
        self.w.multicast_mikey(t, self.w.mtk_message(msk, self.mtk_id),
                               f"mtk {msk.msk_id.hex()}/{self.mtk_id}")
        self.w.expect("mtk_update", None, "success")
        self.mki = msk.msk_id + self.mtk_id.to_bytes(2, "big")

    def run(self, t0: float, t1: float, msk: Msk, hooks: dict[float, object] | None = None) -> None:
        """MTKs every ``mtk_period`` from *t0*, SRTP packets at ``rate`` until *t1*."""
        hooks = dict(hooks or {})
        next_mtk = t0
        step = 1.0 / self.opts.rate if self.opts.rate > 0 else t1 - t0 + 1
        t = t0
        while t < t1:
            for when in sorted(k for k in hooks if k <= t):
                result = hooks.pop(when)(when)
                if isinstance(result, Msk):
                    msk = result
                    next_mtk = t  # a new MSK: a new MTK under it right away
            if t >= next_mtk:
                self.new_mtk(t, msk)
                next_mtk = t + self.opts.mtk_period
            if self.w.rng.random() >= self.opts.loss:
                self.w.srtp_packet(t + 0.005, self.mki)
            t += step


# ---------------------------------------------------------------- scenarios

def basic(w: World, opts: Options) -> None:
    msk = w.new_msk()
    t = join_all(w, EPOCH, msk)
    hooks = {}
    if opts.msk_period > 0:
        k = 1
        while opts.msk_period * k < opts.duration:
            hooks[t + opts.msk_period * k] = lambda when: _push_all(w, when)
            k += 1
    Stream(w, opts).run(t, t + opts.duration, msk, hooks)


def _push_all(w: World, t: float, no_ack: set[int] = frozenset(),
              missed: set[int] = frozenset()) -> Msk:
    msk = w.new_msk()
    for ue in w.ues:
        t = deliver_msk(w, ue, t, msk, ack=ue.index not in no_ack and ue.index not in missed,
                        received=ue.index not in missed)
    return msk


def push(w: World, opts: Options) -> None:
    msk = w.new_msk()
    t = join_all(w, EPOCH, msk)
    last = w.ues[-1].index
    Stream(w, opts).run(t, t + opts.duration, msk,
                        {t + opts.duration / 2: lambda when: _push_all(w, when, no_ack={last})})


def solicited_pull(w: World, opts: Options, window: float = 5.0) -> None:
    msk = w.new_msk()
    t = join_all(w, EPOCH, msk)
    mid = t + opts.duration / 3

    def pull(when: float) -> Msk:
        new = w.new_msk()
        for ue in w.ues:
            solicit(w, ue, when)
        for ue in w.ues:  # each UE asks after its own delay (request spreading)
            delay = w.rng.uniform(0.1, window)
            msk_request(w, ue, when + delay, new, stale=(ue.index == min(1, len(w.ues) - 1)))
        return new

    stream = Stream(w, opts)
    stream.run(t, mid + window + 0.5, msk, {mid: lambda when: pull(when) and None})
    stream.run(mid + window + 0.5, t + opts.duration, w.msks[-1])


def missed_update(w: World, opts: Options) -> None:
    msk = w.new_msk()
    t = join_all(w, EPOCH, msk)
    late = w.ues[-1]
    mid = t + opts.duration / 3

    def back_in_coverage(when: float) -> None:
        msk_request(w, late, when, w.msks[-1])

    Stream(w, opts).run(t, t + opts.duration, msk, {
        mid: lambda when: _push_all(w, when, missed={late.index}),
        mid + 3.0: back_in_coverage})


def reject(w: World, opts: Options) -> None:
    msk = w.new_msk()
    refused = w.ues[-1]
    t = join_all(w, EPOCH, msk, reject={refused.index})
    t = deregistration(w, refused, t)  # no MSK, no still-valid older one: it leaves
    Stream(w, opts).run(t + 0.2, t + 0.2 + opts.duration, msk)


def attacks(w: World, opts: Options) -> None:
    msk = w.new_msk()
    t = join_all(w, EPOCH, msk)
    stream = Stream(w, opts)
    end = t + opts.duration

    def replay(when: float) -> None:
        # the first MTK message again once a newer one was sent (the latest one sent
        # again unchanged would be a legitimate re-send, TS 33.246 §6.4.3 NOTE)
        old = next(f for f in w.frames if f.note.startswith("mtk "))
        w.emit(max(when, t + opts.mtk_period + 0.1), old.data, "attack: replayed mtk message")
        w.expect("mtk_update", None, "failed", "mikey.replay")

    def forge(when: float) -> None:
        raw = bytearray(w.mtk_message(msk, 999))
        raw[-1] ^= 0x5A  # a forged MAC
        msk.mtks.pop()  # (no key a receiver takes: not in the truth's MTKs)
        w.multicast_mikey(when, bytes(raw), "attack: forged mac")
        w.expect("mtk_update", None, "failed", "mikey.mac_bad")

    def unknown_mki(when: float) -> None:
        for n in range(3):
            w.srtp_packet(when + n * 0.001, msk.msk_id + b"\xff\xfe", "attack: unknown mki")
        w.expected_findings.add("srtp.unknown_mki")

    def truncated(when: float) -> None:
        ue = w.ues[0]
        w.send_mikey_to_ue(when, ue, w.msk_message(ue, msk)[:37], "attack: truncated mikey")
        w.expected_findings.add("mikey.malformed")

    def garbage(when: float) -> None:
        w.emit(when, udp_frame("10.66.6.6", 31337, w.bmsc_ip, MIKEY_PORT, w.rng.randbytes(93),
                               w.next_ident()), "attack: garbage on the mikey port")
        w.garbage = True

    span = opts.duration
    stream.run(t, end, msk, {t + span * 0.3: replay, t + span * 0.4: forge,
                             t + span * 0.5: unknown_mki, t + span * 0.6: truncated,
                             t + span * 0.7: garbage})


def interop(w: World, opts: Options) -> None:
    """What equipment of other vendors does (issue #11): see the module table."""
    msk = w.new_msk()
    late = w.ues[-1]
    t = join_all(w, EPOCH, msk, skip={late.index})
    rate = opts.rate if opts.rate > 0 else 50.0
    step, per_mtk = 1.0 / rate, max(4, round(opts.mtk_period * rate))
    # stream A wraps in the middle of its first MTK, B exactly where the second begins
    a = RtpStream(w.rng.getrandbits(32), 65536 - per_mtk // 2, 5004)
    b = RtpStream(w.rng.getrandbits(32), 65536 - per_mtk, 5006)
    mtk_id, mki, cur = 0, b"", msk
    ahead = min(0.25, opts.mtk_period / 4)  # MTK messages go out before the switch

    def announce(at: float, under: Msk, damaged_first: bool = False,
                 resend: bool = False) -> bytes:
        nonlocal mtk_id
        mtk_id += 1
        raw = w.mtk_message(under, mtk_id)
        note = f"mtk {under.msk_id.hex()}/{mtk_id}"
        if damaged_first:  # cut short on the way; the BM-SC's periodic re-send is intact
            w.multicast_mikey(at - ahead, raw[:-7], note + " (damaged)")
            w.expect("mtk_update", None, "failed", "mikey.malformed")
            w.multicast_mikey(at - ahead + 0.05, raw, note + " (re-sent)")
        else:
            w.multicast_mikey(at - ahead, raw, note)
        w.expect("mtk_update", None, "success")
        if resend:  # sent again unchanged for reliability (TS 33.246 §6.3.3.2.2)
            w.multicast_mikey(at + 0.5, raw, note + " (periodic re-send)")
            w.expect("mtk_update", None, "success")
        return under.msk_id + mtk_id.to_bytes(2, "big")

    def push(at: float) -> Msk:
        """One MSK to every UE with one CSB ID; the acks come back after all pushes, in
        random order, every other one with its IDr."""
        new = w.new_msk()
        csb = int.from_bytes(new.msk_id, "big")
        acks = []
        for n, ue in enumerate(u for u in w.ues if u is not late):
            w.send_mikey_to_ue(at + n * 0.013, ue, w.msk_message(ue, new, v=1, csb=csb),
                               f"push {new.msk_id.hex()} ue{ue.index}")
            ue.msks.add(new.msk_id)
            acks.append((ue, w.ack_for_last(with_idr=n % 2 == 0)))
            w.expect("msk_push", ue, "success")
        w.rng.shuffle(acks)
        for n, (ue, raw) in enumerate(acks):
            w.send_mikey_from_ue(at + 0.1 + n * 0.011, ue, raw, f"ack ue{ue.index}")
        return new

    end = t + opts.duration
    switch, changes, now, pushed = t, 0, t, None
    while now < end:
        if now >= switch:
            changes += 1
            if changes == 3:
                pushed = push(now - 1.0)
                cur = pushed
            mki = announce(now, cur, damaged_first=changes == 4, resend=changes == 2)
            switch = now + per_mtk * step
        for stream in (a, b):
            if stream is a and a.index == 65535:  # a reordered pair across the wrap
                w.emit(now + 0.005, w.srtp_wire(mki, a.ssrc, 65536, a.port), "srtp a (early)")
                w.emit(now + 0.006, w.srtp_wire(mki, a.ssrc, 65535, a.port), "srtp a (late)")
                a.index = 65537
            else:
                w.srtp_packet(now + 0.005 + (0.002 if stream is b else 0.0), mki,
                              f"srtp {'ab'[stream is b]}", stream)
        now += step
    # an MTK ID above the MSK's window (SEQu fffe): a conformant ME refuses it
    w.multicast_mikey(end, w.mtk_message(cur, 0xFFFF), "mtk ffff (outside the KV window)")
    w.expect("mtk_update", None, "success", "mikey.mtk_window")
    # the UE that never joined is solicited (key IDs 0) and refused for the whole message
    solicit(w, late, end + 0.1)
    msk_request(w, late, end + 0.6, pushed or msk, reject="message")


def storm(w: World, opts: Options) -> None:
    """Every UE already holds MSK 1; one solicitation to all at once, all ask within a second."""
    old = w.new_msk()
    for ue in w.ues:
        ue.msks.add(old.msk_id)
    new = w.new_msk()
    t = EPOCH
    for ue in w.ues:
        solicit(w, ue, t + ue.index * 1e-5)
    for ue in w.ues:
        msk_request(w, ue, t + 0.2 + w.rng.uniform(0.0, 1.0), new)
    if len(w.ues) >= STORM_THRESHOLD:  # all ask within a second: the analyzer's storm rule
        w.expected_findings.add("bmsc.request_storm")


def mixed(w: World, opts: Options) -> None:
    basic(w, opts)
    first, last = w.frames[0].time, max(f.time for f in w.frames)
    hosts = [f"192.168.{n // 200}.{n % 200 + 20}" for n in range(40)]
    count = 20 * len(w.frames)
    for n in range(count):
        t = first + (last - first) * w.rng.random()
        a, b = w.rng.sample(hosts, 2)
        kind = n % 10
        if kind < 3:  # DNS queries (RFC 1035: a question for an A or AAAA record)
            name = b"".join(bytes([len(label)]) + label for label in (
                w.rng.choice([b"www", b"cdn", b"api", b"mail", b"time"]),
                w.rng.choice([b"example", b"operator", b"video"]), b"net")) + b"\0"
            query = (w.rng.randbytes(2) + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + name
                     + w.rng.choice([b"\x00\x01", b"\x00\x1c"]) + b"\x00\x01")
            w.emit(t, udp_frame(a, 30000 + n % 20000, b, 53, query, w.next_ident()), "noise dns")
        elif kind < 6:  # UDP of no known protocol (it must not be taken for MIKEY)
            w.emit(t, udp_frame(a, 30000 + n % 20000, b, 40000 + n % 1000,
                                w.rng.randbytes(w.rng.randint(30, 90)), w.next_ident()),
                   "noise udp")
        elif kind < 9:  # plain RTP on another port
            rtp = bytes([0x80, 8]) + (n & 0xFFFF).to_bytes(2, "big") + w.rng.randbytes(168)
            w.emit(t, udp_frame(a, 6000, b, 6000, rtp, w.next_ident()), "noise rtp")
        else:  # web traffic that is not MBMS
            page = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 12\r\n\r\n<html></html>"
            w.emit(t, tcp_frame(b, HTTP_PORT, a, 50000 + n % 10000, 1, 1, 0x18, page[:-1],
                                w.next_ident()), "noise web")


SCENARIOS = {
    "basic": basic,
    "push": push,
    "solicited-pull": solicited_pull,
    "missed-update": missed_update,
    "reject": reject,
    "attacks": attacks,
    "storm": storm,
    "mixed": mixed,
    "download": download,
    "interop": interop,
}

#: The default number of UEs per scenario.
DEFAULT_UES = {"storm": 1000, "interop": 4}


def run(name: str, seed: int = 1, opts: Options = Options()) -> World:
    """Simulate scenario *name*; the world holds the frames and the ground truth."""
    world = World(seed, opts.ues, rcc=opts.rcc, rcc_r=opts.rcc_r, conventions=opts.conventions)
    SCENARIOS[name](world, opts)
    return world
