"""The result of dissecting one MBMS-relevant packet, and its JSON and text forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from dissectors.issues import Issue
from dissectors.mikey import MIKEY_EXT, iter_layers
from dissectors.mikey.base import Field_, Node
from dissectors.mikey.constants import DATA_TYPES

#: Short data-type names used in summaries (Wireshark's Info column style).
SHORT_TYPES = {0: "PSK msg", 1: "PSK ver msg", 2: "PK msg", 3: "PK ver msg"}

#: The text shown instead of a hidden secret.
HIDDEN = "<hidden, use --reveal-keys>"


@dataclass
class Dissected:
    """One MBMS-relevant packet and what the dissectors made of it.

    Attributes:
        capture: index of the capture file in the command line (0-based).
        frame: 1-based frame number in that file.
        time: capture timestamp (seconds since the epoch).
        src, dst: ``ip:port`` (``[ip]:port`` for IPv6).
        protocol: ``mikey`` for now (later ``bmsc``, ``srtp``, ...).
        summary: one-line Info text.
        items: the dissection tree, :class:`Node` and :class:`Field_` items.
        errors: issues found in the packet.
    """

    capture: int
    frame: int
    time: float
    src: str
    dst: str
    protocol: str
    summary: str
    items: list = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    #: files this packet completed (``alc``): :class:`analyzer.views.alc.OpenedObject`
    downloads: list = field(default_factory=list)
    #: typed facts (:mod:`analyzer.views.facts`), what the flow reconstructor reads
    #: (never the display tree): per MIKEY message of ``items`` in order, a
    #: :class:`~analyzer.views.facts.MikeyFact`; a BM-SC message's
    #: :class:`~analyzer.views.facts.HttpFact`; an SRTP packet's
    #: :class:`~analyzer.views.facts.SrtpFact` (when keys were tried on it)
    mikey: list = field(default_factory=list)
    http: Any = None
    srtp: Any = None

    def fields(self, reveal_keys: bool = False) -> list[list[Any]]:
        """``[name, value]`` pairs in wire order; secrets are None unless revealed."""
        return [[f[0], f[1] if (reveal_keys or not f[4]) else None]
                for f in self.items if type(f) is Field_]

    def to_json(self, reveal_keys: bool = False) -> dict[str, Any]:
        """The ``dissect --json`` object of DESIGN.md."""
        return {
            "capture": self.capture,
            "frame": self.frame,
            "time": self.time,
            "src": self.src,
            "dst": self.dst,
            "protocol": self.protocol,
            "summary": self.summary,
            "fields": self.fields(reveal_keys),
            "errors": [e.to_json() for e in self.errors],
        }

    def to_text(self, reveal_keys: bool = False) -> str:
        """A readable tree like ``tshark -V``."""
        lines = [f"Frame {self.frame} (capture {self.capture}): {self.src} -> {self.dst}, "
                 f"time {self.time:.6f}", f"    {self.summary}"]
        for item in self.items:
            indent = "    " * (item.depth + 1)
            if isinstance(item, Node):
                lines.append(f"{indent}{item.title}")
            else:
                shown = item.display if (reveal_keys or not item.secret) else HIDDEN
                lines.append(f"{indent}{item.label}: {shown}")
        for err in self.errors:
            lines.append(f"    [{err.severity}] {err.code}: {err.message}")
        return "\n".join(lines)


class LazyDissected(Dissected):
    """A :class:`Dissected` whose tree is made by *make* when first read (then kept):
    for packets listed by the tens of thousands and rarely opened (SRTP). Every
    output of it is that of the one made with its tree at once."""

    def __init__(self, *args: Any, make: Callable[[], list], **kwargs: Any) -> None:
        self._make: Callable[[], list] | None = make
        self._items: list | None = None
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def items(self) -> list:
        if self._items is None:
            made = self._make() if self._make is not None else []
            self._items, self._make = made, None
        return self._items

    @items.setter
    def items(self, value: list) -> None:
        # (the dataclass's __init__ sets the default, an empty list: made later)
        self._items = value if value or self._make is None else None


def endpoint(ip: str, port: int) -> str:
    """``ip:port``, with brackets around IPv6 addresses."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def summarize(msg) -> str:
    """Info-column text for one MIKEY message."""
    dtype = getattr(msg, "data_type", None)
    if dtype is None:
        return "MIKEY (malformed)"
    parts = [f"MIKEY {SHORT_TYPES.get(dtype, DATA_TYPES.get(dtype, f'type {dtype}'))}"]
    for layer in iter_layers(msg):
        if isinstance(layer, MIKEY_EXT) and layer.ext_type == 3:
            ids = layer.key_ids_by_type()
            kd, msk, mtk = ids.get(0), ids.get(1), ids.get(2)
            if msk is not None and not any(msk) and (mtk is None or not any(mtk)):
                parts.append("key IDs 0 (solicited pull)")
            elif msk is not None and mtk is None and not any(msk[2:]):
                # Key Number 0 under a Key Group: the trigger (TS 33.246 §6.3.2.2.4, §6.5.3)
                parts.append(f"MSK {_h(kd)}/{msk.hex()}: Key Number 0 (solicited pull)")
            elif mtk is not None:
                parts.append(f"MTK {_h(kd)}/{_h(msk)}/{mtk.hex()}")
            elif msk is not None:
                parts.append(f"MSK {_h(kd)}/{msk.hex()}")
            break
    if getattr(msg, "v", 0):
        parts.append("V=1")
    return ", ".join(parts)


def _h(value: bytes | None) -> str:
    return value.hex() if value is not None else "?"
