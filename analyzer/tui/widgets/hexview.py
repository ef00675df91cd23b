"""The bytes of the selected frame, 16 a line, with their ASCII; the bytes of the
selected field are highlighted in both columns (as in Wireshark's bytes pane)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

MAX_BYTES = 65536
HEX_START = 6  # "0000  "
ASCII_START = HEX_START + 16 * 3 + 1
HIGHLIGHT = "reverse bold"


def hexdump(data: bytes) -> str:
    """Wireshark-style hex dump lines."""
    lines = []
    for off in range(0, min(len(data), MAX_BYTES), 16):
        chunk = data[off:off + 16]
        hexpart = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{off:04x}  {hexpart:<47}  {text}")
    return "\n".join(lines) or "(no bytes)"


def highlighted(data: bytes, start: int, end: int) -> Text:
    """The dump of *data* with bytes ``start:end`` highlighted."""
    text = Text(hexdump(data))  # plain text: the ASCII column may hold "[...]"
    end = min(end, len(data), MAX_BYTES)
    line_len = ASCII_START + 16 + 1  # with its newline
    for pos in range(max(0, start), end):
        line, col = divmod(pos, 16)
        base = line * line_len
        text.stylize(HIGHLIGHT, base + HEX_START + col * 3, base + HEX_START + col * 3 + 2)
        text.stylize(HIGHLIGHT, base + ASCII_START + col, base + ASCII_START + col + 1)
    return text


class HexView(Static):
    """Hex and ASCII of one frame."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data = b""
        self.span: tuple[int, int] | None = None
        self.text = Text("")

    def show_bytes(self, data: bytes) -> None:
        self.data, self.span = data, None
        self.text = Text(hexdump(data))
        self.update(self.text)

    def highlight(self, span: tuple[int, int] | None) -> None:
        """Highlight bytes ``span[0]:span[1]`` of the frame (None: none)."""
        self.span = span
        self.text = highlighted(self.data, *span) if span else Text(hexdump(self.data))
        self.update(self.text)
