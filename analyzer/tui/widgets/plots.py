"""The Plots pane: per SRTP stream, packets and authentication failures per second with
the MTK changes marked; per solicitation, the spread of the UEs' request delays
(:mod:`analyzer.tui.plots`), drawn with Textual's sparklines."""

from __future__ import annotations

from typing import Any, Callable

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Sparkline, Static

from analyzer.tui.plots import solicitations, streams
from analyzer.tui.timefmt import format_span
from analyzer.tui.widgets.timeline_view import TimelineView

LABEL = 12  # the label column left of each plot


class Marks(Widget):
    """A line of markers under a plot: ``^`` at each time, on the plot's time scale."""

    DEFAULT_CSS = "Marks { height: 1; width: 1fr; }"

    def __init__(self, start: float, end: float, marks: list[tuple[float, str]],
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start, self.end, self.marks = start, end, marks

    def render(self) -> Text:
        width = max(1, self.size.width)
        span = (self.end - self.start) or 1.0
        line = [" "] * width
        for t, label in self.marks:
            c = min(width - 1, max(0, int((t - self.start) / span * (width - 1))))
            line[c] = "^"
            text = label.rsplit("/", 1)[-1]
            for k, ch in enumerate(text[: width - c - 1]):
                if line[c + 1 + k] == " ":
                    line[c + 1 + k] = ch
        return Text("".join(line), style="bold cyan")


class Axis(Widget):
    """The ends of a plot's horizontal scale: the low value left, the high one right."""

    DEFAULT_CSS = "Axis { height: 1; width: 1fr; }"

    def __init__(self, low: str, middle: str, high: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.parts = (low, middle, high)

    def render(self) -> Text:
        low, middle, high = self.parts
        width = max(len(low) + len(high) + 2, self.size.width)
        inner = width - len(low) - len(high)
        return Text(low + middle.center(inner) + high, style="dim")


def stretch(values: list[int], points: int = 400) -> list[int]:
    """*values* repeated so that a sparkline spreads them over its whole width (it
    draws one bar per value at most, left-aligned)."""
    if not values:
        return [0]
    times = max(1, -(-points // len(values)))
    return [v for v in values for _ in range(times)]


def _row(label: str, plot: Widget, style: str = "") -> list[Widget]:
    head = Static(Text(f"{label:<{LABEL}}", style=style), classes="plot-label")
    return [head, plot]


class PlotsPane(TimelineView, VerticalScroll):
    """Plots of the SRTP streams and the solicitations of the loaded captures."""

    shows = ("procedures", "keys")
    DEFAULT_CSS = """
    PlotsPane { padding: 0 1; }
    PlotsPane .plot-title { margin-top: 1; text-style: bold; }
    PlotsPane .plot-label { width: 12; height: 1; }
    PlotsPane Sparkline { height: 1; width: 1fr; }
    PlotsPane .plot-row { height: 1; layout: horizontal; }
    """

    def __init__(self, packets: Callable[[], list[Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._packets = packets

    def render_timeline(self, doc: dict[str, Any]) -> None:
        self.call_after_refresh(self._rebuild, doc)

    async def _rebuild(self, doc: dict[str, Any]) -> None:
        from textual.containers import Horizontal

        widgets: list[Widget] = [Static(Text(
            "SRTP streams: packets per second, authentication failures per second, "
            "^ where the MTK changed", style="bold"), classes="plot-title")]
        series = streams(self._packets())
        if not series:
            widgets.append(Static("  no SRTP stream opened: none in these captures, or no key "
                                  "opens them (F2 loads a key file; SRTP under learned MTKs "
                                  "shows here)"))
        for s in series:
            widgets.append(Static(Text(
                f"SSRC 0x{s.ssrc:08x} -> {s.dst}: {s.total} packets over "
                f"{format_span(s.end - s.start)} from {self.when(s.start)}, "
                f"{s.failed} authentication failures, {len(s.changes)} keys"),
                classes="plot-title"))
            widgets.append(Horizontal(*_row("packets/s", Sparkline(stretch(s.packets))),
                                      classes="plot-row"))
            widgets.append(Horizontal(*_row("failures/s", Sparkline(
                stretch(s.failures), min_color="#5f0000", max_color="#ff3030"),
                "red" if s.failed else ""), classes="plot-row"))
            widgets.append(Horizontal(Static(f"{'MTK':<{LABEL}}", classes="plot-label"),
                                      Marks(s.start, s.end + 1, s.changes),
                                      classes="plot-row"))
        widgets.append(Static(Text(
            "Solicitations: the UEs' request delays (TS 33.246 §6.3.2.2.4; a BM-SC should "
            "see them spread, not at once)", style="bold"), classes="plot-title"))
        bursts = solicitations(doc)
        if not bursts:
            widgets.append(Static("  no solicited pull in these captures"))
        for b in bursts:
            widgets.append(Static(f"at {self.when(b.start)}: {b.summary()}",
                                  classes="plot-title"))
            top = max(b.delays, default=0.0)
            widgets.append(Horizontal(*_row("UEs", Sparkline(stretch(b.histogram(40)))),
                                      classes="plot-row"))
            widgets.append(Horizontal(Static(" " * LABEL, classes="plot-label"),
                                      Axis("0 s", "request delay after the solicitation",
                                           format_span(top)), classes="plot-row"))
        await self.remove_children()
        await self.mount_all(widgets)
