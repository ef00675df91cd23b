"""The MBMS profile: every protocol assumption that real BM-SCs may break.

DESIGN.md "Protocol assumptions to keep configurable": TS 33.246's text was
not available, so each such choice is a field here with its default, and one
:class:`Profile` object travels through the analysis. A capture from a BM-SC
that differs is read by changing a setting, not the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Profile:
    """Settings that decide where MBMS traffic is found and how it is read.

    Attributes:
        mikey_udp_ports: UDP ports whose payload is taken as MIKEY without the
            heuristic. 2269 is IANA's "mikey"; 4359 ("omabcastltkm") is kept
            because OMA BCAST-derived BM-SCs use it (fact check §2.1) [U].
        mikey_tcp_ports: TCP ports whose segments are taken as MIKEY.
        mikey_heuristic: also try the strict heuristic on other UDP ports.
        embedded_mikey: look for MIKEY in SDP, RTSP KeyMgmt and HTTP bodies, and
            follow HTTP (BM-SC key requests) over reassembled TCP.
        http_ports: TCP ports always parsed as HTTP (elsewhere HTTP is found by content);
            what is not HTTP there is reported.
        flute_ports: UDP destination ports whose payload is taken as ALC/FLUTE
            (TS 26.346 names none: ports come from the SDP) [U].
        alc_heuristic: elsewhere, take UDP that passes the strict LCT heuristic
            (:func:`dissectors.flute.lct.looks_like_alc`) as ALC; its session is
            shown once it carries an FDT Instance (EXT_FDT).
        dcf_key_derivation: how an MTK becomes the DCF keys: ``rfc3830`` (TS 33.246
            §6.5.4: RFC 3830 §4.1.3 TEK encryption/authentication constants, cs_id 0),
            ``direct`` (the MTK is the AES key) or ``auto`` (derived, then direct,
            whichever the padding or the signature confirms) [U].
        dcf_key_trial: when a DCF names no MBMS KeyID (no ``obki`` box, or one laid
            out otherwise), try the known MTKs, newest first, and take one only when
            the padding or the signature confirms it [U].
        tcp_prefilter: follow only TCP to or from hosts known to be BM-SCs, or whose
            payload names MBMS, MIKEY, 3GPP or key-mgmt (:mod:`analyzer.net.prefilter`);
            off, every TCP connection is followed (slower on busy captures).
    """

    mikey_udp_ports: frozenset[int] = field(default_factory=lambda: frozenset({2269, 4359}))
    mikey_tcp_ports: frozenset[int] = field(default_factory=lambda: frozenset({2269, 4359}))
    mikey_heuristic: bool = True
    embedded_mikey: bool = True
    http_ports: frozenset[int] = field(default_factory=lambda: frozenset({80, 8080}))
    tcp_prefilter: bool = True
    flute_ports: frozenset[int] = field(default_factory=frozenset)
    alc_heuristic: bool = True
    dcf_key_derivation: str = "auto"
    dcf_key_trial: bool = True


DEFAULT_PROFILE = Profile()
