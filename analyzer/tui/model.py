"""What the TUI shows, computed away from the UI thread (no Textual here).

:func:`load` streams captures through the same pipeline as ``dissect`` and
``export`` and hands back batches of :class:`Row` s as it goes, then the timeline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..dissect import CandidateFinder, build
from ..export import Export
from ..flows.observe import observe
from ..keys import KeyStore
from ..reading import CaptureError, Record, read_capture
from ..result import Dissected
from ..srtp_view import SrtpFinder

BATCH = 500


@dataclass
class Row:
    """One packet of the packet list: its dissection and its frame bytes."""

    index: int
    pkt: Dissected
    data: bytes

    @property
    def has_finding(self) -> bool:
        return bool(self.pkt.errors)


@dataclass
class Loaded:
    """Everything loaded: rows, the timeline document, errors."""

    rows: list[Row] = field(default_factory=list)
    timeline: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def load(paths: Iterable[str], store: KeyStore | None,
         on_rows: Callable[[list[Row]], None] | None = None,
         cancelled: Callable[[], bool] = lambda: False,
         on_progress: Callable[[float], None] | None = None) -> Loaded:
    """Dissect and reconstruct *paths*; batches of rows go to *on_rows* as they are
    ready, and the fraction of bytes read to *on_progress*."""
    out = Loaded()
    run = Export(store)
    batch: list[Row] = []
    paths = list(paths)
    size = sum(_size(p) for p in paths) or 1
    done = 0
    for index, path in enumerate(paths):
        frames: dict[int, bytes] = {}
        finder = CandidateFinder(index, srtp=SrtpFinder(run.decryptor))

        def records() -> Iterable[Record]:
            nonlocal done
            for rec in read_capture(path):
                if cancelled():
                    return
                done += len(rec.data) + 16
                if on_progress is not None and rec.number % 2000 == 0:
                    on_progress(min(1.0, done / size))
                frames[rec.number] = rec.data
                if len(frames) > 4096:  # keep recent frames only: rows copy what they show
                    frames.pop(next(iter(frames)))
                yield rec

        try:
            for rec in records():
                for cand in finder.record(rec):
                    batch.append(_row(out, run, cand, frames))
                if len(batch) >= BATCH and on_rows is not None:
                    on_rows(batch)
                    batch = []
            for cand in finder.finish():
                batch.append(_row(out, run, cand, frames))
        except CaptureError as exc:
            out.errors.append(str(exc))
    if batch and on_rows is not None:
        on_rows(batch)
    if on_progress is not None:
        on_progress(1.0)
    out.timeline = run.document()
    return out


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _row(out: Loaded, run: Export, cand: Any, frames: dict[int, bytes]) -> Row:
    pkt = build(cand, run.hierarchy)
    for obs in observe(pkt):
        run.rec.feed(obs)
    row = Row(len(out.rows), pkt, frames.get(cand.frame, b""))
    out.rows.append(row)
    return row
