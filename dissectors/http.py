"""HTTP/1.1 message framing over a reassembled byte stream (RFC 9112).

:class:`HttpStream` takes one direction of a connection in order, in chunks of
any size, and yields whole :class:`HttpMessage` s: start line, headers, and a
body framed by ``Content-Length``, ``chunked`` transfer coding, or (responses)
the end of the connection. Keep-alive and pipelining follow naturally.

Bounds (STYLE.md rule 2): header block :data:`MAX_HEADER` bytes, at most
:data:`MAX_HEADERS` fields, body kept up to :data:`MAX_BODY` bytes (the rest is
counted and dropped, ``http.body_cap``). A gap in the stream (missing TCP
segments) ends the message in progress as incomplete and the parser looks for
the next start line. Nothing here raises on stream bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .issues import Issue

MAX_HEADER = 65536
MAX_HEADERS = 200
MAX_BODY = 1 << 20
MAX_CHUNK_LINE = 1024

_REQUEST_RE = re.compile(rb"^([A-Z][A-Z0-9_-]{0,19}) (\S{1,8192}) (HTTP/\d\.\d)$")
_RESPONSE_RE = re.compile(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$")
_START_RE = re.compile(rb"(?:[A-Z][A-Z0-9_-]{0,19} \S+ HTTP/\d\.\d|HTTP/\d\.\d \d{3})")


@dataclass
class HttpMessage:
    """One HTTP request or response.

    Attributes:
        is_request: request (True) or response.
        method, uri: request line (requests).
        status, reason: status line (responses).
        version: ``HTTP/1.1`` ...
        headers: ``(name, value)`` in order, names as sent.
        body: the body after transfer decoding (up to :data:`MAX_BODY` bytes).
        body_length: the body's full length (more than ``len(body)`` when capped).
        complete: False when the stream ended or broke before the message did.
        frames: ``(capture, frame)`` of the segments it came from, in order.
        time: timestamp of the segment that completed it.
        issues: framing problems.
    """

    is_request: bool
    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    version: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    body_length: int = 0
    complete: bool = True
    frames: list[tuple[int, int]] = field(default_factory=list)
    time: float = 0.0
    issues: list[Issue] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """The first header called *name* (case-insensitive), or None."""
        low = name.lower()
        for key, value in self.headers:
            if key.lower() == low:
                return value
        return None

    def headers_named(self, name: str) -> list[str]:
        low = name.lower()
        return [v for k, v in self.headers if k.lower() == low]

    @property
    def content_type(self) -> str:
        """The media type of ``Content-Type`` (lowercase, without parameters)."""
        value = self.header("content-type") or ""
        return value.split(";", 1)[0].strip().lower()


class HttpStream:
    """Incremental parser of one direction of an HTTP/1.x connection."""

    def __init__(self, is_server_side: bool) -> None:
        #: True for the server -> client direction (responses).
        self.responses = is_server_side
        self._buf = bytearray()
        self._msg: HttpMessage | None = None
        self._state = "start"      # start | body | chunk_size | chunk_data | chunk_end | trailer | close
        self._remaining = 0
        self._body = bytearray()
        self._frames: list[tuple[int, int]] = []  # frames since the last message ended
        #: methods of requests not yet answered (responses to HEAD carry no body)
        self.pending_methods: list[str] = []

    # ------------------------------------------------------------------ input

    def feed(self, data: bytes, frame: tuple[int, int], time: float) -> list[HttpMessage]:
        """Add stream bytes; return the messages they complete."""
        out: list[HttpMessage] = []
        self._buf += data
        if not self._frames or self._frames[-1] != frame:
            self._frames.append(frame)
        self._run(frame, time, out)
        return out

    def gap(self, missing: int, frame: tuple[int, int], time: float) -> list[HttpMessage]:
        """Bytes are missing here: the message in progress ends incomplete."""
        out: list[HttpMessage] = []
        if self._msg is not None:
            self._msg.issues.append(Issue("http.incomplete", f"{missing} bytes of the stream "
                                          "were not captured inside this message"))
            self._finish(False, time, out)
        self._buf.clear()
        self._state = "resync"
        return out

    def close(self, frame: tuple[int, int], time: float) -> list[HttpMessage]:
        """The connection ended: a body read until close ends here; anything else is cut."""
        out: list[HttpMessage] = []
        if self._msg is not None:
            if self._state == "close":
                self._finish(True, time, out)
            else:
                self._msg.issues.append(Issue("http.incomplete",
                                              "the connection ended inside this message"))
                self._finish(False, time, out)
        elif self._buf.strip():
            msg = HttpMessage(not self.responses, frames=[frame], time=time, complete=False)
            msg.issues.append(Issue("http.incomplete", f"{len(self._buf)} bytes of an "
                                    "unfinished message header at the end of the stream"))
            out.append(msg)
        self._buf.clear()
        return out

    # ------------------------------------------------------------------ machinery

    def _run(self, frame: tuple[int, int], time: float, out: list[HttpMessage]) -> None:
        for _ in range(10_000):  # every pass consumes input or changes state
            state = self._state
            if state == "resync":
                m = _START_RE.search(self._buf)
                if m is None:
                    del self._buf[:max(0, len(self._buf) - 64)]
                    return
                del self._buf[:m.start()]
                self._state = "start"
            elif state == "start":
                if not self._head(frame, time, out):
                    return
            elif state in ("body", "close"):
                if not self._take_body(time, out):
                    return
            elif state == "chunk_size":
                if not self._chunk_size():
                    return
            elif state == "chunk_data":
                if not self._chunk_data():
                    return
            elif state == "chunk_end":
                if len(self._buf) < 2:
                    return
                del self._buf[:2]
                self._state = "chunk_size"
            elif state == "trailer":
                end = self._buf.find(b"\r\n")
                if end < 0:
                    return
                line = bytes(self._buf[:end])
                del self._buf[:end + 2]
                if not line:
                    self._finish(True, time, out)
            else:
                return

    def _head(self, frame: tuple[int, int], time: float, out: list[HttpMessage]) -> bool:
        while self._buf[:2] == b"\r\n":  # stray CRLF between messages (RFC 9112 §2.2)
            del self._buf[:2]
        end = self._buf.find(b"\r\n\r\n", 0, MAX_HEADER + 4)
        if end < 0:
            if len(self._buf) > MAX_HEADER:
                msg = HttpMessage(not self.responses, frames=[frame], time=time, complete=False)
                msg.issues.append(Issue("http.header_cap", f"no end of headers within "
                                        f"{MAX_HEADER} bytes"))
                out.append(msg)
                self._buf.clear()
                self._state = "resync"
            return False
        head = bytes(self._buf[:end])
        del self._buf[:end + 4]
        lines = head.split(b"\r\n")
        msg = HttpMessage(not self.responses, frames=[frame], time=time)
        if self.responses:
            m = _RESPONSE_RE.match(lines[0])
            if m is None:
                return self._garbage(lines[0], frame, time, out)
            msg.version, msg.status = m.group(1).decode(), int(m.group(2))
            msg.reason = (m.group(3) or b"").decode("latin-1")
        else:
            m = _REQUEST_RE.match(lines[0])
            if m is None:
                return self._garbage(lines[0], frame, time, out)
            msg.method, msg.uri, msg.version = (g.decode("latin-1") for g in m.groups())
        for line in lines[1:MAX_HEADERS + 1]:
            if line[:1] in (b" ", b"\t") and msg.headers:  # obsolete line folding
                name, value = msg.headers[-1]
                msg.headers[-1] = (name, value + " " + line.strip().decode("latin-1"))
                continue
            name, sep, value = line.partition(b":")
            if not sep or not name.strip():
                msg.issues.append(Issue("http.bad_header", "a header line without a name"))
                continue
            msg.headers.append((name.strip().decode("latin-1"), value.strip().decode("latin-1")))
        if len(lines) > MAX_HEADERS + 1:
            msg.issues.append(Issue("http.header_cap", f"more than {MAX_HEADERS} header lines"))
        self._msg = msg
        self._body = bytearray()
        msg.body_length = 0
        self._begin_body(time, out)
        return True

    def _garbage(self, line: bytes, frame: tuple[int, int], time: float,
                 out: list[HttpMessage]) -> bool:
        msg = HttpMessage(not self.responses, frames=[frame], time=time, complete=False)
        msg.issues.append(Issue("http.bad_start_line",
                                f"not an HTTP start line: {line[:60]!r}"))
        out.append(msg)
        self._state = "resync"
        return True

    def _begin_body(self, time: float, out: list[HttpMessage]) -> None:
        msg = self._msg
        assert msg is not None
        method = ""
        if not msg.is_request and self.pending_methods:
            # an interim (1xx) response leaves its request waiting for the final one
            method = self.pending_methods[0] if msg.status < 200 else self.pending_methods.pop(0)
        te = (msg.header("transfer-encoding") or "").lower()
        length = msg.header("content-length")
        if not msg.is_request and (method == "HEAD" or msg.status in (204, 304)
                                   or 100 <= msg.status < 200):
            self._finish(True, time, out)
        elif "chunked" in te:
            self._state = "chunk_size"
        elif length is not None:
            text = length.strip()
            if not (text.isascii() and text.isdigit()):  # "³" passes isdigit(), not int()
                msg.issues.append(Issue("http.bad_length", f"Content-Length {length!r}"))
                self._finish(False, time, out)
                return
            self._remaining = int(text)
            self._state = "body"
            if self._remaining == 0:
                self._finish(True, time, out)
        elif msg.is_request:
            self._finish(True, time, out)
        else:
            self._state = "close"

    def _keep(self, data: bytes) -> None:
        msg = self._msg
        assert msg is not None
        msg.body_length += len(data)
        room = MAX_BODY - len(self._body)
        if room > 0:
            self._body += data[:room]
        if len(data) > room and not any(i.code == "http.body_cap" for i in msg.issues):
            msg.issues.append(Issue("http.body_cap", f"body longer than {MAX_BODY} bytes: "
                                    "the rest is counted, not kept"))

    def _take_body(self, time: float, out: list[HttpMessage]) -> bool:
        if self._state == "close":
            if self._buf:
                self._keep(bytes(self._buf))
                self._buf.clear()
            return False
        take = min(self._remaining, len(self._buf))
        if take:
            self._keep(bytes(self._buf[:take]))
            del self._buf[:take]
            self._remaining -= take
        if self._remaining == 0:
            self._finish(True, time, out)
            return True
        return False

    def _chunk_size(self) -> bool:
        end = self._buf.find(b"\r\n", 0, MAX_CHUNK_LINE)
        if end < 0:
            if len(self._buf) > MAX_CHUNK_LINE and self._msg is not None:
                self._msg.issues.append(Issue("http.bad_chunk", "chunk size line too long"))
                self._state = "resync"
                return True
            return False
        line = bytes(self._buf[:end]).split(b";", 1)[0].strip()
        del self._buf[:end + 2]
        try:
            size = int(line, 16)
        except ValueError:
            if self._msg is not None:
                self._msg.issues.append(Issue("http.bad_chunk", f"chunk size {line[:20]!r}"))
            self._state = "resync"
            return True
        if size == 0:
            self._state = "trailer"
        else:
            self._remaining = size
            self._state = "chunk_data"
        return True

    def _chunk_data(self) -> bool:
        take = min(self._remaining, len(self._buf))
        if not take:
            return False
        self._keep(bytes(self._buf[:take]))
        del self._buf[:take]
        self._remaining -= take
        if self._remaining == 0:
            self._state = "chunk_end"
        return True

    def _finish(self, complete: bool, time: float, out: list[HttpMessage]) -> None:
        msg = self._msg
        if msg is None:
            return
        msg.body = bytes(self._body)
        msg.complete = complete and msg.complete
        msg.time = time
        if self._frames:
            msg.frames = self._frames
        self._frames = [msg.frames[-1]] if self._buf else []
        out.append(msg)
        self._msg = None
        self._body = bytearray()
        self._state = "start"
