"""The ``mbms-analyzer`` command line (DESIGN.md "Command line contract").

Exit codes: 0 success; 1 analysis finished but something was unreadable (a
missing or damaged capture); 2 bad usage. Errors are one line on stderr,
never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from analyzer import version
from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.capture.reading import probe_capture
from analyzer.capture.writer import PcapngWriter
from analyzer.keys.store import KeyFileError, KeyStore, exposure_warning
from analyzer.keys.store import load_keys as _load_key_file
from analyzer.lab.scenarios import DEFAULT_UES, SCENARIOS, Options
from analyzer.lab.scenarios import run as run_scenario
from analyzer.output.decrypted import decrypt_captures
from analyzer.output.timeline import timeline
from analyzer.pipeline.parallel import Renderer
from analyzer.pipeline.session import Session
from analyzer.views.result import Dissected

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
    parser.add_argument("--version", action="version", version=f"{PROG} {version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    dis = sub.add_parser("dissect", help="dissect the MBMS packets of captures "
                                         "(text tree like tshark -V, or JSON Lines)")
    dis.add_argument("captures", nargs="+", metavar="CAPTURE", help="pcap or pcapng files")
    dis.add_argument("--json", action="store_true", help="one JSON object per packet")
    dis.add_argument("--keys", metavar="FILE", help="key file (TOML): check and decrypt MIKEY")
    dis.add_argument("--reveal-keys", action="store_true",
                     help="show key material (hidden by default)")
    dis.add_argument("--workers", type=int, default=None, metavar="N",
                     help="processes for large captures (default: the usable cores; 1 = serial)")
    dec = sub.add_parser("decrypt", help="write the captures with every SRTP/SRTCP packet that "
                                          "decrypts and authenticates replaced by plain RTP/RTCP")
    dec.add_argument("captures", nargs="+", metavar="CAPTURE", help="pcap or pcapng files")
    dec.add_argument("--keys", metavar="FILE", required=True, help="key file (TOML)")
    dec.add_argument("-o", "--output", metavar="OUT.pcap", required=True, help="output pcap")
    snf = sub.add_parser("sniff", help="capture live (dumpcap) and analyze as packets arrive: "
                                       "in the TUI, or headless into a timeline")
    snf.add_argument("-i", "--interface", required=True, metavar="IFACE")
    snf.add_argument("--keys", metavar="FILE", help="key file (TOML)")
    snf.add_argument("-w", "--write", metavar="OUT.pcapng",
                     help="write the capture here (default: a temporary file, kept and named "
                          "on exit)")
    snf.add_argument("--headless", action="store_true", help="no TUI: write --export")
    snf.add_argument("--duration", type=float, default=0.0,
                     help="seconds to capture (0: until Ctrl-C)")
    snf.add_argument("--export", metavar="OUT.json", help="--headless: timeline JSON")
    snf.add_argument("-f", "--filter", default="udp or tcp", help="capture filter (BPF)")
    opn = sub.add_parser("open", help="the TUI on captures: packets, keys, procedures, findings")
    opn.add_argument("captures", nargs="+", metavar="CAPTURE", help="pcap or pcapng files")
    opn.add_argument("--keys", metavar="FILE", help="key file (TOML)")
    for cmd in (opn, snf):
        cmd.add_argument("--time-format", choices=("relative", "absolute", "delta"),
                         default="relative",
                         help="how times show: seconds since the first packet (default), "
                              "UTC date and time, or since the previous item (t switches)")
    exp = sub.add_parser("export", help="write the timeline JSON of the captures: key "
                                         "lifecycles, procedures, findings")
    exp.add_argument("captures", nargs="+", metavar="CAPTURE", help="pcap or pcapng files")
    exp.add_argument("--keys", metavar="FILE", help="key file (TOML)")
    exp.add_argument("--reveal-keys", action="store_true", help="include key values")
    exp.add_argument("-o", "--output", metavar="OUT.json", required=True, help="timeline JSON")
    exp.add_argument("--workers", type=int, default=None, metavar="N",
                     help="processes that read large captures (default: the usable cores; "
                          "1 = serial)")
    for cmd in (exp, dis, dec):
        cmd.add_argument("--dask", nargs="?", const="local", metavar="SCHEDULER",
                         help="read the captures on a Dask cluster (tcp://host:8786; without "
                              "an address a local one sized to this machine); the output is "
                              "the one of the single-machine run. Captures may be globs")
    ext = sub.add_parser("extract", help="write every file the captures' FLUTE downloads "
                                         "delivered (DCF decrypted with the MTK) and index.json")
    ext.add_argument("captures", nargs="+", metavar="CAPTURE", help="pcap or pcapng files")
    ext.add_argument("--keys", metavar="FILE", help="key file (TOML)")
    ext.add_argument("-o", "--output", metavar="DIR", required=True,
                     help="directory for the files and index.json (made if missing)")
    for cmd in (dis, exp, ext, dec, opn, snf):
        cmd.add_argument("--flute-port", type=_port, action="append", default=[],
                         metavar="PORT", help="UDP port carrying FLUTE/ALC (like Decode As; "
                         "elsewhere ALC is found by a strict heuristic); repeatable")
    lab = sub.add_parser("lab", help="simulate a BM-SC and its UEs (every procedure of "
                                     "TS 33.246 §6.3) into a capture, or live")
    lab.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    lab.add_argument("--ues", type=int, help="number of UEs (default 3; storm 1000)")
    lab.add_argument("--duration", type=float, default=10.0, help="stream seconds (default 10)")
    lab.add_argument("--mtk-period", type=float, default=2.0, help="seconds between MTKs")
    lab.add_argument("--msk-period", type=float, default=0.0,
                     help="seconds between MSK pushes (default: none)")
    lab.add_argument("--loss", type=float, default=0.0, help="SRTP loss probability 0..1")
    lab.add_argument("--rate", type=float, default=50.0, help="SRTP packets per second")
    lab.add_argument("--seed", type=int, default=1, help="same seed, same bytes")
    lab.add_argument("--rcc", choices=("RCCm1", "RCCm2", "RCCm3"),
                     help="SRTP integrity transform of RFC 4771 (TS 33.246 §6.6.2.1): the MSK "
                          "messages carry it in their SP, SRTP carries the ROC")
    lab.add_argument("--conventions", choices=("spec", "legacy"), default="spec",
                     help="MIKEY as TS 33.246 writes it (default), or this lab's first "
                          "conventions (RAND in MTK messages, URI IDs, acks without IDr, ...)")
    lab.add_argument("--rcc-r", type=int, default=1, metavar="R",
                     help="--rcc: every R-th packet (SEQ mod R = 0) carries the ROC")
    where = lab.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", metavar="OUT.pcapng", help="write a capture")
    where.add_argument("--send", metavar="HOST", help="send live to HOST (an address here)")
    lab.add_argument("--keys-out", metavar="KEYS.toml",
                     help="write the UEs' MUKs and digest passwords (and KEYS.truth.json)")
    lab.add_argument("--speed", type=float, default=1.0, help="--send: times real time")
    lab.add_argument("--m1", action="store_true",
                     help="write the capture as an M1 tap sees it: every packet in a SYNC PDU "
                          "(TS 25.446, both CRCs, type 0 PDUs between sequences) in GTP-U")
    return parser


def _readable(paths: list[str], every: bool = False) -> bool:
    """Can the run start? Yes when at least one capture (with *every*: each) starts like
    a pcap/pcapng file; else one line on stderr for each that does not. When some are
    readable the run goes on with all of them, in their places (``capture`` indices
    are command-line places), and reports the others itself."""
    problems = [problem for problem in map(probe_capture, paths) if problem is not None]
    if problems and (every or len(problems) == len(paths)):
        for problem in problems:
            sys.stderr.write(f"{PROG}: {problem}\n")
        return False
    return True


def _writable(path: str, what: str = "write") -> bool:
    """Can *path* be written (its folder exists)? Else one line on stderr."""
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        sys.stderr.write(f"{PROG}: cannot {what} {path}: no folder {parent}\n")
        return False
    return True


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"not a UDP port: {text!r}")
    return port


def _profile(args: argparse.Namespace) -> Profile:
    ports = getattr(args, "flute_port", None)
    return replace(DEFAULT_PROFILE, flute_ports=frozenset(ports)) if ports else DEFAULT_PROFILE


def load_keys(path: str) -> KeyStore:
    """The key file, with a warning on stderr when others can read it (unless it
    says it is published test material: ``[settings] public = true``)."""
    store = _load_key_file(path)
    warning = None if store.public else exposure_warning(path)
    if warning:
        sys.stderr.write(f"{PROG}: warning: {warning}\n")
    return store


def cmd_sniff(args: argparse.Namespace, out: TextIO) -> int:
    """Capture live with dumpcap into a pcapng, analysed as it grows (TUI or headless)."""
    from analyzer.capture.sniff import LiveCapture, SniffError

    if args.headless and not args.export:
        sys.stderr.write(f"{PROG}: sniff --headless needs --export OUT.json\n")
        return 2
    store = load_keys(args.keys) if args.keys else None
    live = LiveCapture(args.interface, args.filter, args.write, args.duration)
    try:
        live.start()
    except (SniffError, OSError) as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 1
    status = 0
    try:
        if args.headless:
            run = Session(store, profile=_profile(args))
            try:
                errors = run.add_captures([live.path], follow=live.running)
            except KeyboardInterrupt:
                live.stop()
                errors = []
            live.stop()
            Path(args.export).write_text(json.dumps(timeline(run), indent=1) + "\n")
            drops = "" if live.dropped is None else f", {live.dropped} dropped by the kernel"
            out.write(f"captured {run.captures[0].packets} packets{drops} -> {args.export}\n")
            status = 1 if errors else 0
        else:
            from analyzer.tui.app import run_app
            run_app([live.path], store, live, _profile(args), args.time_format)
    finally:
        live.stop()
        failure = live.failure()
        if failure:
            sys.stderr.write(f"{PROG}: the capture stopped: {failure} (everything before is in "
                             f"{live.path})\n")
            status = 1
        if live.kept_temporary:
            sys.stderr.write(f"{PROG}: the capture is kept in {live.path}\n")
    return status


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    """Stream the captures through the reconstructor and write the timeline."""
    from analyzer.pipeline.fleet import expand

    store = load_keys(args.keys) if args.keys else None
    args.captures = expand(args.captures)
    progress = None
    if sys.stderr.isatty():
        def progress(path: str, packets: int) -> None:
            sys.stderr.write(f"\r{path}: {packets} packets")
            sys.stderr.flush()
    if not _readable(args.captures) or not _writable(args.output):
        return 1  # nothing could be read: no output file, no summary
    run = Session(store, profile=_profile(args), reveal_keys=args.reveal_keys, progress=progress,
                  workers=args.workers)
    status = 0
    if args.dask:
        from analyzer.pipeline.fleet import export_on_dask

        done = _on_dask(args, lambda told: export_on_dask(
            args.captures, run, _scheduler(args), progress=told))
        if isinstance(done, int):
            return done
        errors = done
    else:
        errors = run.add_captures(args.captures)
    for error in errors:
        sys.stderr.write(f"{PROG}: {error}\n")
        status = 1
    doc = timeline(run)
    try:
        Path(args.output).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    except OSError as exc:
        sys.stderr.write(f"{PROG}: cannot write {args.output}: {exc.strerror or exc}\n")
        return 1
    if progress is not None:
        sys.stderr.write("\n")
    out.write(f"{len(doc['keys'])} keys, {len(doc['procedures'])} procedures, "
              f"{len(doc['findings'])} findings -> {args.output}\n")
    return status


def _scheduler(args: argparse.Namespace) -> str | None:
    """The ``--dask`` scheduler address, or None for a local cluster."""
    return None if args.dask == "local" else args.dask


def _on_dask(args: argparse.Namespace, work: Callable[[Any], Any]) -> Any:
    """Run *work* (given a progress callback) on Dask: its result, or an exit code
    after one line on stderr."""
    from analyzer.pipeline.fleet import DaskMissing

    def told(done: int, total: int, received: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{done}/{total} captures read on Dask, "
                             f"{received / 1e6:.1f} MB of MBMS records received")
            sys.stderr.flush()
    try:
        result = work(told)
    except DaskMissing as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 2
    except OSError as exc:
        sys.stderr.write(f"{PROG}: Dask scheduler {args.dask}: {exc}\n")
        return 1
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    return result


def cmd_extract(args: argparse.Namespace, out: TextIO) -> int:
    """Write the delivered files of the captures and their index."""
    from analyzer.output.extract import Extractor

    store = load_keys(args.keys) if args.keys else None
    target = Path(args.output)
    if not _readable(args.captures) or not _writable(args.output, "write into"):
        return 1  # nothing could be read: no output, no summary
    try:
        target.mkdir(exist_ok=True)
    except OSError as exc:
        sys.stderr.write(f"{PROG}: cannot make {args.output}: {exc.strerror or exc}\n")
        return 1
    sink = Extractor(target)
    run = Session(store, profile=_profile(args), on_download=sink)
    status = 0
    try:
        for error in run.add_captures(args.captures):
            sys.stderr.write(f"{PROG}: {error}\n")
            status = 1
        doc = timeline(run)
        (target / "index.json").write_text(json.dumps(sink.index(doc["captures"]), indent=1,
                                                      ensure_ascii=False) + "\n")
    except OSError as exc:
        sys.stderr.write(f"{PROG}: cannot write into {args.output}: {exc.strerror or exc}\n")
        return 1
    files = sink.files
    written = sum(1 for f in files if f["path"])
    out.write(f"{len(files)} objects: {written} written "
              f"({sum(1 for f in files if f['decrypted'])} decrypted), "
              f"{sum(1 for f in files if not f['complete'])} incomplete -> {args.output}\n")
    return status


def cmd_lab(args: argparse.Namespace, out: TextIO) -> int:
    """Run a lab scenario into a pcapng file (and a key file), or live."""
    opts = Options(ues=args.ues or DEFAULT_UES.get(args.scenario, 3), duration=args.duration,
                   mtk_period=args.mtk_period, msk_period=args.msk_period, loss=args.loss,
                   rate=args.rate, rcc=int(args.rcc[-1]) if args.rcc else 0,
                   rcc_r=args.rcc_r, conventions=args.conventions)
    if not 1 <= opts.rcc_r <= 0xFFFF:
        sys.stderr.write(f"{PROG}: lab: --rcc-r from 1 to 65535\n")
        return 2
    if (args.ues is not None and args.ues < 1) or args.duration < 0 \
            or not 0 <= opts.loss <= 1 or opts.rate < 0 or opts.mtk_period <= 0 \
            or opts.msk_period < 0 or args.speed <= 0:
        sys.stderr.write(f"{PROG}: lab: --ues >= 1, --duration >= 0, 0 <= --loss <= 1, "
                         "--rate >= 0, --mtk-period > 0, --msk-period >= 0, --speed > 0\n")
        return 2
    for path in (args.output, args.keys_out):
        if path and not _writable(path):
            return 1
    if args.send:
        problem = _local_address(args.send)
        if problem:
            sys.stderr.write(f"{PROG}: lab --send {args.send}: {problem}\n")
            return 2
    world = run_scenario(args.scenario, args.seed, opts)
    frames = world.sorted_frames()
    if args.m1:
        if args.send:
            sys.stderr.write(f"{PROG}: lab: --m1 writes a capture (-o), it is not sent\n")
            return 2
        from analyzer.lab.m1 import m1_frames
        frames = m1_frames(frames)
    if args.send:
        from analyzer.lab.live import send
        sent = send(frames, args.send, args.speed, world)
        out.write(f"{args.scenario}: sent {sent} packets to {args.send}\n")
    else:
        try:
            with PcapngWriter(args.output) as writer:
                for frame in frames:
                    writer.write(frame.time, frame.data)
        except OSError as exc:
            sys.stderr.write(f"{PROG}: cannot write {args.output}: {exc.strerror or exc}\n")
            return 1
        out.write(f"{args.scenario}: {len(frames)} packets, {len(world.ues)} UEs, "
                  f"{len(world.msks)} MSKs -> {args.output}\n")
    if args.keys_out:
        keys = Path(args.keys_out)
        try:
            keys.touch(mode=0o600)
            keys.chmod(0o600)  # keys: for the owner only (others get a warning when read)
            keys.write_text(world.keys_toml())
            keys.with_suffix(".truth.json").write_text(json.dumps(world.truth(), indent=1)
                                                       + "\n")
        except OSError as exc:
            sys.stderr.write(f"{PROG}: cannot write {args.keys_out}: {exc.strerror or exc}\n")
            return 1
    return 0


def _local_address(host: str) -> str | None:
    """Why *host* cannot take the lab's live traffic (None: it is an address of this
    machine). The lab sends only to itself: a loopback or a test namespace."""
    import socket

    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        return f"cannot resolve it ({getattr(exc, 'strerror', None) or exc})"
    address = infos[0][4][0]
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind((address, 0))
    except OSError:
        return f"{address} is not an address of this machine (the lab sends only to itself)"
    finally:
        probe.close()
    return None


def cmd_decrypt(args: argparse.Namespace, out: TextIO) -> int:
    """Decrypt SRTP/SRTCP with known and learned keys into one output pcap."""
    from analyzer.pipeline.fleet import expand

    store = load_keys(args.keys)
    args.captures = expand(args.captures)
    if not _readable(args.captures) or not _writable(args.output):
        return 1  # nothing could be read: no output file, no summary
    profile = _profile(args)
    prepared = None
    if args.dask:  # (the output holds every record: they all come here)
        from analyzer.pipeline.fleet import prepare_on_dask

        prepared = _on_dask(args, lambda told: prepare_on_dask(
            args.captures, profile, _scheduler(args),
            srtp=True, every=True, progress=told))
        if isinstance(prepared, int):
            return prepared
    try:
        result = decrypt_captures(args.captures, store, args.output, profile, prepared)
    except OSError as exc:
        sys.stderr.write(f"{PROG}: cannot write {args.output}: {exc.strerror or exc}\n")
        return 1
    except ValueError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 1
    for error in result.errors:
        sys.stderr.write(f"{PROG}: {error}\n")
    for stats in result.streams:
        out.write(stats.line() + "\n")
    out.write(f"{result.replaced} of {result.total} packets decrypted into {args.output}\n")
    return 1 if result.errors else 0


def cmd_dissect(args: argparse.Namespace, out: TextIO) -> int:
    """Dissect the captures through the one pipeline (merged in time, keys learned as
    ``export`` learns them); an unreadable capture is reported, the others go on."""
    from analyzer.pipeline.fleet import expand

    store = load_keys(args.keys) if args.keys else None
    args.captures = expand(args.captures)

    def show(pkt: Dissected, _data: bytes) -> None:
        if args.json:
            out.write(json.dumps(pkt.to_json(args.reveal_keys), ensure_ascii=False,
                                 separators=(", ", ": ")) + "\n")
        else:
            out.write(pkt.to_text(args.reveal_keys) + "\n\n")

    if not _readable(args.captures):
        return 1
    profile = _profile(args)
    renderer = Renderer(out.write, args.json, args.reveal_keys, args.workers, profile) \
        if store is None else None
    run = Session(store, profile=profile, workers=args.workers, on_packet=show,
                 end_objects=not args.json, reconstruct=False,
                 on_candidate=renderer.push if renderer is not None else None)
    status = 0
    try:
        if args.dask:
            from analyzer.pipeline.fleet import prepare_on_dask

            prepared = _on_dask(args, lambda told: prepare_on_dask(
                args.captures, profile, _scheduler(args),
                srtp=True, progress=told))
            if isinstance(prepared, int):
                return prepared
            errors = run.add_prepared(prepared)
        else:
            errors = run.add_captures(args.captures)
    finally:
        if renderer is not None:
            renderer.close()
    for error in errors:
        out.flush()
        sys.stderr.write(f"{PROG}: {error}\n")
        status = 1
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    try:
        commands = {"dissect": cmd_dissect, "decrypt": cmd_decrypt, "lab": cmd_lab,
                    "export": cmd_export, "extract": cmd_extract, "sniff": cmd_sniff}
        if args.command in commands:
            return commands[args.command](args, sys.stdout)
        if args.command == "open":
            store = load_keys(args.keys) if args.keys else None
            if not _readable(args.captures, every=True):
                return 1  # said why, one line each; no empty screen
            from analyzer.tui.app import run_app  # only the TUI imports Textual
            return run_app(args.captures, store, profile=_profile(args),
                           time_format=args.time_format)
    except KeyFileError as exc:
        sys.stderr.write(f"{PROG}: key file: {exc}\n")
        return 2
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
