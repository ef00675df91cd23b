"""Wireshark's own dissection of one packet, through pyshark (tshark), for the details
pane's second view (``w`` in the TUI): every protocol tshark knows (DNS, TCP options,
RTCP ...), its layers and fields with Wireshark's labels. No Textual here."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass

#: MIKEY on 4359 too, as the analyzer's profile reads it (tshark knows 2269 only)
DECODE_AS = {"udp.port==4359": "mikey"}
MAX_FIELDS = 2000


class WiresharkUnavailable(Exception):
    """tshark (or pyshark) is missing: the message says what to install."""


@dataclass(frozen=True)
class Layer:
    """One protocol layer of tshark's dissection: its name and field lines."""

    name: str
    title: str
    lines: tuple[str, ...]


def available() -> str | None:
    """Why tshark's view cannot be shown (None: it can)."""
    if shutil.which("tshark") is None:
        return "tshark is not installed (apt-get install tshark): Wireshark's view needs it"
    try:
        import pyshark  # noqa: F401
    except ImportError:
        return "pyshark is not installed (pip install pyshark)"
    return None


def dissect(path: str, frame: int) -> list[Layer]:
    """tshark's layers of frame *frame* (1-based) of capture *path*.

    Raises :class:`WiresharkUnavailable` when tshark or pyshark is missing, and
    :class:`LookupError` when tshark does not have that frame.
    """
    problem = available()
    if problem is not None:
        raise WiresharkUnavailable(problem)
    import pyshark

    loop = asyncio.new_event_loop()  # pyshark runs tshark on an event loop of its own
    asyncio.set_event_loop(loop)
    capture = pyshark.FileCapture(path, display_filter=f"frame.number == {int(frame)}",
                                  decode_as=DECODE_AS)
    try:
        packet = next(iter(capture), None)
        if packet is None:
            raise LookupError(f"tshark has no frame {frame} in {path}")
        out = []
        budget = MAX_FIELDS
        for layer in packet.layers:
            lines = []
            for field in layer._get_all_fields_with_alternates():
                shown = getattr(field, "showname", "") or f"{field.name}: {field.show}"
                if shown and budget > 0:
                    lines.append(shown)
                    budget -= 1
            title = getattr(layer, "_layer_name", layer.layer_name)
            out.append(Layer(layer.layer_name, _TITLES.get(title, title.upper()), tuple(lines)))
        return out
    finally:
        capture.close()
        loop.close()


_TITLES = {"eth": "Ethernet II", "ip": "Internet Protocol Version 4",
           "ipv6": "Internet Protocol Version 6", "udp": "User Datagram Protocol",
           "tcp": "Transmission Control Protocol", "dns": "Domain Name System",
           "mikey": "Multimedia Internet KEYing", "http": "Hypertext Transfer Protocol",
           "rtp": "Real-Time Transport Protocol", "rtcp": "Real-time Transport Control Protocol",
           "gtp": "GPRS Tunneling Protocol", "sync": "MBMS synchronisation protocol",
           "_ws.malformed": "[Malformed Packet]", "frame": "Frame"}
