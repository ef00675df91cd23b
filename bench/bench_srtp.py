"""Benchmark: SRTP packets decrypted per second, ours against libsrtp (pylibsrtp), same stream.

Usage: ``python bench/bench_srtp.py [--packets N] [--payload BYTES]``

A seeded stream of RTP packets (one SSRC, 160-byte payloads by default,
AES_CM_128_HMAC_SHA1_80 and _32) is protected once by libsrtp; then each side
unprotects the whole stream with a fresh context, in this process, rounds
interleaved, and the best of each is printed. Issue #21's target: ours at least 1x libsrtp (#3's was 0.5x).
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analyzer.crypto.srtp import SUITES, SrtpContext  # noqa: E402

try:
    import pylibsrtp
except ImportError:  # the oracle is a test dependency
    pylibsrtp = None


def best_of(runs: int, *fns) -> list[float]:
    """Best wall time of each function over *runs* rounds, the functions interleaved
    so that both see the same machine (this VM's speed wanders by 2x)."""
    best = [float("inf")] * len(fns)
    for _ in range(runs):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=50000)
    ap.add_argument("--payload", type=int, default=160)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    rng = random.Random(3711)
    master = rng.randbytes(30)
    if pylibsrtp is None:
        raise SystemExit("bench: pylibsrtp is not installed (pip install '.[test]')")
    for suite, profile in (("AES_CM_128_HMAC_SHA1_80", pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80),
                           ("AES_CM_128_HMAC_SHA1_32", pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32)):
        tx = pylibsrtp.Session(pylibsrtp.Policy(key=master, srtp_profile=profile,
                                                ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
        wire = [tx.protect(struct.pack("!BBHII", 0x80, 96, n & 0xFFFF, n * 160, 0xDEADBEEF)
                           + rng.randbytes(args.payload)) for n in range(args.packets)]

        def ours() -> None:
            ctx = SrtpContext(SUITES[suite], master[:16], master[16:])
            for pkt in wire:
                if ctx.unprotect(pkt, 12)[0] is None:
                    raise SystemExit("bench: our unprotect failed")

        def theirs() -> None:
            rx = pylibsrtp.Session(pylibsrtp.Policy(key=master, srtp_profile=profile,
                                                    ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND))
            for pkt in wire:
                rx.unprotect(pkt)

        t_ours, t_theirs = best_of(args.rounds, ours, theirs)
        n = args.packets
        print(f"[{suite}] {n} packets, {args.payload}-byte payloads")
        print(f"  mbms-analyzer   {n / t_ours:10.0f} packets/s")
        print(f"  libsrtp         {n / t_theirs:10.0f} packets/s")
        print(f"  ratio ours/libsrtp: {t_theirs / t_ours:.2f}x (target >= 1x, issue #21)")


if __name__ == "__main__":
    main()
