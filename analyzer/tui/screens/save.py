"""Asks where to write a file (F3 timeline, F4 decrypted capture), with a default."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class SaveScreen(ModalScreen[Path | None]):
    """A path input filled with a sensible default; dismisses with the chosen path
    (None when cancelled). A folder that does not exist is refused with a reason."""

    BINDINGS = [("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    SaveScreen { align: center middle; }
    SaveScreen > Vertical { width: 90; height: auto; border: round $accent; padding: 1; }
    SaveScreen #save-error { color: $error; }
    """

    def __init__(self, title: str, default: Path) -> None:
        super().__init__()
        self.title_text = title
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"{self.title_text} - Enter writes, Escape cancels:")
            yield Input(value=str(self.default), id="save-path")
            yield Static("", id="save-error")

    @on(Input.Submitted, "#save-path")
    def chosen(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.query_one("#save-error", Static).update("a file name, please")
            return
        path = Path(text).expanduser()
        if path.is_dir():
            self.query_one("#save-error", Static).update(f"{path} is a folder: add a file name")
            return
        if not path.parent.is_dir():
            self.query_one("#save-error", Static).update(f"no folder {path.parent}")
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
