"""Keys as a tree: MUKs, and each MSK with its MTKs, with state and life events."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Tree


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
