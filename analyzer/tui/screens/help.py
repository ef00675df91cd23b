"""``?``: every key binding of the app and what the screen shows."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

ABOUT = """Packets: every packet of the captures (MBMS ones coloured: MIKEY cyan, BM-SC HTTP magenta,
SRTP green; red ones have a finding). Below: the selected packet's fields (decrypted ones in
green) and its bytes; selecting a field highlights its bytes.
Keys: MUKs and each MSK with its MTKs; select a key for its events, Enter filters the packets.
Timeline: key lifecycles (| delivered, - valid, = in use, x superseded).
Procedures: the procedures of TS 33.246 and the ladder diagram of the selected one; the
"all of this UE" rows draw every exchange of one UE. Findings: Enter jumps to the packet.
Filter: field names as in `dissect --json`, e.g. mikey.mbms.msk_id == 00010002,
bmsc.btid contains abc, ip.addr == 10.0.0.7, udp, finding, frame in {1 2 3}, and/or/not;
or "tshark: <Wireshark display filter>" and Enter, applied by tshark.
Live (sniff): packets arrive as captured; p pauses the view, the capture goes on."""


class HelpScreen(ModalScreen[None]):
    """Lists the bindings; any key closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 96; height: auto; border: round $accent; padding: 1 2; }
    """

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.lines = bindings

    def compose(self) -> ComposeResult:
        keys = "\n".join(f"  {key:<10} {what}" for key, what in self.lines)
        with Vertical():
            yield Static(Text(f"Keys\n{keys}\n  Tab        next pane\n\n{ABOUT}\n\n(any key closes)"),
                         id="help-text")

    def on_key(self) -> None:
        self.dismiss(None)
