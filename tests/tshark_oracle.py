"""tshark as the oracle: its MIKEY fields per packet, normalised to our JSON values.

tshark's PDML gives, per field, ``show`` (the display value) and ``value``
(the raw bytes in hex). Values are normalised by the field type that
``tshark -G fields`` reports: integers and booleans from ``show``; bytes and
absolute times from ``value`` (our JSON gives bytes as lowercase hex, and the
NTP timestamp as its 8 wire bytes); strings from ``show``. Container items
(FT_NONE) are left out.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from defusedxml import ElementTree

INT_TYPES = ("FT_UINT", "FT_INT", "FT_BOOLEAN")


def tshark_path() -> str | None:
    """The tshark binary, or None when it is not installed."""
    return shutil.which("tshark")


@functools.lru_cache(maxsize=1)
def field_types() -> dict[str, str]:
    """``mikey.*`` field name -> FT_ type, from ``tshark -G fields``."""
    out = subprocess.run([tshark_path() or "tshark", "-G", "fields"], capture_output=True,
                         text=True, check=True).stdout
    types = {}
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) > 3 and cols[0] == "F" and cols[2].startswith("mikey."):
            types[cols[2]] = cols[3]
    return types


def _normalise(name: str, show: str, value: str) -> object:
    ftype = field_types().get(name, "FT_BYTES")
    if ftype.startswith(INT_TYPES):
        return int(show, 0)
    if ftype in ("FT_BYTES", "FT_ABSOLUTE_TIME"):
        return value.lower()
    return show


def tshark_mikey_fields(pcap: Path, port: int = 2269) -> list[list[tuple[str, object]]]:
    """Per packet (capture order), tshark's ``mikey.*`` leaf fields in tree order."""
    cmd = [tshark_path() or "tshark", "-r", str(pcap), "-T", "pdml",
           "-d", f"udp.port=={port},mikey", "-o", "mikey.udp.port:%d" % port]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:  # the -o pref name may differ: retry without it
        proc = subprocess.run(cmd[:-2], capture_output=True, check=True)
    root = ElementTree.fromstring(proc.stdout)
    packets = []
    types = field_types()
    for packet in root.iter("packet"):
        fields: list[tuple[str, object]] = []
        for proto in packet.iter("proto"):
            if proto.get("name") != "mikey":
                continue
            for f in proto.iter("field"):
                name = f.get("name", "")
                if not name.startswith("mikey.") or types.get(name) == "FT_NONE":
                    continue
                fields.append((name, _normalise(name, f.get("show", ""), f.get("value", ""))))
        packets.append(fields)
    return packets
