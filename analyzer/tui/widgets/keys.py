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

    def compose(self) -> ComposeResult:
        yield KeysTree(id="keys")
        yield Static("Select a key: its events show here; enter shows its packets.",
                     id="key-events")

    def render_timeline(self, doc: dict[str, Any]) -> None:
        self.query_one("#keys", KeysTree).show_keys(doc.get("keys", []))

    @on(Tree.NodeHighlighted, "#keys")
    def _show_key(self, event: Tree.NodeHighlighted) -> None:
        key = event.node.data
        if not key:
            return
        ids = "/".join(x for x in (key["key_domain"], key["msk_id"], key["mtk_id"]) if x)
        lines = [f"{key['kind']} {ids or key['idr']}", f"state: {key['state']}"]
        for e in key["events"]:
            detail = ", ".join(f"{k}={v}" for k, v in e["detail"].items())
            lines.append(f"{e['time']:.6f}  #{e['frame']:<6} {e['event']:<13} "
                         f"{e['ue'] or ''} {detail}")
        self.query_one("#key-events", Static).update(Text("\n".join(lines)))

    @on(Tree.NodeSelected, "#keys")
    def _chosen(self, event: Tree.NodeSelected) -> None:
        key = event.node.data
        if key:
            self.post_message(self.ShowFrames(sorted({e["frame"] for e in key["events"]})))
