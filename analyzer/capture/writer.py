"""Capture writing: a classic pcap file (microsecond timestamps), what Wireshark opens everywhere."""

from __future__ import annotations

import struct
from pathlib import Path
from types import TracebackType

from analyzer.capture.reading import Record


class PcapWriter:
    """Write :class:`Record` s of one link type to a pcap file.

    The link type is taken from the first record; a record of another link type
    raises :class:`ValueError` (pcap holds one link type per file).
    """

    def __init__(self, path: str | Path, snaplen: int = 262144) -> None:
        self._fh = open(path, "wb")
        self._linktype: int | None = None
        self._snaplen = snaplen

    def write(self, record: Record, data: bytes | None = None) -> None:
        """Write *record*, with *data* in place of its bytes when given."""
        data = record.data if data is None else data
        if self._linktype is None:
            self._linktype = record.linktype
            self._fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, self._snaplen,
                                       record.linktype))
        elif record.linktype != self._linktype:
            raise ValueError(f"link type {record.linktype} after {self._linktype}: "
                             "pcap holds one link type")
        sec = int(record.time)
        usec = int(round((record.time - sec) * 1e6))
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        orig = record.orig_len + (len(data) - len(record.data))
        self._fh.write(struct.pack("<IIII", sec, usec, len(data), max(orig, len(data))) + data)

    def close(self) -> None:
        if self._linktype is None:  # an empty capture still gets a header
            self._fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, self._snaplen, 1))
        self._fh.close()

    def __enter__(self) -> "PcapWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class PcapngWriter:
    """Write frames to a pcapng file: one section, one Ethernet interface (µs timestamps).

    Nothing depends on the wall clock or the host, so the same frames give the same bytes.
    """

    def __init__(self, path: str | Path, linktype: int = 1, snaplen: int = 262144) -> None:
        self._fh = open(path, "wb")
        shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
        idb = struct.pack("<IIHHI", 1, 20, linktype, 0, snaplen) + struct.pack("<I", 20)
        self._fh.write(shb + idb)

    def write(self, time: float, data: bytes) -> None:
        """Write one frame captured at *time* (seconds since the epoch)."""
        ts = int(round(time * 1e6))
        pad = (-len(data)) % 4
        total = 32 + len(data) + pad
        self._fh.write(struct.pack("<IIIIIII", 6, total, 0, ts >> 32, ts & 0xFFFFFFFF,
                                   len(data), len(data)) + data + b"\x00" * pad
                       + struct.pack("<I", total))

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "PcapngWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
