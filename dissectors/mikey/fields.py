"""Scapy field types shared by the MIKEY layers.

:class:`BoundedListField` walks a run of sub-structures (CS ID map entries,
Key data sub-payloads, SP parameters, Key IDs) inside a length or count that
the enclosing payload fixes. Unlike Scapy's ``PacketListField`` it never lets a
short item read past its run and never raises: a sub-structure that does not
fit becomes a :class:`RawItem` holding the rest of the run, and the enclosing
layer receives an issue. Every walk is capped (STYLE.md rule 2).
"""

from __future__ import annotations

from typing import Any, Callable

from scapy.fields import PacketListField, StrField
from scapy.packet import Packet

from .base import Field_, MIKEYPacket, Node, hexstr

#: Most items one run may hold.
MAX_ITEMS = 256

#: ``chooser(pkt, items, rest) -> (cls, length) | None`` picks the class of the
#: next item in *rest* and its wire length (None when it cannot be sized).
Chooser = Callable[[Packet, list, bytes], "tuple[type[Packet], int | None] | None"]


class RawItem(MIKEYPacket):
    """Bytes of a run that do not form a whole item."""

    name = "Malformed data"
    fields_desc = [StrField("load", b"")]

    def tree(self, depth: int = 0):
        yield Node(f"Malformed data ({len(self.load)} bytes)", depth)
        yield Field_("mikey.raw", hexstr(self.load), "Data", depth=depth + 1)


class BoundedListField(PacketListField):
    """A list of sub-structures bounded by a length and/or a count.

    Args:
        name: field name.
        chooser: picks each item's class and wire length (see :data:`Chooser`).
        length_from: bytes the run occupies, or None for "what the count needs".
        count_from: number of items, or None for "until the run is used up".
        issue_code: the issue recorded on the enclosing layer for a bad run.
    """

    __slots__ = ["chooser", "issue_code"]

    def __init__(self, name: str, chooser: Chooser, length_from: Callable | None = None,
                 count_from: Callable | None = None, issue_code: str = "mikey.malformed"):
        super().__init__(name, [], RawItem, length_from=length_from, count_from=count_from)
        self.chooser = chooser
        self.issue_code = issue_code

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, list]:
        length = self.length_from(pkt) if self.length_from is not None else None
        count = self.count_from(pkt) if self.count_from is not None else None
        if length is not None:
            run, after = s[:length], s[length:]
            if len(run) < length:
                _note(pkt, self.issue_code,
                      f"{self.name}: {length} bytes announced, {len(run)} present")
        else:
            run, after = s, b""
        items: list[Packet] = []
        while run and (count is None or len(items) < count):
            if len(items) >= MAX_ITEMS:
                _note(pkt, self.issue_code, f"{self.name}: more than {MAX_ITEMS} items")
                items.append(RawItem(run, _parent=pkt))
                run = b""
                break
            choice = self.chooser(pkt, items, run)
            if choice is None:
                break
            cls, size = choice
            if size is None or size > len(run) or size <= 0:
                _note(pkt, self.issue_code,
                      f"{self.name}: item {len(items) + 1} does not fit in {len(run)} bytes")
                items.append(RawItem(run, _parent=pkt))
                run = b""
                break
            items.append(cls(run[:size], _parent=pkt))
            run = run[size:]
        if count is not None and len(items) < count:
            _note(pkt, self.issue_code, f"{self.name}: {count} items announced, "
                                        f"{len(items)} present")
        if length is None:
            return run + after, items
        if run:
            _note(pkt, self.issue_code, f"{self.name}: {len(run)} bytes left over")
            items.append(RawItem(run, _parent=pkt))
        return after, items

    def i2m(self, pkt: Packet, val: Any) -> bytes:
        return b"".join(bytes(item) for item in (val or []))

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        return s + self.i2m(pkt, val)


def _note(pkt: Packet, code: str, message: str) -> None:
    adder = getattr(pkt, "add_issue", None)
    if adder is not None:
        adder(code, message)
