"""The Python API: mbms-analyzer from a script or a notebook.

The names in :data:`__all__` are the stable ones; everything else may move. They run
the same pipeline as the command line, so the packets are those of ``dissect``
(``pkt.to_json()`` is one ``dissect --json`` line) and the timeline is the document
of ``export``::

    from analyzer.api import analyze, load_keys

    run = analyze(["captures/lab-basic.pcapng"], keys=load_keys("captures/lab-basic.keys.toml"))
    for pkt in run.packets():              # dissected MBMS packets, in capture order
        print(pkt.frame, pkt.summary)
    doc = run.timeline()                   # keys, procedures, UEs, downloads, findings
    run.decrypt("plain.pcap")              # SRTP/SRTCP replaced by plain RTP/RTCP

A capture still being written (a live one) is followed with :func:`follow`, and
:func:`sniff` starts dumpcap on an interface and follows what it writes.
"""

from __future__ import annotations

import copy
import queue
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.capture.sniff import LiveCapture
from analyzer.keys.store import KeyFileError, KeyStore, load_keys
from analyzer.output.decrypted import DecryptResult, decrypt_captures
from analyzer.output.timeline import snapshot, timeline
from analyzer.pipeline.session import Session
from analyzer.views.result import Dissected

__all__ = ["Analysis", "DecryptResult", "Dissected", "KeyFileError", "KeyStore", "LiveCapture",
           "Profile", "analyze", "follow", "load_keys", "profile", "sniff"]

#: dissected packets buffered between the pipeline's thread and the reader of packets()
BUFFER = 1024
_DONE = object()


def profile(flute_ports: Sequence[int] = (), base: Profile = DEFAULT_PROFILE) -> Profile:
    """Where MBMS is looked for: the default profile, with FLUTE/ALC also on *flute_ports*
    (the command line's ``--flute-port``)."""
    return replace(base, flute_ports=frozenset(flute_ports)) if flute_ports else base


@dataclass
class Analysis:
    """Captures, a key store and a profile: what every method runs the pipeline over.

    Attributes:
        captures: pcap/pcapng files, merged in time as ``export`` merges them.
        keys: a key store (:func:`load_keys`), or None.
        profile: where MIKEY, FLUTE and HTTP are looked for (:func:`profile`).
        workers: processes for large files (None: every core; 1: this process only).
        errors: what could not be read, one line each (after a method ran).
    """

    captures: list[str]
    keys: KeyStore | None = None
    profile: Profile = DEFAULT_PROFILE
    workers: int | None = None
    errors: list[str] = field(default_factory=list)

    def packets(self) -> Iterator[Dissected]:
        """Every MBMS packet dissected (MIKEY, BM-SC HTTP, SRTP/SRTCP, ALC/FLUTE), in time
        order; with keys, MIKEY checked and decrypted and the keys it carries used for
        the packets after it. Memory stays bounded: the pipeline runs beside the loop."""
        yield from self._stream(None)

    def timeline(self) -> dict[str, Any]:
        """The timeline document of ``export`` (docs/timeline.md)."""
        run = Session(self._fresh_keys(), profile=self.profile, workers=self.workers)
        self.errors = run.add_captures(self.captures)
        return timeline(run)

    def _fresh_keys(self) -> KeyStore | None:
        """The key store as given: a run adds the keys it learns to its store, and each
        run must start from what the user gave (as each command does)."""
        return copy.deepcopy(self.keys)

    def decrypt(self, output: str | Path) -> DecryptResult:
        """Write the captures to *output* (pcap) with every SRTP/SRTCP packet that decrypts
        replaced by plain RTP/RTCP; needs keys. Raises OSError when *output* cannot be
        written."""
        if self.keys is None:
            raise ValueError("decrypt needs keys: Analysis(..., keys=load_keys(...))")
        keys = self._fresh_keys()
        assert keys is not None
        result = decrypt_captures(self.captures, keys, str(output), self.profile)
        self.errors = list(result.errors)
        return result

    def _stream(self, running: Callable[[], bool] | None,
                on_timeline: Callable[[dict[str, Any]], None] | None = None
                ) -> Iterator[Dissected]:
        out: queue.Queue[Any] = queue.Queue(maxsize=BUFFER)
        stop = threading.Event()

        def work() -> None:
            try:
                def push(pkt: Dissected, _frame: bytes) -> None:
                    if stop.is_set():
                        raise _Stopped
                    out.put(pkt)
                run = Session(self._fresh_keys(), profile=self.profile, on_packet=push,
                              workers=1 if running else self.workers)
                follow = None
                if running is not None:
                    def follow() -> bool:
                        if on_timeline is not None:
                            on_timeline(snapshot(run))
                        return running() and not stop.is_set()
                self.errors = run.add_captures(self.captures, follow=follow)
            except _Stopped:
                pass
            except Exception as exc:  # noqa: BLE001 - handed to the reader, not lost
                out.put(exc)
            finally:
                out.put(_DONE)

        thread = threading.Thread(target=work, daemon=True, name="mbms-analysis")
        thread.start()
        try:
            while True:
                item = out.get()
                if item is _DONE:
                    break
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            stop.set()
            while thread.is_alive():  # let a blocked producer see the stop
                try:
                    out.get(timeout=0.05)
                except queue.Empty:
                    pass
            thread.join()


class _Stopped(Exception):
    """The reader of packets() stopped early."""


def analyze(captures: Sequence[str | Path], keys: KeyStore | str | Path | None = None,
            flute_ports: Sequence[int] = (), workers: int | None = None) -> Analysis:
    """An :class:`Analysis` of *captures*; *keys* a key store or the path of a key file
    (docs/key-file.md; raises :class:`KeyFileError` when it does not load)."""
    store = load_keys(keys) if isinstance(keys, (str, Path)) else keys
    return Analysis([str(c) for c in captures], store, profile(flute_ports), workers)


def follow(capture: str | Path, running: Callable[[], bool],
           keys: KeyStore | str | Path | None = None,
           on_timeline: Callable[[dict[str, Any]], None] | None = None
           ) -> Iterator[Dissected]:
    """Dissected packets of a capture still being written, as they arrive, while
    ``running()`` is true; *on_timeline* gets the timeline so far whenever the reader
    waits for more."""
    return analyze([capture], keys)._stream(running, on_timeline)


def sniff(interface: str, keys: KeyStore | str | Path | None = None, bpf: str = "udp or tcp",
          duration: float = 0.0, output: str | None = None) -> tuple[LiveCapture,
                                                                    Iterator[Dissected]]:
    """Start dumpcap on *interface* (as ``mbms-analyzer sniff``) and follow what it writes:
    the running capture (``stop()`` it; its ``path`` is the pcapng) and the dissected
    packets as they come. Raises :class:`analyzer.capture.sniff.SniffError` when the
    capture cannot start (no dumpcap, no right to capture)."""
    live = LiveCapture(interface, bpf, output, duration).start()
    return live, follow(live.path or "", live.running, keys)
