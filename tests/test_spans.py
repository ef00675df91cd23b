"""Byte spans of dissected fields (the TUI's hex highlight), checked against the bytes."""

from __future__ import annotations

from dissectors.mikey import parse, tree, tree_spans
from dissectors.mikey.base import Field_


def test_every_field_of_the_corpus_points_at_its_own_bytes(corpus):
    own = checked = 0
    for data in corpus:
        msg = parse(data)
        pairs = tree_spans(msg)
        assert [item for item, _ in pairs] == tree(msg)
        layer = None
        for item, span in pairs:
            if not isinstance(item, Field_):
                layer = span if item.depth == 0 else layer
                continue
            if span is None or span == layer:  # no bytes of its own: the payload is shown
                continue
            start, end = span
            assert 0 <= start <= end <= len(data)
            raw = data[start:end]
            value = item.value
            if isinstance(value, int) and end - start <= 8:
                own += 1
                # whole bytes hold the value itself; a bit field shares its byte
                assert value < 256 ** (end - start), (item.name, span)
                if end - start >= 2:
                    assert int.from_bytes(raw, "big") == value, (item.name, span)
                    checked += 1
            elif isinstance(value, str) and value and end - start == len(value) // 2:
                try:
                    want = bytes.fromhex(value)
                except ValueError:
                    continue
                assert raw == want, (item.name, span)
                checked += 1
    assert own > 5000 and checked > 5000
