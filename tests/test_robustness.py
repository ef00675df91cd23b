"""Hostile input: random, truncated and length-mutated MIKEY messages never raise.

For every input: ``parse`` returns (no exception), within 50 ms, and either
the message is well formed (it rebuilds to exactly the input bytes and has no
issue) or it carries at least one issue. Every strict prefix of a valid
message is malformed and must carry an issue.
"""

from __future__ import annotations

import random
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissectors.mikey import all_issues, field_list, parse
from dissectors.mikey.heuristic import looks_like_mikey
from tests.corpus import build_corpus

CORPUS = build_corpus(count=120, classic=40)
LIMIT_S = 0.050


def _timed(data: bytes):
    start = time.perf_counter()
    msg = parse(data)
    fields = field_list(msg)  # the field walk must not raise either
    issues = all_issues(msg)
    return time.perf_counter() - start, msg, fields, issues


def _check(data: bytes) -> None:
    elapsed, msg, fields, issues = _timed(data)
    if elapsed >= LIMIT_S:  # a GC pause or the other core's load: measure again
        elapsed = min(elapsed, *(_timed(data)[0] for _ in range(2)))
    assert elapsed < LIMIT_S, f"{elapsed * 1000:.1f} ms for {len(data)} bytes"
    assert fields is not None
    if not issues:
        assert bytes(msg) == data, "no issue, yet the message does not rebuild to its bytes"


@st.composite
def mutated(draw):
    raw = bytearray(draw(st.sampled_from(CORPUS)))
    kind = draw(st.sampled_from(["truncate", "flip", "length", "splice", "random"]))
    if kind == "truncate":
        return bytes(raw[:draw(st.integers(0, len(raw)))])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            pos = draw(st.integers(0, len(raw) - 1))
            raw[pos] = draw(st.integers(0, 255))
        return bytes(raw)
    if kind == "length":  # overwrite a byte pair with an extreme length
        pos = draw(st.integers(0, len(raw) - 2))
        raw[pos:pos + 2] = draw(st.sampled_from([b"\xff\xff", b"\x00\x00", b"\x00\x01", b"\x7f\xff"]))
        return bytes(raw)
    if kind == "splice":
        other = draw(st.sampled_from(CORPUS))
        cut = draw(st.integers(0, len(raw)))
        return bytes(raw[:cut]) + other[draw(st.integers(0, len(other))):]
    return draw(st.binary(min_size=0, max_size=600))


@settings(max_examples=10_000, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_mutated_messages_never_raise_and_are_marked(data):
    _check(data)


def test_every_strict_prefix_is_marked_malformed():
    for raw in CORPUS[:60]:
        for cut in range(len(raw)):
            msg = parse(raw[:cut])
            assert all_issues(msg), f"prefix of {cut}/{len(raw)} bytes carries no issue"


def test_payload_chain_is_capped():
    # 2000 ERR payloads chained: dissected up to the cap, the rest kept raw with an issue
    raw = bytes.fromhex("0100" "0c" "00" "00000001" "0001") + b"\x0c\x00\x00\x00" * 2000 + b"\x00\x00\x00\x00"
    msg = parse(raw)
    codes = {i.code for i in all_issues(msg)}
    assert "mikey.too_many_payloads" in codes
    assert bytes(msg) == raw  # nothing lost


def test_heuristic_finds_no_mikey_in_a_million_random_payloads():
    rng = random.Random(2269)
    pool = rng.randbytes(1 << 22)
    hits = 0
    for _ in range(1_000_000):
        start = rng.getrandbits(22)
        size = rng.randint(8, 1400)
        if looks_like_mikey(pool[start:start + size]):
            hits += 1
    assert hits == 0


def test_heuristic_rejects_near_misses_but_accepts_the_corpus():
    rng = random.Random(4359)
    for raw in CORPUS:
        assert looks_like_mikey(raw)
        assert not looks_like_mikey(raw + b"\x00")
        assert not looks_like_mikey(raw[:-1])
    # random tails behind a plausible header
    for _ in range(100_000):
        fake = bytes([1, rng.randint(0, 27), rng.choice((1, 5, 11, 21))]) + rng.randbytes(rng.randint(9, 200))
        if looks_like_mikey(fake):
            assert not all_issues(parse(fake))
