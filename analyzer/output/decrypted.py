"""The ``decrypt`` command's output: the captures as one pcap, SRTP/SRTCP replaced by
plain RTP/RTCP where a key opens it (RFC 3711; keys from the key file and learned
from MIKEY by the one pipeline)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.capture.writer import PcapWriter
from analyzer.keys.srtp import StreamStats
from analyzer.keys.store import KeyStore
from analyzer.pipeline.session import Session


@dataclass
class DecryptResult:
    """What :func:`decrypt_captures` did."""

    streams: list[StreamStats]
    replaced: int
    total: int
    errors: list[str]


def decrypt_captures(paths: list[str], store: KeyStore, output: str,
                     profile: Profile | None = None,
                     prepared: list[Any] | None = None) -> DecryptResult:
    """Write *paths* to one pcap with every SRTP/SRTCP packet that decrypts and
    authenticates replaced by plain RTP/RTCP (keys learned from MIKEY in order).

    The captures run through the one pipeline (:class:`analyzer.pipeline.session.Session`),
    merged in time, so the keys learned are those of ``export``; every record is
    written, the SRTP ones decrypted.

    *prepared*: the captures were read elsewhere, every record
    (:func:`analyzer.pipeline.fleet.prepare_on_dask` with ``every``).

    Raises OSError when *output* cannot be written and ValueError for captures
    of different link types; capture damage is returned in ``errors``.
    """
    counts = {"replaced": 0, "total": 0}
    with PcapWriter(output) as writer:
        def write(_capture: int, record: Any, data: bytes | None) -> None:
            counts["total"] += 1
            if data is not None:
                counts["replaced"] += 1
            writer.write(record, data)

        run = Session(store, profile=profile or DEFAULT_PROFILE, on_record=write, workers=1)
        errors = run.add_captures(list(paths)) if prepared is None else \
            run.add_prepared(prepared)
    decryptor = run.decryptor
    assert decryptor is not None
    return DecryptResult(list(decryptor.stats.values()), counts["replaced"], counts["total"],
                         errors)
