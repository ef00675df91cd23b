"""The bytes of the selected frame, 16 a line, with their ASCII."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

MAX_BYTES = 65536


def hexdump(data: bytes) -> str:
    """Wireshark-style hex dump lines."""
    lines = []
    for off in range(0, min(len(data), MAX_BYTES), 16):
        chunk = data[off:off + 16]
        hexpart = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{off:04x}  {hexpart:<47}  {text}")
    return "\n".join(lines) or "(no bytes)"


class HexView(Static):
    """Hex and ASCII of one frame."""

    def show_bytes(self, data: bytes) -> None:
        self.update(Text(hexdump(data)))  # plain text: the ASCII column may hold "[...]"
