"""Network layers by slicing: link/IP/UDP/TCP decoding, IP fragment reassembly, TCP
streams and HTTP messages over them, and the prefilter that drops in a few header
bytes what cannot concern MBMS.
"""
