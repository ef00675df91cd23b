"""Asks for a key file; everything re-derives from it when it loads."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from analyzer.keys.store import KeyFileError, KeyStore, load_keys


class KeyFileScreen(ModalScreen[KeyStore | None]):
    """A path input; dismisses with the loaded key store (None when cancelled)."""

    BINDINGS = [("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    KeyFileScreen { align: center middle; }
    KeyFileScreen > Vertical { width: 80; height: auto; border: round $accent; padding: 1; }
    KeyFileScreen #keyfile-error { color: $error; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Key file (TOML) to load - every key, MSK and MTK re-derives:")
            yield Input(placeholder="path/to/keys.toml", id="keyfile-path")
            yield Static("", id="keyfile-error")

    @on(Input.Submitted, "#keyfile-path")
    def load(self, event: Input.Submitted) -> None:
        try:
            store = load_keys(event.value.strip())
        except KeyFileError as exc:
            self.query_one("#keyfile-error", Static).update(str(exc))
            return
        self.dismiss(store)

    def action_cancel(self) -> None:
        self.dismiss(None)
