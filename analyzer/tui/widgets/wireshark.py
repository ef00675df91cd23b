"""Wireshark's own dissection of the selected packet (tshark through pyshark), beside ours:
``w`` in the Packets view shows it in place of the bytes (:mod:`analyzer.tui.wireshark`)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree

from analyzer.tui.wireshark import Layer


class WiresharkTree(Tree):
    """tshark's layers and fields of one packet, as Wireshark's details pane shows them."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("Wireshark's view (w): select a packet", **kwargs)  # type: ignore[arg-type]
        self.show_root = True

    def waiting(self, frame: int) -> None:
        self.clear()
        self.root.set_label(Text(f"tshark is dissecting frame {frame}...", style="italic"))

    def show_layers(self, frame: int, layers: list[Layer]) -> None:
        self.clear()
        self.root.set_label(f"Frame {frame} as tshark dissects it")
        for layer in layers:
            node = self.root.add(layer.title, expand=layer.name not in ("eth", "frame"))
            for line in layer.lines:
                node.add_leaf(line)
        self.root.expand()

    def unavailable(self, why: str) -> None:
        self.clear()
        self.root.set_label(Text(why, style="bold yellow"))
