"""The timeline JSON document (DESIGN.md "Timeline JSON"): keys with their events,
procedures, UEs, downloads and findings of one :class:`~analyzer.pipeline.session.Session`.

The document is versioned (``format``/``version``) and described by
``timeline.schema.json`` beside this module; key values appear only when the
session was made with ``reveal_keys``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from analyzer.flows.model import KeyRecord, Procedure
from analyzer.pipeline.session import CaptureInfo, Session

FORMAT = "mbms-timeline"
VERSION = 1
SCHEMA = Path(__file__).with_name("timeline.schema.json")


def timeline(session: Session) -> dict[str, Any]:
    """The timeline of *session*, its captures read to the end (closes what is open;
    calling it again gives the same document)."""
    session.finish()
    rec = session.rec
    reveal = session.reveal_keys
    return {
        "format": FORMAT,
        "version": VERSION,
        "captures": [_capture_json(c) for c in session.captures],
        "keys": [_key_json(k, reveal) for k in rec.keys.values()],
        "procedures": [_proc_json(p) for p in sorted(
            rec.procedures, key=lambda p: (p.start, p.frames[:1]))],
        "ues": _ues_json(rec),
        "downloads": rec.downloads,
        "findings": [{"code": f.code, "severity": f.severity, "time": f.time,
                      "capture": f.capture, "frame": f.frame, "message": f.message}
                     for f in sorted(rec.findings, key=lambda f: (f.time, f.frame))],
    }


def snapshot(session: Session) -> dict[str, Any]:
    """The timeline as if the captures ended now, leaving *session* going on
    (a live capture's keys, procedures and findings so far)."""
    live = session.rec
    session.rec = copy.deepcopy(live)
    try:
        return timeline(session)
    finally:
        session.rec = live


def _ues_json(rec: Any) -> list[dict[str, Any]]:
    """Per UE: the MSKs it requested, received and acknowledged, the MTKs it could use."""
    used_mtks = [k for k in rec.keys.values() if k.kind == "MTK" and k.uses]
    out = []
    for ue in rec.ues.values():
        used = sorted(f"{k.key_domain}/{k.msk_id}/{k.mtk_id}" for k in used_mtks
                      if f"{k.key_domain}/{k.msk_id}" in ue.received)
        out.append({"ip": ue.ip, "btid": ue.btid, "requested": sorted(ue.requested),
                    "received": sorted(ue.received), "acknowledged": sorted(ue.acknowledged),
                    "used": used, "left": ue.left})
    return out


def _key_json(rec: KeyRecord, reveal: bool) -> dict[str, Any]:
    ue_holders = sorted({e.ue for e in rec.events if e.ue and e.event == "delivered"})
    return {
        "kind": rec.kind, "key_domain": rec.key_domain, "msk_id": rec.msk_id,
        "mtk_id": rec.mtk_id, "idr": rec.idr, "idi": rec.idi,
        "value": rec.value if (reveal and rec.value) else None,
        **({"salt": rec.salt if (reveal and rec.salt) else None}
           if rec.kind == "MTK" else {}),
        "state": rec.state.value,
        "events": [{"time": e.time, "capture": e.capture, "frame": e.frame,
                    "event": e.event, "ue": e.ue, "detail": e.detail}
                   for e in sorted(rec.events, key=lambda e: (e.time, e.frame))],
        "ues": ue_holders,
    }


def _capture_json(info: CaptureInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"file": info.file, "packets": info.packets, "start": info.start,
                           "end": info.end}
    if info.offset is not None:
        out["offset"] = info.offset
    if info.error:
        out["error"] = info.error
    return out


def _proc_json(proc: Procedure) -> dict[str, Any]:
    out = {"procedure": proc.procedure, "ue": proc.ue, "start": proc.start, "end": proc.end,
           "outcome": proc.outcome, "frames": [list(f) for f in proc.frames]}
    if proc.detail:
        out["detail"] = proc.detail
    return out
