"""The Keys pane: MUKs, and each MSK with its MTKs, with state and life events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Static, Tree

from analyzer.tui.widgets.timeline_view import TimelineView


def _times(key: dict[str, Any]) -> str:
    ev = {e["event"]: e for e in key["events"]}
    parts = []
    for name in ("delivered", "first_use", "last_use", "superseded"):
        if name in ev:
            parts.append(f"{name} #{ev[name]['frame']}")
    detail = ev.get("last_use", {}).get("detail", {})
    if detail.get("uses"):
        parts.append(f"{detail['uses']} packets")
    if detail.get("files"):
        parts.append(f"{detail['files']} file{'s' if detail['files'] != 1 else ''}")
    return ", ".join(parts)


class KeysTree(Tree):
    """The timeline's keys: MUK / MSK -> MTK."""

    def __init__(self, **kwargs) -> None:
        super().__init__("Keys", **kwargs)

    def show_keys(self, keys: list[dict[str, Any]]) -> None:
        self.clear()
        muks = self.root.add("MUKs", expand=True)
        msks = self.root.add("MSKs", expand=True)
        nodes: dict[tuple, Any] = {}
        for key in keys:
            if key["kind"] == "MUK":
                muks.add_leaf(Text(f"{key['idr']} ({key['state']}) {_times(key)}"), data=key)
            elif key["kind"] == "MSK":
                ues = ", ".join(key.get("ues", [])) or "no UE"
                nodes[(key["key_domain"], key["msk_id"])] = msks.add(
                    Text(f"MSK {key['key_domain']}/{key['msk_id']} ({key['state']}) held by "
                         f"{ues}; {_times(key)}"), data=key, expand=True)
        for key in keys:
            if key["kind"] == "MTK":
                parent = nodes.get((key["key_domain"], key["msk_id"]), msks)
                parent.add_leaf(Text(f"MTK {key['mtk_id']} ({key['state']}) {_times(key)}"),
                                data=key)
        self.root.expand()


class KeysPane(TimelineView, Horizontal):
    """The Keys tab: the tree of keys, and the events of the highlighted one; Enter on
    a key filters the packet list to its frames."""

    shows = ("keys",)

    @dataclass
    class ShowFrames(Message):
        """The user chose a key: list the frames of its events."""

        frames: list[int]

    _keys_shown: list[dict[str, Any]] | None = None

    def compose(self) -> ComposeResult:
        yield KeysTree(id="keys")
        yield Static("Select a key: its events show here; enter shows its packets.",
                     id="key-events")

    def render_timeline(self, doc: dict[str, Any]) -> None:
        tree = self.query_one("#keys", KeysTree)
        keys = doc.get("keys", [])
        if keys != self._keys_shown:  # a new time format alone leaves the tree as it is
            self._keys_shown = keys
            tree.show_keys(keys)
        if tree.cursor_node is not None and tree.cursor_node.data:
            self._events(tree.cursor_node.data)

    @on(Tree.NodeHighlighted, "#keys")
    def _show_key(self, event: Tree.NodeHighlighted) -> None:
        if event.node.data:
            self._events(event.node.data)

    def _events(self, key: dict[str, Any]) -> None:
        ids = "/".join(x for x in (key["key_domain"], key["msk_id"], key["mtk_id"]) if x)
        lines = [f"{key['kind']} {ids or key['idr']}", f"state: {key['state']}"]
        previous = None
        for e in key["events"]:
            detail = ", ".join(f"{k}={v}" for k, v in e["detail"].items())
            lines.append(f"{self.when(e['time'], previous)}  #{e['frame']:<6} "
                         f"{e['event']:<13} {e['ue'] or ''} {detail}")
            previous = e["time"]
        self.query_one("#key-events", Static).update(Text("\n".join(lines)))

    def select_key(self, key: dict[str, Any]) -> None:
        """Put the tree's cursor on *key* (chosen elsewhere, e.g. on the Timeline)."""
        tree = self.query_one("#keys", KeysTree)
        stack = [tree.root]
        while stack:
            node = stack.pop()
            if node.data is key or (node.data and key.get("kind") == node.data.get("kind")
                                    and all(node.data.get(f) == key.get(f) for f in
                                            ("key_domain", "msk_id", "mtk_id", "idr"))):
                tree.move_cursor(node)
                return
            stack.extend(node.children)

    @on(Tree.NodeSelected, "#keys")
    def _chosen(self, event: Tree.NodeSelected) -> None:
        key = event.node.data
        if key:
            self.post_message(self.ShowFrames(sorted({e["frame"] for e in key["events"]})))
