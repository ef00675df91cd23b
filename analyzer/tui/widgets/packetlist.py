"""The packet list: a virtual table that draws only the rows on screen.

A million packets are a million integers here, not a million widgets: the
list knows how many rows there are and asks its source for the few it draws
(Textual's line API, ``ScrollView.render_line``). Keys as in Wireshark and
termshark: arrows, Page Up/Down, Home/End; the mouse selects and scrolls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

#: (title, width); the last column takes what is left
COLUMNS = (("No.", 8), ("Time", 12), ("Source", 24), ("Destination", 24), ("Protocol", 9),
           ("Info", 0))


class RowSource(Protocol):
    """What the list draws from."""

    def count(self) -> int: ...

    def cells(self, row: int) -> tuple[tuple[str, ...], str]:
        """The column texts of *row* and its style (Rich style text, may be "")."""


def _fit(text: str, width: int) -> str:
    if len(text) > width:
        return text[:max(0, width - 1)] + "\u2026"
    return text.ljust(width)


def columns_for(time_title: str, time_width: int) -> tuple[tuple[str, int], ...]:
    """The columns with the Time column titled and sized for a time format."""
    return tuple((time_title, time_width) if i == 1 else c for i, c in enumerate(COLUMNS))


def format_row(cells: tuple[str, ...], width: int,
               columns: tuple[tuple[str, int], ...] = COLUMNS) -> str:
    """One table line of *width* characters."""
    parts, used = [], 0
    for (_title, w), text in zip(columns, cells):
        if w:
            parts.append(_fit(text, w - 1) + " ")
            used += w
        else:
            parts.append(_fit(text, max(0, width - used)))
    return "".join(parts)[:width]


class PacketHeader(Static):
    """The column titles above the list."""

    columns: tuple[tuple[str, int], ...] = COLUMNS

    def render(self) -> str:
        return format_row(tuple(t for t, _ in self.columns), self.size.width or 200,
                          self.columns)


class PacketList(ScrollView, can_focus=True):
    """A virtual list of packets with a cursor."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True)

    @dataclass
    class Highlighted(Message):
        """The cursor moved to *row* (a row of the list, not a frame number)."""

        packet_list: "PacketList"
        row: int

        @property
        def control(self) -> "PacketList":
            return self.packet_list

    def __init__(self, source: RowSource, **kwargs) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.row_count = 0
        self.columns = COLUMNS
        self._cursor_style = Style(reverse=True, bold=True)
        self._styles: dict[str, Style] = {}

    # ------------------------------------------------------------------ data

    def reset(self, source: RowSource | None = None) -> None:
        """Start over (a new filter or a new load): cursor at the top."""
        if source is not None:
            self.source = source
        self.row_count = 0
        self.cursor_row = 0
        self.scroll_to(y=0, animate=False)
        self.sync()
        self.refresh()

    def sync(self) -> None:
        """Take in rows the source has grown (the loader adds while we draw)."""
        count = self.source.count()
        if count == self.row_count:
            return
        old, self.row_count = self.row_count, count
        self.virtual_size = Size(self.size.width, count)
        if old == 0:
            self.post_message(self.Highlighted(self, self.cursor_row))
        if old < self.scroll_offset.y + self.size.height:  # new rows are on screen
            self.refresh()

    # ------------------------------------------------------------------ drawing

    def _style(self, text: str) -> Style:
        style = self._styles.get(text)
        if style is None:
            style = self._styles[text] = Style.parse(text) if text else Style()
        return style

    def render_line(self, y: int) -> Strip:
        row = self.scroll_offset.y + y
        width = self.size.width
        if row >= self.row_count or width <= 0:
            return Strip.blank(width)
        cells, style_text = self.source.cells(row)
        style = self._style(style_text)
        if row == self.cursor_row:
            style = style + self._cursor_style
        return Strip([Segment(format_row(cells, width, self.columns).ljust(width), style)],
                     width)

    # ------------------------------------------------------------------ cursor

    def watch_cursor_row(self, row: int) -> None:
        self._scroll_to_cursor()
        # again once the layout has caught up (a list just grown cannot scroll that far yet)
        self.call_after_refresh(self._scroll_to_cursor)
        self.refresh()
        if self.row_count:
            self.post_message(self.Highlighted(self, row))

    def cursor_visible(self) -> bool:
        top = self.scroll_offset.y
        return top <= self.cursor_row < top + max(1, self.scrollable_content_region.height)

    def _scroll_to_cursor(self) -> None:
        row = self.cursor_row
        height = self.scrollable_content_region.height or 1
        top = self.scroll_offset.y
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False, immediate=True)

    def move_cursor(self, row: int) -> None:
        """Put the cursor on *row* (clamped), scrolling it into view."""
        if not self.row_count:
            return
        self.cursor_row = max(0, min(row, self.row_count - 1))

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor_row + step)

    def action_page(self, step: int) -> None:
        self.move_cursor(self.cursor_row + step * max(1, self.scrollable_content_region.height - 1))

    def action_jump(self, where: int) -> None:
        self.move_cursor(self.row_count - 1 if where < 0 else where)

    def action_select(self) -> None:
        self.post_message(self.Highlighted(self, self.cursor_row))

    def on_click(self, event: Click) -> None:
        row = self.scroll_offset.y + event.y
        if 0 <= row < self.row_count:
            self.move_cursor(row)
        self.focus()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.row_count)


class FunctionSource:
    """A :class:`RowSource` from two functions (the app's all-packets and filtered views)."""

    def __init__(self, count: Callable[[], int],
                 cells: Callable[[int], tuple[tuple[str, ...], str]]) -> None:
        self.count = count
        self.cells = cells
