"""FLUTE/ALC reception (RFC 6726, RFC 5775): objects reassembled from their
encoding symbols, per session and TOI, with the FDT that names them.
"""
