"""Capture files and interfaces: reading pcap/pcapng (bounded, never raising on
damage), writing pcap, following a live dumpcap, the profile of where MBMS is
looked for, and where a packet was seen. The lowest layer that knows of captures.
"""
