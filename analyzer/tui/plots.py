"""The data of the Plots view (no Textual here): what a person would rather look at
than read.

* Per SRTP stream (SSRC and destination): packets per second, authentication
  failures per second, and the moments its MTK changed (from the dissected SRTP
  packets with keys: ``srtp`` facts).
* Per solicitation burst (TS 33.246 §6.3.2.2.4: the BM-SC solicits a pull; UEs
  should spread their requests): the UEs' request delays, from the timeline's
  ``solicited_pull`` procedures (``detail.delay``), as a histogram.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

#: solicitations this close together are one burst (as the reconstructor groups them)
BURST_GAP = 1.0
#: requests within this many seconds of the solicitation are "at once" (the storm rule)
AT_ONCE = 2.0
MAX_BINS = 3600


@dataclass
class StreamSeries:
    """One SRTP stream over time, in one-second bins from :attr:`start`."""

    ssrc: int
    dst: str
    start: float
    end: float
    packets: list[int] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    #: (time, key) when the stream's key changed (the first key too)
    changes: list[tuple[float, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.packets)

    @property
    def failed(self) -> int:
        return sum(self.failures)


def streams(packets: Iterable[Any]) -> list[StreamSeries]:
    """Per stream, from dissected packets (those with an SRTP fact), by first packet."""
    seen: dict[tuple[int, str], list[tuple[float, str, str | None]]] = {}
    for pkt in packets:
        fact = getattr(pkt, "srtp", None)
        if fact is None:
            continue
        seen.setdefault((fact.ssrc, pkt.dst), []).append((pkt.time, fact.result, fact.key))
    out = []
    for (ssrc, dst), items in seen.items():
        items.sort(key=lambda i: i[0])
        start, end = items[0][0], items[-1][0]
        bins = min(MAX_BINS, int(end - start) + 1)
        size = max(1.0, (end - start + 1e-9) / bins) if bins == MAX_BINS else 1.0
        series = StreamSeries(ssrc, dst, start, end, [0] * bins, [0] * bins)
        key = None
        for t, result, label in items:
            b = min(bins - 1, int((t - start) / size))
            series.packets[b] += 1
            if result == "auth":
                series.failures[b] += 1
            if result == "ok" and label and label != key:
                series.changes.append((t, label))
                key = label
        out.append(series)
    return sorted(out, key=lambda s: s.start)


@dataclass
class Burst:
    """One solicitation burst and the request delays of the UEs it solicited."""

    start: float
    solicited: int
    delays: list[float]

    @property
    def at_once(self) -> int:
        return sum(1 for d in self.delays if d <= AT_ONCE)

    def histogram(self, bins: int = 20) -> list[int]:
        """Counts of delays in *bins* equal bins from 0 to the largest delay."""
        if not self.delays:
            return [0] * bins
        top = max(self.delays) or 1.0
        out = [0] * bins
        for d in self.delays:
            out[min(bins - 1, int(d / top * bins))] += 1
        return out

    def summary(self) -> str:
        if not self.delays:
            return f"{self.solicited} UEs solicited, none asked"
        d = sorted(self.delays)
        return (f"{self.solicited} UEs solicited, {len(d)} asked: delays min {d[0]:.3f} s, "
                f"median {d[len(d) // 2]:.3f} s, max {d[-1]:.3f} s; {self.at_once} within "
                f"{AT_ONCE:g} s")


def solicitations(doc: dict[str, Any]) -> list[Burst]:
    """The solicitation bursts of a timeline, each with its UEs' request delays."""
    procs = sorted((p for p in doc.get("procedures", []) if p["procedure"] == "solicited_pull"),
                   key=lambda p: p["start"])
    out: list[Burst] = []
    last = None
    for p in procs:
        if last is None or p["start"] - last > BURST_GAP:
            out.append(Burst(p["start"], 0, []))
        last = p["start"]
        out[-1].solicited += 1
        delay = p.get("detail", {}).get("delay")
        if delay is not None:
            out[-1].delays.append(float(delay))
    return out
