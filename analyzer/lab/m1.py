"""The lab's traffic as an M1 tap sees it: each IP packet in a SYNC PDU (TS 25.446) in a
GTP-U tunnel (TS 29.281) from the MBMS-GW to an eNodeB (``lab --m1``).

Time is cut into synchronisation sequences of :data:`SEQUENCE` seconds inside
synchronisation periods of :data:`PERIOD` seconds. Each packet becomes a type 1 PDU
whose time stamp is its sequence's start within the period (in 10 ms units), whose
packet number and elapsed octet counter count the PDUs and payload octets before
it in its sequence, with the header CRC-6 and the payload CRC-10. Each sequence
ends with a type 0 PDU that says how many packets and octets the sequence had and,
cumulatively, the period so far - what an eNodeB checks to notice losses.
"""

from __future__ import annotations

import struct

from analyzer.lab.frames import udp_frame
from analyzer.lab.world import Frame
from analyzer.net.sync import sync_header

MBMS_GW = "10.255.0.1"
ENODEB = "10.255.1.1"
GTPU_PORT = 2152
TEID = 0x00000101
SEQUENCE = 0.08   # seconds of a synchronisation sequence (8 units of 10 ms)
PERIOD = 10.24    # seconds of a synchronisation period


def _gtpu(pdu: bytes) -> bytes:
    """A GTP-U G-PDU (version 1, no optional fields) carrying *pdu*."""
    return struct.pack("!BBHI", 0x30, 0xFF, len(pdu), TEID) + pdu


def m1_frames(frames: list[Frame]) -> list[Frame]:
    """*frames* (Ethernet / IPv4) as an M1 capture, with the type 0 PDUs between."""
    out: list[Frame] = []
    if not frames:
        return out
    origin = frames[0].time
    ident = 0
    state = {"seq": None, "start": 0.0, "packets": 0, "octets": 0, "period": None,
             "total_packets": 0, "total_octets": 0}

    def stamp(start: float) -> int:
        return round(((start - origin) % PERIOD) / 0.01)

    def close_sequence() -> None:
        nonlocal ident
        if state["seq"] is None:
            return
        ident += 1
        pdu = sync_header(0, stamp(state["start"]), state["packets"], state["octets"],
                          total_packets=state["total_packets"],
                          total_octets=state["total_octets"])
        end = state["start"] + SEQUENCE
        out.append(Frame(end, udp_frame(MBMS_GW, GTPU_PORT, ENODEB, GTPU_PORT, _gtpu(pdu),
                                        ident), "SYNC type 0"))

    for frame in sorted(frames, key=lambda f: f.time):
        seq = int((frame.time - origin) // SEQUENCE)
        if seq != state["seq"]:
            close_sequence()
            period = int((frame.time - origin) // PERIOD)
            if period != state["period"]:
                state.update(period=period, total_packets=0, total_octets=0)
            state.update(seq=seq, start=origin + seq * SEQUENCE, packets=0, octets=0)
        ip = frame.data[14:]
        pdu = sync_header(1, stamp(state["start"]), state["packets"], state["octets"], ip)
        state["packets"] += 1
        state["octets"] += len(ip)
        state["total_packets"] += 1
        state["total_octets"] += len(ip)
        ident += 1
        out.append(Frame(frame.time, udp_frame(MBMS_GW, GTPU_PORT, ENODEB, GTPU_PORT,
                                               _gtpu(pdu), ident), frame.note))
    close_sequence()
    return sorted(out, key=lambda f: f.time)
