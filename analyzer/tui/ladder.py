"""Text drawings of the timeline: key lifecycle bars and ladder (sequence) diagrams.

Pure functions of the timeline document and the dissected packets (no Textual):
the TUI shows them, and tests read them.
"""

from __future__ import annotations

from typing import Any

from analyzer.views.result import Dissected

LABEL_WIDTH = 26


def _ip(endpoint: str) -> str:
    return endpoint.rsplit(":", 1)[0].strip("[]")


def lifecycle_bars(keys: list[dict[str, Any]], width: int = 72) -> str:
    """One line per MSK/MTK on a shared time axis.

    ``-`` delivered and valid, ``=`` in use (first to last use), ``|`` a delivery,
    ``x`` superseded or expired.
    """
    shown = [k for k in keys if k["kind"] in ("MSK", "MTK") and k["events"]]
    if not shown:
        return "(no MSK or MTK in this capture)"
    times = [e["time"] for k in shown for e in k["events"]]
    t0, t1 = min(times), max(times)
    span = (t1 - t0) or 1.0

    def col(t: float) -> int:
        return min(width - 1, max(0, int((t - t0) / span * (width - 1))))

    lines = [f"{'':{LABEL_WIDTH}} {t0:.3f}{'':{max(1, width - 22)}}{t1:.3f}"]
    for key in shown:
        ev = {}
        for e in key["events"]:
            ev.setdefault(e["event"], e["time"])
        start = ev.get("delivered", ev.get("requested", min(e["time"] for e in key["events"])))
        end_t = ev.get("superseded", ev.get("expired", t1))
        bar = [" "] * width
        for c in range(col(start), col(end_t) + 1):
            bar[c] = "-"
        if "first_use" in ev:
            last = ev.get("last_use", ev["first_use"])
            for c in range(col(ev["first_use"]), col(last) + 1):
                bar[c] = "="
        for e in key["events"]:
            if e["event"] == "delivered":
                bar[col(e["time"])] = "|"
        if "superseded" in ev or "expired" in ev:
            bar[col(end_t)] = "x"
        name = (f"MSK {key['msk_id']}" if key["kind"] == "MSK"
                else f"  MTK {key['msk_id']}/{key['mtk_id']}")
        lines.append(f"{name:{LABEL_WIDTH}.{LABEL_WIDTH}} {''.join(bar)} {key['state']}")
    return "\n".join(lines)


def ladder(proc: dict[str, Any], packets: dict[tuple[int, int], Dissected],
           width: int = 64) -> str:
    """The ladder diagram of one procedure: UE <-> BM-SC arrows labelled with each message."""
    ue = proc.get("ue")
    frames = [packets[tuple(f)] for f in proc["frames"] if tuple(f) in packets]
    if not frames:
        return "(the procedure's packets are not loaded)"
    peers = sorted({_ip(p.dst) if _ip(p.src) == ue else _ip(p.src) for p in frames})
    left = f"UE {ue}" if ue else "senders"
    right = ", ".join(peers) if ue else "group"
    inner = width - 2
    start = frames[0].time
    lines = [f"{'+seconds':>10}  {left:<{inner // 2}}{right:>{inner - inner // 2 + 2}}",
             f"{'':>10}  |{'':{inner}}|"]
    for pkt in frames:
        label = pkt.summary.removeprefix("BM-SC ").removeprefix("MIKEY ")
        label = label if len(label) <= inner - 6 else label[:inner - 9] + "..."
        to_right = ue is None or _ip(pkt.src) == ue
        if to_right:
            arrow = "-- " + label + " " + "-" * max(0, inner - len(label) - 5) + ">"
        else:
            arrow = "<" + "-" * max(0, inner - len(label) - 5) + " " + label + " --"
        lines.append(f"{pkt.time - start:10.6f}  |{arrow:{inner}.{inner}}|")
    lines.append(f"{'':>10}  outcome: {proc['outcome']}")
    return "\n".join(lines)


def ue_procedure(timeline: dict[str, Any], ue: str,
                 packets: dict[tuple[int, int], Dissected]) -> dict[str, Any]:
    """All procedures of one UE as one, for its ladder: their frames in time order."""
    mine = [p for p in timeline.get("procedures", []) if p.get("ue") == ue]
    frames = sorted({tuple(f) for p in mine for f in p["frames"]},
                    key=lambda f: (packets[f].time if f in packets else 0.0, f))
    outcomes = ", ".join(f"{p['procedure']} {p['outcome']}" for p in mine)
    return {"procedure": "UE", "ue": ue, "frames": [list(f) for f in frames],
            "outcome": outcomes or "none"}
