"""The ``mbms-analyzer`` command line (DESIGN.md "Command line contract").

Exit codes: 0 success; 1 analysis finished but something was unreadable (a
missing or damaged capture); 2 bad usage. Errors are one line on stderr,
never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence, TextIO

from .dissect import candidates
from .parallel import rendered
from .reading import CaptureError, read_capture

PROG = "mbms-analyzer"


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every implemented subcommand."""
    parser = _Parser(prog=PROG, description="Packet analyzer for 3GPP MBMS key management "
                                            "(TS 33.246): MIKEY, BM-SC key requests, SRTP.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    dis = sub.add_parser("dissect", help="dissect the MBMS packets of captures "
                                         "(text tree like tshark -V, or JSON Lines)")
    dis.add_argument("captures", nargs="+", metavar="CAPTURE", help="pcap or pcapng files")
    dis.add_argument("--json", action="store_true", help="one JSON object per packet")
    dis.add_argument("--reveal-keys", action="store_true",
                     help="show key material (hidden by default)")
    dis.add_argument("--workers", type=int, default=None, metavar="N",
                     help="processes for large captures (default: the usable cores; 1 = serial)")
    return parser


def cmd_dissect(args: argparse.Namespace, out: TextIO) -> int:
    """Dissect every capture in turn; an unreadable one is reported and skipped."""
    status = 0
    for index, path in enumerate(args.captures):
        try:
            cands = candidates(read_capture(path), capture=index)
            for chunk in rendered(cands, args.json, args.reveal_keys, args.workers):
                out.write(chunk)
        except CaptureError as exc:
            out.flush()
            sys.stderr.write(f"{PROG}: {exc}\n")
            status = 1
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "dissect":
            return cmd_dissect(args, sys.stdout)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except Exception as exc:  # last line of defence: one line, never a traceback
        sys.stderr.write(f"{PROG}: internal error: {type(exc).__name__}: {exc}\n")
        return 1
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
