"""FLUTE downloads (RFC 6726) on ALC/LCT (RFC 5775, RFC 5651), the FDT, and the
OMA DRM v2 DCF objects MBMS protects them with (RFC 4563 §2, §7)."""

from .lct import AlcPacket, Fti, build_alc, looks_like_alc, parse_alc

__all__ = ["AlcPacket", "Fti", "build_alc", "looks_like_alc", "parse_alc"]
