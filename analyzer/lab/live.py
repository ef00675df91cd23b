"""Live lab traffic over real sockets (``lab --send HOST``).

UDP (MIKEY, SRTP, the rest) goes from a local socket to *HOST* on the frame's
destination port (multicast destinations too: the lab has no multicast route
to rely on); each HTTP exchange is a real TCP connection from a client to a
small BM-SC server this module runs on *HOST*, which answers each request with
the scenario's response. Timing follows the capture timestamps divided by
*speed*. The traffic goes only to *HOST*, which must be an address of this
machine (loopback or a test namespace).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Iterable

from analyzer.lab.world import HTTP_PORT, Frame, World
from analyzer.net.decode import decode_transport

MAX_MESSAGE = 1 << 20


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(min(65536, n - len(out)))
        if not chunk:
            break
        out += chunk
    return bytes(out)


class _Bmsc(threading.Thread):
    """Answers the scenario's HTTP exchanges in order, one connection each."""

    def __init__(self, host: str, exchanges: list, port: int) -> None:
        super().__init__(daemon=True)
        self.listener = socket.create_server((host, port))
        self.listener.settimeout(30)
        self.exchanges = exchanges
        self.served = 0

    def run(self) -> None:
        for _, _ue, pairs in self.exchanges:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(30)
                for request, response in pairs:
                    if len(_recv_exact(conn, min(len(request), MAX_MESSAGE))) < len(request):
                        break
                    conn.sendall(response)
            self.served += 1
        self.listener.close()


def send(frames: Iterable[Frame], host: str, speed: float = 1.0, world: World | None = None,
         http_port: int = HTTP_PORT) -> int:
    """Send the scenario live to *host*; returns the number of UDP datagrams and HTTP exchanges."""
    frames = list(frames)
    exchanges = sorted(world.exchanges, key=lambda e: e[0]) if world is not None else []
    server = _Bmsc(host, exchanges, http_port) if exchanges else None
    if server is not None:
        server.start()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start_real = time.monotonic()
    first = frames[0].time if frames else 0.0
    events = [(f.time, 0, f) for f in frames] + [(e[0], 1, e) for e in exchanges]
    events.sort(key=lambda x: (x[0], x[1]))
    sent = 0
    speed = max(speed, 1e-6)
    try:
        for when, kind, item in events:
            delay = (when - first) / speed - (time.monotonic() - start_real)
            if delay > 0:
                time.sleep(min(delay, 5.0))
            if kind == 1:
                _, _ue, pairs = item
                with socket.create_connection((host, http_port), timeout=30) as conn:
                    for request, response in pairs:
                        conn.sendall(request)
                        _recv_exact(conn, len(response))
                sent += 1
                continue
            tp = decode_transport(1, item.data)
            if tp is None or tp.proto != "udp":
                continue  # TCP frames are replayed by the real HTTP exchanges
            udp.sendto(tp.payload, (host, tp.dport))
            sent += 1
    finally:
        udp.close()
        if server is not None:
            server.join(timeout=10)
    return sent
