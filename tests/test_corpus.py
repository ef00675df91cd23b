"""Round trip and coverage of the MIKEY corpus."""

from __future__ import annotations

from dissectors.mikey import all_issues, field_list, parse
from tests.corpus import coverage_targets


def test_corpus_is_large_enough(corpus):
    assert len(corpus) >= 300


def test_every_corpus_message_round_trips_byte_exact(corpus):
    for n, raw in enumerate(corpus):
        assert bytes(parse(raw)) == raw, f"message {n}"


def test_corpus_messages_dissect_without_issues(corpus):
    for n, raw in enumerate(corpus):
        assert all_issues(parse(raw)) == [], f"message {n}"


def test_corpus_covers_every_value(corpus):
    seen: dict[str, set] = {}
    for raw in corpus:
        for f in field_list(parse(raw)):
            seen.setdefault(f.name, set()).add(f.value)
    for name, wanted in coverage_targets().items():
        missing = wanted - seen.get(name, set())
        assert not missing, f"{name}: corpus never shows {sorted(missing)}"
    # the MBMS Key ID extension decoded into all three identifiers
    for name in ("mikey.mbms.key_domain_id", "mikey.mbms.msk_id", "mikey.mbms.mtk_id",
                 "mikey.generic_id.spi", "mikey.sp.patam.value", "mikey.tp.flags",
                 "mikey.ticket.data", "mikey.sakke.data", "mikey.key.salt",
                 "mikey.key.kv.spi", "mikey.key.kv.from"):
        assert seen.get(name), f"corpus never shows {name}"
