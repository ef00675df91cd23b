"""The sans-IO flow reconstructor (DESIGN.md procedure table, TS 33.246 §6.3).

Observations go in (:meth:`Reconstructor.feed`), in capture order; the return
value lists what changed (``("key", record)``, ``("procedure", proc)``,
``("finding", finding)``), so a UI can update incrementally. :meth:`finish`
closes what the capture leaves open (``incomplete``, missing acks, request
storms). Memory grows with keys, UEs and procedures, never with packets.

Procedure rules (how timelines from different tools compare, DESIGN.md):

* ``registration`` / ``deregistration``: one per UE request exchange, its
  digest challenge and retry included; outcome from the final status.
* ``msk_request``: from the UE's first MSK-request POST (challenge and retry
  included) to the MIKEY MSK message that answers it and the UE's ack when V=1;
  ``rejected`` on an HTTP error or a per-key status other than 200.
* ``solicited_pull``: from the BM-SC's key-IDs-0 message to that UE's resulting
  MSK delivery; its HTTP request belongs to it (not also an ``msk_request``).
* ``msk_push``: one per unsolicited MSK message; ``success`` at the ack, or at
  delivery when no ack was asked; ``incomplete`` when the ack never came.
* ``mtk_update``: one per MTK message, ``ue`` null; ``failed`` when a receiver
  holding the MSK would reject it (bad MAC, counter not increasing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analyzer.capture.where import Where
from analyzer.flows import findings as F
from analyzer.flows.findings import FindingKind
from analyzer.flows.model import (
    Finding,
    KeyEvent,
    KeyRecord,
    KeyState,
    Procedure,
    UERecord,
    next_state,
)
from analyzer.flows.observe import DownloadObs, HttpObs, IssueObs, MikeyObs, SrtpObs
from analyzer.vocab import (
    DownloadResult,
    Event,
    KeyKind,
    MacStatus,
    Outcome,
    ProcedureName,
    ProcState,
    Severity,
)

ACK_TIMEOUT = 5.0          # seconds a V=1 message waits for its verification
STORM_WINDOW = 2.0         # requests this soon after a solicitation burst ...
STORM_THRESHOLD = 20       # ... this many of them make a request storm
SOLICITATION_BURST = 1.0   # solicitations this close together are one burst
MAX_FINDINGS_PER_STREAM = 1
STALE_GRACE = 5.0          # seconds SRTP may stay on an MSK after its successor's first MTK


@dataclass
class Reconstructor:
    """Key lifecycles, procedures and findings from observations."""

    keys: dict[tuple, KeyRecord] = field(default_factory=dict)
    ues: dict[str, UERecord] = field(default_factory=dict)
    procedures: list[Procedure] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: FLUTE objects that ended, in the order they did (timeline ``downloads``)
    downloads: list[dict[str, Any]] = field(default_factory=list)
    with_keys: bool = False
    _open: dict[tuple[str, str], Procedure] = field(default_factory=dict)
    #: V=1 messages waiting for their verification, per CSB ID: one MSK pushed to many
    #: UEs shares one CSB ID, so each UE's message waits on its own
    _acks: dict[int, list["_Pending"]] = field(default_factory=dict)
    #: at most the earliest time of a message in :attr:`_acks` (none can have timed out
    #: before ACK_TIMEOUT after it: most observations need no look at them)
    _acks_since: float = float("inf")
    _solicited: dict[str, Procedure] = field(default_factory=dict)
    _bursts: list[dict[str, Any]] = field(default_factory=list)
    _reported: set[tuple] = field(default_factory=set)
    #: MTKs a conformant ME would refuse by the MTK ID window (learned all the same)
    _window_refused: set[str] = field(default_factory=set)
    #: the MSK (kd, msk_id) under which each SRTP stream was last protected
    _stream_msk: dict[tuple, tuple[str, str]] = field(default_factory=dict)
    _changes: list[tuple[str, Any]] = field(default_factory=list)
    #: indexes over :attr:`keys` (in its order): every MSK record, and per MSK the
    #: MTK records delivered or active (what a new MTK supersedes), by place in keys
    _msk_records: list[KeyRecord] = field(default_factory=list)
    _live_mtks: dict[tuple, dict[int, KeyRecord]] = field(default_factory=dict)
    _place: dict[int, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ helpers

    def add_known_key(self, kind: str, **ident: Any) -> KeyRecord:
        """A key given in the key file (state ``known``)."""
        rec = self._key(kind, **ident)
        return rec

    def _key(self, kind: str, **ident: Any) -> KeyRecord:
        ident = {k: v for k, v in ident.items() if k != "value"}
        key = (kind, ident.get("key_domain"), ident.get("msk_id"), ident.get("mtk_id"),
               ident.get("idr"), ident.get("idi") if kind == "MUK" else None)
        rec = self.keys.get(key)
        if rec is None:
            rec = self.keys[key] = KeyRecord(kind, **ident)
            self._place[id(rec)] = len(self._place)
            if rec.kind == KeyKind.MSK:
                self._msk_records.append(rec)
        return rec

    def _event(self, rec: KeyRecord, at: Where, event: Event, ue: str | None = None,
               **detail: Any) -> None:
        state, ok = next_state(rec.state, event)
        if not ok:
            self._finding(F.FlowUnexpected, at,
                          f"{rec.kind} {_label(rec)}: {event} while {rec.state.value}")
            return
        rec.state = state
        if rec.kind == KeyKind.MTK:
            live = self._live_mtks.setdefault((rec.key_domain, rec.msk_id), {})
            if state in (KeyState.DELIVERED, KeyState.ACTIVE):
                live[self._place[id(rec)]] = rec
            else:
                live.pop(self._place[id(rec)], None)
        ev = KeyEvent(at.time, at.capture, at.frame, event, ue, dict(detail))
        if event == "first_use":
            rec.first_use = ev
        rec.events.append(ev)
        self._changes.append(("key", rec))

    def _finding(self, kind: type[FindingKind], at: Where, message: str) -> None:
        self._raise(kind.code, kind.severity, at, message)

    def _raise(self, code: str, severity: str, at: Where, message: str) -> None:
        """A finding by code (a dissector's issue passed on keeps its own code)."""
        finding = Finding(code, Severity(severity), at.time, at.capture, at.frame, message)
        self.findings.append(finding)
        self._changes.append(("finding", finding))

    def _ue(self, ip: str) -> UERecord:
        rec = self.ues.get(ip)
        if rec is None:
            rec = self.ues[ip] = UERecord(ip)
        return rec

    def _proc(self, kind: str, ue: str | None, at: Where) -> Procedure:
        proc = Procedure(kind, ue, at.time, at.time, frames=[(at.capture, at.frame)])
        self.procedures.append(proc)
        self._changes.append(("procedure", proc))
        return proc

    # ------------------------------------------------------------------ input

    def feed(self, obs: Any) -> list[tuple[str, Any]]:
        """Apply one observation; return what changed."""
        self._changes = []
        at: Where = obs.at
        self._expire_acks(at)
        if isinstance(obs, HttpObs):
            self._http(obs)
        elif isinstance(obs, MikeyObs):
            self._mikey(obs)
        elif isinstance(obs, SrtpObs):
            self._srtp(obs)
        elif isinstance(obs, DownloadObs):
            self._download(obs)
        elif isinstance(obs, IssueObs) and obs.code.startswith(("alc.", "flute.", "dcf.")):
            # per packet, the same problem recurs: once per code and destination
            self._once((obs.code, at.dst), (obs.code, obs.severity), at, obs.message)
        elif isinstance(obs, IssueObs) and obs.code != "mikey.mac_bad":
            # (MAC failures are reported by the MIKEY logic, with what they concern)
            self._raise(obs.code, obs.severity, at, obs.message)
        return self._changes

    # ------------------------------------------------------------------ HTTP

    def _http(self, obs: HttpObs) -> None:
        at = obs.at
        ue_ip = at.src_ip if obs.is_request else at.dst_ip
        ue = self._ue(ue_ip)
        if obs.is_request and obs.body_kind != "deregister":
            self._check_left(ue, at)
        if obs.btid:
            ue.btid = obs.btid
        if obs.is_request:
            kind = {"register": ProcedureName.REGISTRATION,
                    "deregister": ProcedureName.DEREGISTRATION,
                    "msk-request": ProcedureName.MSK_REQUEST}.get(obs.body_kind or "")
            if kind is None:
                return
            slot = (ue_ip, "msk" if kind == ProcedureName.MSK_REQUEST else kind)
            proc = self._open.get(slot)
            if proc is None or proc.state not in (ProcState.OPEN, ProcState.CHALLENGED):
                if kind == ProcedureName.MSK_REQUEST and ue_ip in self._solicited:
                    proc = self._solicited.pop(ue_ip)
                    proc.detail["delay"] = round(at.time - proc.start, 6)
                    for burst in self._bursts:
                        if ue_ip in burst["ues"] and "delay" not in burst["ues"][ue_ip]:
                            burst["ues"][ue_ip]["delay"] = at.time - proc.start
                    proc.add(at.capture, at.frame, at.time)
                else:
                    proc = self._proc(kind, ue_ip, at)
                self._open[slot] = proc
            else:
                proc.add(at.capture, at.frame, at.time)
            proc.state = ProcState.OPEN
            if kind == ProcedureName.DEREGISTRATION:
                ue.left = True
            for kd, msk, _status in obs.keys:
                if kd and msk:
                    label = f"{kd}/{msk}"
                    ue.requested.add(label)
                    proc.keys.append(label)
                    self._event(self._key("MSK", key_domain=kd, msk_id=msk), at, Event.REQUESTED,
                                ue_ip)
            return
        proc = next((p for (ip, _), p in self._open.items() if ip == ue_ip
                     and p.state in (ProcState.OPEN, ProcState.CHALLENGED)), None)
        if proc is None or obs.status is None:
            return
        proc.add(at.capture, at.frame, at.time)
        if obs.status == 401:
            proc.state = ProcState.CHALLENGED
            proc.detail["challenges"] = proc.detail.get("challenges", 0) + 1
            if obs.stale:
                proc.detail["stale"] = True
            for label in proc.keys:
                kd, msk = label.split("/")
                self._event(self._key("MSK", key_domain=kd, msk_id=msk), at, Event.CHALLENGED, ue_ip)
            return
        if obs.status < 200:
            return
        slot = next(s for s, p in self._open.items() if p is proc)
        refused = [(kd, msk, st, reason) for (kd, msk, st), reason
                   in zip(obs.keys, obs.reasons or [""] * len(obs.keys))
                   if st is not None and not 200 <= st < 300]
        if obs.status >= 300 or refused:
            proc.close(Outcome.REJECTED)
            del self._open[slot]
            if obs.status >= 300 and not refused:  # the whole request refused
                refused = [(kd, msk, obs.status, "") for kd, msk, _st in obs.keys]
            for kd, msk, st, reason in refused:
                if kd and msk:
                    detail = {"status": st, **({"reason": reason} if reason else {})}
                    self._event(self._key("MSK", key_domain=kd, msk_id=msk), at, Event.REJECTED,
                                ue_ip, **detail)
            if proc.procedure in (ProcedureName.MSK_REQUEST, ProcedureName.SOLICITED_PULL):
                ue.failed = not any(self._msk_valid(label) for label in ue.received)
            self._changes.append(("procedure", proc))
            return
        if proc.procedure in (ProcedureName.REGISTRATION, ProcedureName.DEREGISTRATION):
            proc.close(Outcome.SUCCESS)
            del self._open[slot]
        else:
            proc.state = ProcState.AWAITING_DELIVERY
        self._changes.append(("procedure", proc))

    def _msk_valid(self, label: str) -> bool:
        kd, msk = label.split("/")
        rec = self.keys.get(("MSK", kd, msk, None, None, None))
        return rec is not None and rec.state not in (KeyState.SUPERSEDED, KeyState.EXPIRED)

    def _check_left(self, ue: UERecord, at: Where) -> None:
        if ue.failed and not ue.left and not ue.received:
            key = ("ue.no_msk_traffic", ue.ip)
            if key not in self._reported:
                self._reported.add(key)
                self._finding(F.UeNoMskTraffic, at,
                              f"UE {ue.ip} got no MSK and holds none, yet still shows traffic "
                              "(TS 33.246 §6.3.1: it shall leave the service)")

    # ------------------------------------------------------------------ MIKEY

    def _mikey(self, obs: MikeyObs) -> None:
        at = obs.at
        self._deviations(obs)
        if obs.data_type == 1:
            self._verification(obs)
            return
        if obs.data_type != 0:
            return
        if obs.mtk_id is not None and obs.kd and obs.msk_id:
            self._mtk_message(obs)
        elif obs.solicitation:
            ue = at.dst_ip
            proc = self._proc(ProcedureName.SOLICITED_PULL, ue, at)
            self._solicited[ue] = proc
            self._burst(ue, at)
            self._under_muk(obs)
        elif obs.msk_id is not None and obs.kd:
            self._msk_message(obs)

    def _deviations(self, obs: MikeyObs) -> None:
        """Tolerated variants of TS 33.246 in traffic that otherwise works: reported once
        per sender and kind (warnings), never stopping keys, procedures or decryption."""
        at = obs.at
        if obs.carrier == "udp" and obs.data_type in (0, 1):
            ports = {at.src.rsplit(":", 1)[-1], at.dst.rsplit(":", 1)[-1]}
            if "2269" not in ports:
                port = at.dst.rsplit(":", 1)[-1]
                self._once(("mikey.port", at.src_ip, port), F.MikeyPort, at,
                           f"MIKEY from {at.src_ip} on UDP port {port}: TS 33.246 §6.4.1 "
                           "names 2269")
        if obs.data_type == 0 and obs.mtk_id is not None and obs.has_rand:
            self._once(("mikey.mtk_rand", at.src_ip), F.MikeyMtkRand, at,
                       f"MTK message {obs.kd}/{obs.msk_id}/{obs.mtk_id} with a RAND: TS 33.246 "
                       "§6.4.5.3 derives MTK message keys from the MSK's RAND")
        if obs.data_type == 1 and obs.idr is None:
            self._once(("mikey.ack_no_idr", at.src_ip), F.MikeyAckNoIdr, at,
                       f"verification from {at.src_ip} without IDr (mandatory, TS 33.246 "
                       "§6.4.5.2)")

    def _under_muk(self, obs: MikeyObs) -> KeyRecord | None:
        """Counter check per MUK (EF_MUK, TS 31.102 §4.2.81); the MUK's use."""
        if not obs.idr:
            return None
        muk = self.keys.get(("MUK", None, None, None, obs.idr, obs.idi)) \
            or self.keys.get(("MUK", None, None, None, obs.idr, None))
        if muk is None:  # counters are kept per MUK even when its value is unknown
            muk = self._key("MUK", idr=obs.idr, idi=obs.idi)
        self._replay(muk, obs, f"MUK of {obs.idr}")  # (MSK re-sends carry a new counter)
        if obs.mac_status == MacStatus.BAD:
            self._finding(F.MikeyMacBad, obs.at,
                          f"MSK message to {obs.at.dst_ip}: MAC does not verify with the MUK")
        elif obs.mac_status == MacStatus.NOT_CHECKED and self.with_keys and muk.value is None:
            self._finding(F.MikeyUnknownKey, obs.at,
                          f"MSK message under an unknown MUK (IDr {obs.idr})")
        if obs.mac_status != MacStatus.BAD:
            self._use(muk, obs.at)
        return muk

    def _replay(self, rec: KeyRecord, obs: MikeyObs, what: str, resend_ok: bool = False) -> str:
        """Counter check (RFC 3830 §5.3, §6.6; TS 33.246 §6.4.3), in RFC 1982 serial
        arithmetic (an undefined relation counts as a replay): ``replay``, ``resend``
        (*resend_ok*: the same counter and MTK ID as the last accepted MTK message, which
        the BM-SC may send again unchanged, §6.4.3 NOTE) or "" (fresh). Only a message
        that authenticates moves the stored counter - with keys, one whose MAC
        verifies; without keys (nothing can be checked), one that arrived intact. A
        damaged copy or a forgery never makes its genuine re-send look replayed."""
        if obs.counter is None or not _authentic(obs):
            return ""
        if rec.counter is not None and not serial_newer(obs.counter, rec.counter):
            if resend_ok and obs.counter == rec.counter and obs.mtk_id is not None \
                    and int(obs.mtk_id, 16) == rec.last_mtk:
                return "resend"
            self._finding(F.MikeyReplay, obs.at,
                          f"MIKEY counter {obs.counter} not above last accepted {rec.counter} "
                          f"for {what}")
            return "replay"
        rec.counter = obs.counter
        return ""

    def _use(self, rec: KeyRecord, at: Where) -> None:
        if rec.first_use is None:
            self._event(rec, at, Event.FIRST_USE)
        rec.last_use = KeyEvent(at.time, at.capture, at.frame, Event.LAST_USE)
        rec.uses += 1

    def _msk_message(self, obs: MikeyObs) -> None:
        at = obs.at
        ue_ip = at.dst_ip
        ue = self._ue(ue_ip)
        muk = self._under_muk(obs)
        label = f"{obs.kd}/{obs.msk_id}"
        msk = self._key("MSK", key_domain=obs.kd, msk_id=obs.msk_id)
        if obs.key_value and obs.mac_status == MacStatus.GOOD:
            msk.value = obs.key_value
        if obs.kv is not None and obs.mac_status == MacStatus.GOOD:
            msk.kv = obs.kv
        if obs.mac_status != MacStatus.BAD:
            if obs.validity_update:  # no key: its validity data only (TS 33.246 §6.5.3)
                self._event(msk, at, Event.UPDATED, ue_ip, mac=obs.mac_status or MacStatus.NOT_CHECKED)
            else:
                self._event(msk, at, Event.DELIVERED, ue_ip,
                            mac=obs.mac_status or MacStatus.NOT_CHECKED, muk=muk.idr if muk else None)
                ue.received.add(label)
                ue.failed = False
        proc = self._open.get((ue_ip, "msk"))
        resent = self._resent(ue_ip, label)
        if proc is not None and proc.state == ProcState.AWAITING_DELIVERY:
            del self._open[(ue_ip, "msk")]
            proc.add(at.capture, at.frame, at.time)
        elif resent is not None:
            # the same MSK again to a UE whose ack is still awaited: a re-send (with a new
            # counter, TS 33.246 §6.4.3) belongs to the same push
            proc = resent.proc
            proc.add(at.capture, at.frame, at.time)
            proc.detail["resends"] = proc.detail.get("resends", 0) + 1
            self._acks[resent.csb].remove(resent)
            if not self._acks[resent.csb]:
                del self._acks[resent.csb]
        else:
            proc = self._proc(ProcedureName.MSK_PUSH, ue_ip, at)
        if obs.mac_status == MacStatus.BAD:
            proc.close(Outcome.FAILED)
        elif obs.v:
            proc.state = ProcState.AWAITING_ACK
            self._acks.setdefault(obs.csb_id, []).append(
                _Pending(proc, label, ue_ip, at, obs.idr, obs.csb_id))
            self._acks_since = min(self._acks_since, at.time)
        else:
            proc.close(Outcome.SUCCESS)
        self._changes.append(("procedure", proc))

    def _supersede_older_msks(self, msk: KeyRecord, at: Where) -> None:
        group = (msk.msk_id or "")[:4]
        for rec in list(self._msk_records):
            if (rec is not msk and rec.key_domain == msk.key_domain
                    and (rec.msk_id or "")[:4] == group and (rec.msk_id or "") < (msk.msk_id or "")
                    and rec.state in (KeyState.DELIVERED, KeyState.ACKNOWLEDGED, KeyState.ACTIVE)
                    and rec.events and rec.events[-1].time < at.time):
                self._event(rec, at, Event.SUPERSEDED, None, by=msk.msk_id)

    def _verification(self, obs: MikeyObs) -> None:
        at = obs.at
        pending = self._pair(obs)
        if pending is None:
            self._finding(F.MikeyAckUnexpected, at,
                          f"verification from {at.src_ip} for CSB ID 0x{obs.csb_id:08x}: "
                          "no message with that CSB ID is waiting for one")
            return
        proc, label, ue_ip = pending.proc, pending.label, pending.ue
        self._check_left(self._ue(ue_ip), at)
        proc.add(at.capture, at.frame, at.time)
        if obs.mac_status == MacStatus.BAD:
            self._finding(F.MikeyMacBad, at,
                          f"verification message from {ue_ip}: MAC does not verify")
            proc.close(Outcome.FAILED)
        else:
            kd, msk = label.split("/")
            self._event(self._key("MSK", key_domain=kd, msk_id=msk), at, Event.ACKNOWLEDGED, ue_ip)
            self._ue(ue_ip).acknowledged.add(label)
            proc.close(Outcome.SUCCESS)
        self._changes.append(("procedure", proc))

    def _pair(self, obs: MikeyObs) -> "_Pending | None":
        """The pending V=1 message a verification answers (TS 33.246 §6.4.5.2): the
        one the key hierarchy paired it with (its keys verify the MAC), else the one
        sent to the verification's source address, else to its IDr (the B-TID),
        else the oldest with that CSB ID."""
        waiting = self._acks.get(obs.csb_id)
        if not waiting:
            return None
        src = obs.at.src_ip
        found = next((p for p in waiting if obs.answers is not None
                      and obs.answers in p.proc.frames), None) \
            or next((p for p in waiting if p.ue == src), None) \
            or next((p for p in waiting if obs.idr and p.idr == obs.idr), None) \
            or waiting[0]
        waiting.remove(found)
        if not waiting:
            del self._acks[obs.csb_id]
        return found

    def _resent(self, ue: str, label: str) -> "_Pending | None":
        """The push of MSK *label* to *ue* still waiting for its ack, if any."""
        for waiting in self._acks.values():
            for pending in waiting:
                if pending.ue == ue and pending.label == label:
                    return pending
        return None

    def _expire_acks(self, at: Where) -> None:
        if at.time - self._acks_since <= ACK_TIMEOUT:  # (no message waits that long yet)
            return
        for csb, waiting in list(self._acks.items()):
            for pending in [p for p in waiting if at.time - p.at.time > ACK_TIMEOUT]:
                waiting.remove(pending)
                self._ack_missing(pending.proc, pending.label, pending.ue, pending.at)
            if not waiting:
                del self._acks[csb]
        self._acks_since = min((p.at.time for waiting in self._acks.values() for p in waiting),
                               default=float("inf"))

    def _ack_missing(self, proc: Procedure, label: str, ue_ip: str, sent: Where) -> None:
        proc.close(Outcome.INCOMPLETE)
        self._finding(F.MikeyAckMissing, sent,
                      f"MSK {label} to {ue_ip} asked for an acknowledgement (V=1) that never came")
        self._changes.append(("procedure", proc))

    def _mtk_message(self, obs: MikeyObs) -> None:
        at = obs.at
        proc = self._proc(ProcedureName.MTK_UPDATE, None, at)
        msk = self.keys.get(("MSK", obs.kd, obs.msk_id, None, None, None))
        if msk is None:
            msk = self._key("MSK", key_domain=obs.kd, msk_id=obs.msk_id)
        label = f"{obs.kd}/{obs.msk_id}/{obs.mtk_id}"
        verdict = self._replay(msk, obs, f"MSK {obs.kd}/{obs.msk_id}", resend_ok=True)
        replay = verdict == "replay"
        if verdict == "resend":  # dropped quietly by the ME: it holds the key already
            first = next((e for e in reversed(self.keys.get(
                ("MTK", obs.kd, obs.msk_id, obs.mtk_id, None, None), KeyRecord("MTK")).events)
                if e.event == Event.DELIVERED), None)
            proc.detail["resend_of"] = [first.capture, first.frame] if first else None
            proc.close(Outcome.SUCCESS)
            self._changes.append(("procedure", proc))
            return
        if obs.mac_status == MacStatus.BAD:
            self._finding(F.MikeyMacBad, at,
                          f"MTK message {label}: MAC does not verify with the MSK")
        elif obs.mac_status == MacStatus.NOT_CHECKED and self.with_keys and msk.value is None:
            self._finding(F.MikeyUnknownKey, at,
                          f"MTK message {label} under an unknown MSK")
        if obs.mac_status == MacStatus.BAD or replay or not obs.intact:
            proc.close(Outcome.FAILED)
            self._changes.append(("procedure", proc))
            return
        proc.close(Outcome.SUCCESS)
        self._window(msk, obs, label)
        self._use(msk, at)
        mtk = self._key("MTK", key_domain=obs.kd, msk_id=obs.msk_id, mtk_id=obs.mtk_id)
        if obs.key_value:
            mtk.value = obs.key_value
            mtk.salt = obs.key_salt
        self._event(mtk, at, Event.DELIVERED, None, mac=obs.mac_status or MacStatus.NOT_CHECKED,
                    **({"refused_by": "mtk_window"} if label in self._window_refused else {}))
        live = self._live_mtks.get((obs.kd, obs.msk_id), {})
        for place in sorted(live):  # older MTKs of this MSK are superseded
            rec = live[place]
            if rec is not mtk and rec.state in (KeyState.DELIVERED, KeyState.ACTIVE):
                self._event(rec, at, Event.SUPERSEDED, None, by=obs.mtk_id)
        self._supersede_older_msks(msk, at)  # an MTK under a newer MSK supersedes older MSKs
        self._changes.append(("procedure", proc))

    def _window(self, msk: KeyRecord, obs: MikeyObs, label: str) -> None:
        """The MTK ID rule of a conformant ME (TS 33.246 §6.4.6.2, §6.5.4): accept only
        SEQl < MTK ID <= SEQu, SEQl being the last accepted MTK ID (at first the MSK's
        Valid From), then SEQl := MTK ID. A violation is a finding - what a UE would
        refuse - and the key is still learned and used (the MTK event says so)."""
        if not _authentic(obs) or obs.mtk_id is None:
            return
        mtk_id = int(obs.mtk_id, 16)
        low = msk.last_mtk if msk.last_mtk is not None else (msk.kv[0] if msk.kv else None)
        high = msk.kv[1] if msk.kv else None
        problem = ""
        if low is not None and mtk_id <= low:
            problem = f"not above SEQl {low:04x}"
        elif high is not None and mtk_id > high:
            problem = f"above SEQu {high:04x}"
        if problem:
            self._finding(F.MikeyMtkWindow, obs.at,
                          f"MTK message {label}: MTK ID {problem}; a conformant ME refuses it "
                          "(TS 33.246 §6.5.4); learned and used here all the same")
            self._window_refused.add(label)
        if msk.last_mtk is None or mtk_id > msk.last_mtk:
            msk.last_mtk = mtk_id

    # ------------------------------------------------------------------ SRTP

    def _srtp(self, obs: SrtpObs) -> None:
        at = obs.at
        stream = (obs.ssrc, at.dst)
        if obs.result == DownloadResult.OK and obs.mtk is not None:
            kd, msk_id, mtk_id = obs.mtk
            mtk = self.keys.get(("MTK", kd, msk_id, mtk_id, None, None)) \
                or self._key("MTK", key_domain=kd, msk_id=msk_id, mtk_id=mtk_id)
            self._use(mtk, at)
            msk = self.keys.get(("MSK", kd, msk_id, None, None, None))
            before = self._stream_msk.get(stream)
            if len(self._stream_msk) < 65536 or stream in self._stream_msk:
                self._stream_msk[stream] = (kd, msk_id)
            if msk is not None and self._stale(msk, at, before not in (None, (kd, msk_id))):
                self._once(("srtp.stale_key", stream, mtk_id), F.SrtpStaleKey, at,
                           f"SRTP SSRC 0x{obs.ssrc:08x} under MTK {kd}/{msk_id}/{mtk_id} whose "
                           f"MSK is {msk.state.value}")
        elif obs.result == "unknown":
            self._once(("srtp.unknown_mki", stream), F.SrtpUnknownMki, at,
                       f"SRTP SSRC 0x{obs.ssrc:08x} to {at.dst}: its MKI names no known key")
        elif obs.result == "auth":
            self._once(("srtp.auth_failed", stream), F.SrtpAuthFailed, at,
                       f"SRTP SSRC 0x{obs.ssrc:08x} to {at.dst} fails authentication")

    @staticmethod
    def _stale(msk: KeyRecord, at: Where, went_back: bool) -> bool:
        """Is SRTP under this MSK's MTK stale? Expired; or superseded and either the
        stream had already moved to another MSK, or the grace after the supersession
        (MTK messages go out ahead of the switch, TS 33.246 §6.3.3.2.2) is over."""
        if msk.state == KeyState.EXPIRED:
            return True
        if msk.state != KeyState.SUPERSEDED:
            return False
        since = next((e.time for e in reversed(msk.events) if e.event == "superseded"), at.time)
        return went_back or at.time - since > STALE_GRACE

    # ------------------------------------------------------------------ downloads

    def _download(self, obs: DownloadObs) -> None:
        """A FLUTE object ended: a use of the MTK its DCF names (first/last use at its
        first/last packet), and what went wrong (TS 33.246 §6.6.3)."""
        at = obs.at
        label = "/".join(obs.mtk) if obs.mtk else None
        self.downloads.append({
            "tsi": obs.tsi, "toi": obs.toi, "name": obs.name, "dst": at.dst,
            "size": obs.size, "received": obs.received, "packets": obs.packets,
            "complete": obs.complete, "md5": obs.md5, "protected": obs.dcf, "mtk": label,
            "result": obs.result, "start": obs.first.time, "end": at.time,
            "frames": [[obs.first.capture, obs.first.frame], [at.capture, at.frame]]})
        what = f"FLUTE TSI {obs.tsi} TOI {obs.toi} ({obs.name}) to {at.dst}"
        if not obs.complete:
            self._finding(F.FluteIncomplete, at,
                          f"{what}: incomplete, {obs.reason or 'not all bytes received'}")
        if obs.md5 == "bad":
            self._finding(F.FluteMd5Mismatch, at,
                          f"{what}: Content-MD5 of the FDT does not match the object")
        if obs.mtk is not None:
            kd, msk_id, mtk_id = obs.mtk
            mtk = self._key("MTK", key_domain=kd, msk_id=msk_id, mtk_id=mtk_id)
            first = obs.first
            if mtk.first_use is None:
                self._event(mtk, first, Event.FIRST_USE)
            elif first.time < mtk.first_use.time:  # a file that ended late began earlier
                old = mtk.first_use
                mtk.first_use = KeyEvent(first.time, first.capture, first.frame, "first_use",
                                         old.ue, old.detail)
                mtk.events[mtk.events.index(old)] = mtk.first_use
            if mtk.last_use is None or at.time >= mtk.last_use.time:
                mtk.last_use = KeyEvent(at.time, at.capture, at.frame, Event.LAST_USE)
            mtk.uses += obs.packets
            mtk.files += 1
            msk = self.keys.get(("MSK", kd, msk_id, None, None, None))
            if msk is not None and msk.state in (KeyState.SUPERSEDED, KeyState.EXPIRED):
                self._finding(F.DcfStaleKey, at, f"{what} under MTK {label} "
                              f"whose MSK is {msk.state.value}")
        if obs.result == DownloadResult.BAD_KEY:
            self._finding(F.DcfBadKey, at, f"{what}: the known MTK {label} does "
                          "not decrypt it (wrong key, or another key derivation)")
        elif obs.result == DownloadResult.NO_KEY and self.with_keys:
            self._once(("dcf.no_key", label), F.DcfNoKey, at,
                       f"{what}: protected by MTK {label}, which is not known")
        elif obs.result == DownloadResult.MALFORMED:
            self._finding(F.DcfMalformed, at, f"{what}: a DCF that does not parse")
        if obs.signature == "bad":
            self._finding(F.DcfSignatureBad, at,
                          f"{what}: the DCF's HMAC-SHA1 signature does not verify")

    def _once(self, key: tuple, kind: type[FindingKind] | tuple[str, str], at: Where,
              message: str) -> None:
        """A finding raised once per *key* (a stream, a sender): *kind* or (code, severity)."""
        if key not in self._reported:
            self._reported.add(key)
            code, severity = (kind if isinstance(kind, tuple) else (kind.code, kind.severity))
            self._raise(code, severity, at, message)

    # ------------------------------------------------------------------ storms

    def _burst(self, ue: str, at: Where) -> None:
        if not self._bursts or at.time - self._bursts[-1]["last"] > SOLICITATION_BURST:
            self._bursts.append({"start": at, "last": at.time, "ues": {}})
        burst = self._bursts[-1]
        burst["last"] = at.time
        burst["ues"][ue] = {}

    # ------------------------------------------------------------------ end

    def finish(self) -> list[tuple[str, Any]]:
        """The capture ended: open procedures become ``incomplete``; storms are judged.

        Idempotent: called again (a second document, a snapshot), it adds nothing."""
        self._changes = []
        for waiting in self._acks.values():
            for pending in waiting:
                self._ack_missing(pending.proc, pending.label, pending.ue, pending.at)
        self._acks.clear()
        for proc in list(self._open.values()) + list(self._solicited.values()):
            if proc.state != ProcState.DONE:
                proc.close(Outcome.INCOMPLETE)
                self._changes.append(("procedure", proc))
        self._open.clear()
        self._solicited.clear()
        bursts, self._bursts = self._bursts, []
        for burst in bursts:
            delays = sorted(u["delay"] for u in burst["ues"].values() if "delay" in u)
            quick = [d for d in delays if d <= STORM_WINDOW]
            if len(quick) >= STORM_THRESHOLD:
                self._finding(F.BmscRequestStorm, burst["start"],
                              f"{len(quick)} of {len(burst['ues'])} solicited UEs asked within "
                              f"{STORM_WINDOW:g} s: request delays min {delays[0]:.3f} s, median "
                              f"{delays[len(delays) // 2]:.3f} s, max {delays[-1]:.3f} s "
                              "(TS 33.246 §6.3.2: spread the requests)")
        for rec in self.keys.values():
            if rec.first_use is not None and rec.last_use is not None:
                rec.events = [e for e in rec.events if e.event != Event.LAST_USE]
                detail: dict[str, Any] = {"uses": rec.uses}
                if rec.files:
                    detail["files"] = rec.files
                rec.events.append(KeyEvent(rec.last_use.time, rec.last_use.capture,
                                           rec.last_use.frame, Event.LAST_USE, None, detail))
        return self._changes


@dataclass
class _Pending:
    """A V=1 MSK message waiting for the verification of the UE it was sent to."""

    proc: Procedure
    label: str
    ue: str
    at: Where
    idr: str | None
    csb: int = 0


def serial_newer(a: int, b: int) -> bool:
    """Is 32-bit counter *a* after *b* in RFC 1982 serial arithmetic? (An undefined
    relation - exactly half the space apart - is not: TS 33.246 §6.4.3 drops it.)"""
    d = (a - b) % (1 << 32)
    return 0 < d < (1 << 31)


def _authentic(obs: MikeyObs) -> bool:
    """Whether *obs* may move replay state: its MAC verified (with keys), or, where
    nothing could be checked (no keys at all), it arrived intact."""
    if obs.mac_status is None:
        return obs.intact
    return obs.mac_status == MacStatus.GOOD


def _label(rec: KeyRecord) -> str:
    return "/".join(x for x in (rec.key_domain, rec.msk_id, rec.mtk_id, rec.idr) if x)

