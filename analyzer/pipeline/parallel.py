"""Dissection on every core: candidates found in order by the pipeline, built and
rendered in workers (``dissect`` without keys).

The reading and the finding (:class:`analyzer.pipeline.session.Session`) stay in the
calling process, in capture order; the Scapy dissection and the rendering to
text or JSON run in worker processes on batches. Results come back in
submission order, so the output is byte-identical to the serial run. Small
inputs never start a pool: the first :data:`SERIAL_FIRST` candidates are done
in-process, and the pool starts only if more follow.
"""

from __future__ import annotations

import json
import multiprocessing
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.keys.hierarchy import KeyHierarchy
from analyzer.pipeline.build import build
from analyzer.pipeline.find import Candidate
from analyzer.pipeline.workers import default_workers

SERIAL_FIRST = 64
BATCH = 128


def render(cand: Candidate, as_json: bool, reveal_keys: bool,
           hierarchy: KeyHierarchy | None = None, profile: Profile = DEFAULT_PROFILE) -> str:
    """One packet's output: a JSON line or a text tree (with its trailing blank line)."""
    pkt = build(cand, hierarchy, profile)
    if as_json:
        return json.dumps(pkt.to_json(reveal_keys), ensure_ascii=False,
                          separators=(", ", ": ")) + "\n"
    return pkt.to_text(reveal_keys) + "\n\n"


def _render_batch(batch: list[Candidate], as_json: bool, reveal_keys: bool,
                  profile: Profile = DEFAULT_PROFILE) -> str:
    return "".join(render(c, as_json, reveal_keys, None, profile) for c in batch)


class Renderer:
    """Renders the candidates a pipeline hands over one by one (``dissect`` without
    keys): :meth:`push` each, :meth:`close` at the end; the chunks go to *write* in
    order, rendered on *workers* processes once more than :data:`SERIAL_FIRST`
    candidates came (small inputs never start a pool)."""

    def __init__(self, write, as_json: bool, reveal_keys: bool = False,
                 workers: int | None = None, profile: Profile = DEFAULT_PROFILE) -> None:
        self.write, self.as_json, self.reveal_keys = write, as_json, reveal_keys
        self.profile = profile
        self.workers = default_workers() if workers is None else workers
        self.count = 0
        self.pool: ProcessPoolExecutor | None = None
        self.window: deque[Future] = deque()
        self.batch: list[Candidate] = []

    def push(self, cand: Candidate) -> None:
        self.count += 1
        if self.pool is None:
            if self.count <= SERIAL_FIRST or self.workers <= 1:
                self.write(render(cand, self.as_json, self.reveal_keys, None, self.profile))
                return
            self.pool = ProcessPoolExecutor(max_workers=self.workers,
                                            mp_context=multiprocessing.get_context("fork"))
        self.batch.append(cand)
        if len(self.batch) >= BATCH:
            self._submit()
            while len(self.window) > 2 * self.workers:
                self.write(self.window.popleft().result())

    def _submit(self) -> None:
        assert self.pool is not None
        self.window.append(self.pool.submit(_render_batch, self.batch, self.as_json,
                                            self.reveal_keys, self.profile))
        self.batch = []

    def close(self) -> None:
        """Write what is still being rendered, in order, and stop the workers."""
        if self.pool is None:
            return
        try:
            if self.batch:
                self._submit()
            while self.window:
                self.write(self.window.popleft().result())
        finally:
            self.pool.shutdown()
            self.pool = None
