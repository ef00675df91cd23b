"""The one pipeline every front end runs (:class:`~analyzer.pipeline.session.Session`):
a per-capture part (read, prefilter, find candidates: plain, picklable data) and a
global part (merge in time, align clocks, de-duplicate, build with the keys
learned so far, observe, reconstruct).
"""
