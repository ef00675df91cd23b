"""The status bar: how far loading is, and what was found (or what went wrong)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static


class StatusBar(Horizontal):
    """A progress bar and one line of status."""

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=1.0, show_eta=False, id="progress")
        yield Static("loading...", id="status")

    def progress(self, fraction: float) -> None:
        self.query_one("#progress", ProgressBar).update(progress=fraction)

    def say(self, text: str | Text) -> None:
        self.query_one("#status", Static).update(text)
