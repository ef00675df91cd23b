"""The details tree of the selected packet (like Wireshark's middle pane).

Each node's ``data`` is the index of its item in ``Dissected.items``: the app
maps it to the item's bytes for the hex view.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree

from analyzer.views.result import HIDDEN, Dissected
from dissectors.mikey.base import Field_, Node


class DetailsTree(Tree):
    """Nodes and fields of one dissected packet; decrypted fields are marked."""

    def __init__(self, **kwargs) -> None:
        super().__init__("No packet selected", **kwargs)
        self.show_root = True
        self.reveal_keys = False

    def show_packet(self, pkt: Dissected | None) -> None:
        self.clear()
        if pkt is None:
            self.root.set_label("No packet selected")
            return
        self.root.set_label(Text(f"Frame {pkt.frame} (capture {pkt.capture}): {pkt.summary}"))
        stack = [(self.root, -2)]
        for n, item in enumerate(pkt.items):
            depth = item.depth
            while len(stack) > 1 and stack[-1][1] >= depth:
                stack.pop()
            parent = stack[-1][0]
            if isinstance(item, Node):
                node = parent.add(Text(item.title), expand=True, data=n)
                stack.append((node, depth))
            elif isinstance(item, Field_):
                shown = item.display if (self.reveal_keys or not item.secret) else HIDDEN
                label = Text(f"{item.label}: {shown}")
                if ".decrypted." in item.name or item.name in ("srtp.result", "srtp.key"):
                    label.stylize("bold green")
                parent.add_leaf(label, data=n)
        for err in pkt.errors:
            self.root.add_leaf(Text(f"[{err.severity}] {err.code}: {err.message}", style="bold red"))
        self.root.expand()
