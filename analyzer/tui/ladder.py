"""Text drawings of the timeline: ladder (sequence) diagrams of procedures.

Pure functions of the timeline document and the dissected packets (no Textual):
the TUI shows them, and tests read them.
"""

from __future__ import annotations

from typing import Any

from analyzer.views.result import Dissected


def _ip(endpoint: str) -> str:
    return endpoint.rsplit(":", 1)[0].strip("[]")


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
