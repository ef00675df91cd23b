"""The Timeline view's picture, as data and as styled text (no Textual here).

Each MSK and MTK is a lane on a shared time axis, coloured by what the key was
at each moment (from its events in the timeline JSON):

==============  =====  =============================================================
state           glyph  from ... to
==============  =====  =============================================================
delivered       ┃      each delivery (an MSK to a UE, an MTK to the group)
valid           ─      delivered (or updated) and not in use, until superseded
in use          █      first use to last use (SRTP packets, files under an MTK)
superseded      ░      superseded or expired, to the end
rejected        ✗      a request for it refused (per UE)
failed          ✗      a message that carried it failed its MAC
finding         ▲      a finding on one of its packets (red: error, yellow: warning);
                       every finding again on a last lane, ``findings``
==============  =====  =============================================================

A MUK has no lifetime on the wire and gets no lane. :func:`lanes` builds the
lanes, :func:`render` draws the part between two times for a width, with an axis
whose ticks are in the chosen time format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from analyzer.tui.timefmt import TimeFormat, format_span, format_time

STYLES = {"delivered": "bold bright_white", "valid": "green", "in use": "bold bright_green",
          "superseded": "grey50", "rejected": "bold red", "failed": "bold red",
          "error": "bold red", "warning": "bold yellow"}
GLYPHS = {"valid": "─", "in use": "█", "superseded": "░"}
LABEL_WIDTH = 24


@dataclass
class Lane:
    """One key on the chart: its label, its spans of state, its instant marks."""

    key: dict[str, Any]
    label: str
    spans: list[tuple[float, float, str]] = field(default_factory=list)
    marks: list[tuple[float, str, str]] = field(default_factory=list)  # (time, glyph, style)

    @property
    def frames(self) -> list[int]:
        return sorted({e["frame"] for e in self.key["events"]})


def _label(key: dict[str, Any]) -> str:
    if key["kind"] == "MSK":
        return f"MSK {key['key_domain']}/{key['msk_id']}"
    return f"  MTK {key['msk_id']}/{key['mtk_id']}"


def lanes(keys: list[dict[str, Any]], findings: list[dict[str, Any]] = (),
          end: float | None = None) -> list[Lane]:
    """The lanes of every MSK and MTK with events (MTKs under their MSK), up to *end*."""
    shown = [k for k in keys if k["kind"] in ("MSK", "MTK") and k["events"]]
    times = [e["time"] for k in shown for e in k["events"]] + [f["time"] for f in findings]
    if not times:
        return []
    end = max(end or max(times), max(times))
    by_frame: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for f in findings:
        by_frame.setdefault((f["capture"], f["frame"]), []).append(f)
    msks = [k for k in shown if k["kind"] == "MSK"]
    order: list[dict[str, Any]] = []
    for msk in msks:
        order.append(msk)
        order.extend(k for k in shown if k["kind"] == "MTK"
                     and (k["key_domain"], k["msk_id"]) == (msk["key_domain"], msk["msk_id"]))
    order.extend(k for k in shown if k not in order)
    out = []
    for key in order:
        lane = Lane(key, _label(key))
        events = sorted(key["events"], key=lambda e: e["time"])
        first = {}
        for e in events:
            first.setdefault(e["event"], e["time"])
        start = first.get("delivered", first.get("updated"))
        stop = first.get("superseded", first.get("expired"))
        if start is not None:
            lane.spans.append((start, stop if stop is not None else end, "valid"))
        if "first_use" in first:
            lane.spans.append((first["first_use"], first.get("last_use", first["first_use"]),
                               "in use"))
        if stop is not None:
            lane.spans.append((stop, end, "superseded"))
        for e in events:
            if e["event"] == "delivered":
                failed = e["detail"].get("mac") == "bad"
                lane.marks.append((e["time"], "✗" if failed else "┃",
                                   STYLES["failed" if failed else "delivered"]))
            elif e["event"] == "rejected":
                lane.marks.append((e["time"], "✗", STYLES["rejected"]))
            for f in by_frame.get((e["capture"], e["frame"]), ()):
                lane.marks.append((f["time"], "▲", STYLES.get(f["severity"], "yellow")))
        out.append(lane)
    if findings:  # every finding on one lane, whether or not it names a key
        events = [{"time": f["time"], "capture": f["capture"], "frame": f["frame"],
                   "event": f["code"], "ue": None, "detail": {}} for f in findings]
        lane = Lane({"kind": "findings", "events": events}, "findings")
        lane.marks = [(f["time"], "▲", STYLES.get(f["severity"], "yellow")) for f in findings]
        out.append(lane)
    return out


def bounds(lanes_: list[Lane]) -> tuple[float, float]:
    """The time span the lanes cover (a second when they are one instant)."""
    times = [t for lane in lanes_ for a, b, _ in lane.spans for t in (a, b)]
    times += [t for lane in lanes_ for t, _, _ in lane.marks]
    if not times:
        return 0.0, 1.0
    lo, hi = min(times), max(times)
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def _ticks(t0: float, t1: float, columns: int) -> list[float]:
    """Round tick times between *t0* and *t1*, about one per 14 columns."""
    span = t1 - t0
    want = max(1, columns // 14)
    raw = span / want
    step = next((s * 10 ** e for e in range(-3, 7) for s in (1, 2, 5) if s * 10 ** e >= raw),
                raw)
    first = (t0 // step + 1) * step
    out, t = [], first
    while t < t1 and len(out) < 64:
        out.append(t)
        t += step
    return out


def tick_label(t: float, fmt: TimeFormat, origin: float, start: float) -> str:
    """An axis tick: seconds since the first packet, UTC time of day, or time since
    the left edge of the view (delta)."""
    if fmt is TimeFormat.ABSOLUTE:
        return format_time(t, fmt)[11:23]
    if fmt is TimeFormat.DELTA:
        return "+" + format_span(t - start)
    return f"{t - origin:.3f}".rstrip("0").rstrip(".") + "s"


def render(lanes_: list[Lane], t0: float, t1: float, width: int, fmt: TimeFormat,
           origin: float, cursor: int = -1) -> list[Text]:
    """The chart between *t0* and *t1* for *width* columns: the axis, one line per lane
    (the one at *cursor* highlighted), the legend."""
    columns = max(8, width - LABEL_WIDTH - 1)
    span = (t1 - t0) or 1.0

    def col(t: float) -> int | None:
        c = int((t - t0) / span * (columns - 1) + 0.5)
        return c if 0 <= c < columns else None

    axis = [" "] * columns
    labels = Text(" " * (LABEL_WIDTH + 1))
    ticks = _ticks(t0, t1, columns)
    line = [" "] * columns
    for t in ticks:
        c = col(t)
        if c is None:
            continue
        axis[c] = "┬"
        shown = tick_label(t, fmt, origin, t0)
        for k, ch in enumerate(shown[: max(0, columns - c)]):
            if line[c + k] == " ":
                line[c + k] = ch
    labels.append("".join(line), style="dim")
    out = [labels, Text(" " * (LABEL_WIDTH + 1)) + Text("".join(axis).replace(" ", "─"),
                                                          style="dim")]
    for n, lane in enumerate(lanes_):
        cells: list[tuple[str, str]] = [(" ", "")] * columns
        for a, b, state in sorted(lane.spans, key=lambda s: ("valid", "superseded",
                                                            "in use").index(s[2])):
            lo, hi = max(a, t0), min(b, t1)
            if hi < lo:
                continue
            ca, cb = col(lo), col(hi)
            for c in range((ca if ca is not None else 0), (cb if cb is not None else
                                                           columns - 1) + 1):
                cells[c] = (GLYPHS[state], STYLES[state])
        for t, glyph, style in sorted(lane.marks, key=lambda m: m[1] == "▲"):
            c = col(t)
            if c is not None:
                cells[c] = (glyph, style)
        row = Text()
        label = lane.label if len(lane.label) <= LABEL_WIDTH \
            else lane.label[: LABEL_WIDTH - 1] + "…"
        row.append(f"{label:<{LABEL_WIDTH}} ", style="reverse" if n == cursor else "")
        for glyph, style in cells:
            row.append(glyph, style=style)
        out.append(row)
    if not lanes_:
        out.append(Text("  no MSK or MTK in these captures", style="italic"))
    legend = Text("  ")
    for name, glyph in (("delivered", "┃"), ("valid", "─"), ("in use", "█"),
                        ("superseded", "░"), ("rejected/failed", "✗"), ("finding", "▲")):
        legend.append(glyph, style=STYLES.get(name.split("/")[0], "bold yellow"))
        legend.append(f" {name}   ")
    legend.append(f"[{format_span(t1 - t0)} shown]", style="dim")
    out.append(Text(""))
    out.append(legend)
    return out
