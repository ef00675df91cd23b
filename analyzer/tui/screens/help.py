"""``?``: every key binding of the app and what the screen shows."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

ABOUT = """Views (keys 1-6):
 1 Packets: every packet of the captures (MIKEY cyan, BM-SC HTTP magenta, SRTP green, others
   grey; a packet with a finding: white on red for an error, black on orange for a warning).
   Below: the selected packet's fields (decrypted ones in green) and its bytes; selecting a
   field highlights its bytes. Arrows, Page Up/Down, Home/End move; n / N: next / previous
   finding; w: Wireshark's own dissection of the packet (tshark) in place of the bytes.
 2 Keys: MUKs and each MSK with its MTKs; a key's events on the right; Enter lists its packets.
 3 Timeline: each MSK and MTK as a lane over time (delivered, valid, in use, superseded,
   rejected or failed, findings), with a legend; up/down choose a key, Enter lists its
   packets, +/- zoom, left/right pan, 0 shows all; the mouse wheel zooms, a click chooses.
 4 Procedures: the procedures of TS 33.246 and the ladder diagram of the selected one; the
   "all of this UE" rows draw every exchange of one UE.
 5 Findings: Enter jumps to the packet.
 6 Plots: per SRTP stream, packets and authentication failures per second with MTK changes;
   per solicitation, how the UEs spread their requests.
/ filter: field names as in the packet details, e.g. mikey.mbms.msk_id == 00010002,
bmsc.btid contains abc, ip.addr == 10.0.0.7, udp, finding, frame in {1 2 3}, and/or/not;
or "tshark: <Wireshark display filter>" then Enter, applied by tshark. Enter or Escape go
back to the packet list. t: time as seconds since the first packet, UTC date and time, or
delta to the previous item, in every view. ctrl+r shows key material (hidden otherwise).
Live capture: packets arrive as captured; p pauses the view, the capture goes on."""


class HelpScreen(ModalScreen[None]):
    """Lists the bindings; any key closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 100; height: auto; max-height: 95%;
                                   border: round $accent; padding: 0 2; }
    """

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.lines = bindings

    def compose(self) -> ComposeResult:
        cells = [f"{key:<8} {what}" for key, what in [*self.lines, ("Tab", "next pane")]]
        half = (len(cells) + 1) // 2  # two columns: the whole help fits a 40-row terminal
        keys = "\n".join(f"  {left:<42}{right}" for left, right in
                          zip(cells[:half], cells[half:] + [""]))
        with VerticalScroll():
            yield Static(Text(f"Keys\n{keys}\n\n{ABOUT}\n\n(Escape or any key closes)"),
                         id="help-text")

    def on_key(self) -> None:
        self.dismiss(None)
