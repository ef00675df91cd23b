"""Fuzz the MIKEY dissector and its carriers: parse, tree, spans, issues, heuristic.

    python fuzz/fuzz_mikey.py fuzz/corpus/mikey -runs=1000000

Any exception is a bug: wire bytes must become fields and issues, never raise.
"""

from __future__ import annotations

import sys

import _common  # noqa: F401  (the repository on the path)
import atheris

with atheris.instrument_imports(include=["dissectors", "analyzer"]):
    from dissectors.carriers import find_embedded
    from dissectors.mikey import all_issues, parse, tree, tree_spans
    from dissectors.mikey.heuristic import looks_like_mikey


def test_one_input(data: bytes) -> None:
    msg = parse(data)
    items = tree(msg)
    assert [i for i, _ in tree_spans(msg)] == items
    for item in items:
        str(getattr(item, "display", item))
    all_issues(msg)
    if looks_like_mikey(data):
        parse(data)
    find_embedded(data)


if __name__ == "__main__":
    _common.run(test_one_input, sys.argv)
