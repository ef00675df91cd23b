"""The findings the reconstructor raises: one class per code, registered when defined.

A finding kind is a subclass of :class:`FindingKind` with a stable ``code`` (the
timeline's ``findings[].code``), a ``severity`` and a docstring that says what it
means; defining it registers it (as mitmproxy's hooks register in
``__init_subclass__``), and a code defined twice is an error at import. To add a
finding: write its class here, raise it with ``Reconstructor._finding``. The
dissectors' own issue codes (``dissectors.issues.ISSUE_CODES``) are passed on as
findings too and are not repeated here.
"""

from __future__ import annotations

from typing import ClassVar

from analyzer.vocab import Severity


class FindingKind:
    """Base of every finding kind; subclasses register themselves by ``code``."""

    code: ClassVar[str]
    severity: ClassVar[Severity]
    registry: ClassVar[dict[str, type[FindingKind]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        code = cls.__dict__.get("code")
        if not isinstance(code, str) or "." not in code:
            raise TypeError(f"{cls.__name__}: a finding needs a code like 'area.name'")
        if code in FindingKind.registry:
            raise TypeError(f"finding code {code!r} registered twice "
                            f"({FindingKind.registry[code].__name__}, {cls.__name__})")
        if not isinstance(cls.__dict__.get("severity"), Severity):
            raise TypeError(f"{cls.__name__}: a finding needs a Severity")
        if not (cls.__doc__ or "").strip():
            raise TypeError(f"{cls.__name__}: a finding needs a docstring (its description)")
        FindingKind.registry[code] = cls

    @classmethod
    def description(cls) -> str:
        """The docstring on one line (``FINDING_CODES``, the README, the TUI's help)."""
        return " ".join((cls.__doc__ or "").split())



class MikeyReplay(FindingKind):
    """MIKEY counter not above the last accepted one for its MUK or MSK (RFC 1982 serial
    arithmetic; an unchanged MTK re-send is no replay)."""

    code = "mikey.replay"
    severity = Severity.WARNING


class MikeyPort(FindingKind):
    """MIKEY over UDP on a port other than 2269, the one TS 33.246 §6.4.1 names (a tolerated
    variant: read all the same)."""

    code = "mikey.port"
    severity = Severity.WARNING


class MikeyMtkRand(FindingKind):
    """An MTK message with a RAND payload, which TS 33.246 §6.4.5.3 leaves out (its keys are
    derived from that RAND here, as its sender did)."""

    code = "mikey.mtk_rand"
    severity = Severity.WARNING


class MikeyAckNoIdr(FindingKind):
    """A verification message without the IDr that TS 33.246 §6.4.5.2 makes mandatory (paired
    all the same)."""

    code = "mikey.ack_no_idr"
    severity = Severity.WARNING


class MikeyMtkWindow(FindingKind):
    """An MTK ID a conformant ME refuses: not above SEQl (the last accepted MTK ID or the
    MSK's Valid From) or above SEQu (TS 33.246 §6.5.4); the key is still learned and
    used."""

    code = "mikey.mtk_window"
    severity = Severity.WARNING


class MikeyMacBad(FindingKind):
    """A MIKEY MAC does not verify with the known key."""

    code = "mikey.mac_bad"
    severity = Severity.ERROR


class MikeyUnknownKey(FindingKind):
    """An MSK or MTK message under a key that is not known."""

    code = "mikey.unknown_key"
    severity = Severity.WARNING


class MikeyAckMissing(FindingKind):
    """An acknowledgement was requested (V=1) and never came."""

    code = "mikey.ack_missing"
    severity = Severity.WARNING


class MikeyAckUnexpected(FindingKind):
    """A verification message for a message never seen."""

    code = "mikey.ack_unexpected"
    severity = Severity.WARNING


class SrtpUnknownMki(FindingKind):
    """SRTP under an MKI that names no known MTK."""

    code = "srtp.unknown_mki"
    severity = Severity.WARNING


class SrtpAuthFailed(FindingKind):
    """SRTP that fails authentication under the key its MKI names."""

    code = "srtp.auth_failed"
    severity = Severity.ERROR


class SrtpStaleKey(FindingKind):
    """SRTP under an MTK whose MSK was superseded more than a grace period before (MTK
    messages may precede the switch) or has expired, or after the stream already moved
    to the newer MSK."""

    code = "srtp.stale_key"
    severity = Severity.WARNING


class UeNoMskTraffic(FindingKind):
    """A UE that failed to get an MSK and holds none still shows traffic."""

    code = "ue.no_msk_traffic"
    severity = Severity.WARNING


class BmscRequestStorm(FindingKind):
    """Many MSK requests in a short window after a solicitation."""

    code = "bmsc.request_storm"
    severity = Severity.WARNING


class FlowUnexpected(FindingKind):
    """An event that the key's state does not allow."""

    code = "flow.unexpected"
    severity = Severity.WARNING


class FluteIncomplete(FindingKind):
    """A FLUTE object whose bytes were not all received (listed with what is missing)."""

    code = "flute.incomplete"
    severity = Severity.WARNING


class FluteMd5Mismatch(FindingKind):
    """A FLUTE object that does not match the FDT's Content-MD5 (RFC 6726 §3.4.2)."""

    code = "flute.md5_mismatch"
    severity = Severity.ERROR


class DcfNoKey(FindingKind):
    """A DCF protected by an MTK that is not known (analysis with keys)."""

    code = "dcf.no_key"
    severity = Severity.WARNING


class DcfBadKey(FindingKind):
    """A DCF that the known MTK named by its KeyID does not decrypt."""

    code = "dcf.bad_key"
    severity = Severity.ERROR


class DcfSignatureBad(FindingKind):
    """A DCF whose HMAC-SHA1 signature (odfs) does not verify."""

    code = "dcf.signature_bad"
    severity = Severity.ERROR


class DcfStaleKey(FindingKind):
    """A DCF under an MTK whose MSK has been superseded or expired."""

    code = "dcf.stale_key"
    severity = Severity.WARNING


class DcfMalformed(FindingKind):
    """A downloaded object that looks like a DCF but has no usable container."""

    code = "dcf.malformed"
    severity = Severity.ERROR



#: code -> description of every registered finding kind (the timeline's stable codes)
FINDING_CODES: dict[str, str] = {code: kind.description()
                                 for code, kind in FindingKind.registry.items()}
