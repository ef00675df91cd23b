"""Conformance with tshark: every field tshark decodes equals ours by name and value.

The corpus is written to a pcap, dissected by ``mbms-analyzer dissect --json``
(the real command line) and by tshark (PDML). ``tests/tshark_model.py`` maps
our dissection onto what tshark 4.0.17 shows, naming each of its known bugs
and silences; the test fails on any difference the model does not name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from dissectors.mikey import parse
from tests.tshark_model import ANY, DEVIATIONS, tshark_view
from tests.tshark_oracle import field_types, tshark_mikey_fields

pytestmark = pytest.mark.tshark

#: Names tshark 4.0.17 does not have at all: fields only we decode (named, not silent).
OURS_ONLY_PREFIXES = ("mikey.mbms.", "mikey.ext.key_id.", "mikey.generic_id.", "mikey.t.counter",
                      "mikey.t.time", "mikey.t.ntp_utc_32", "mikey.tr.", "mikey.randr.",
                      "mikey.tp.", "mikey.ticket.", "mikey.chash.", "mikey.cert.url",
                      "mikey.ext.csb_id", "mikey.ext.oma_bcast.")


def _ours(corpus_pcap):
    out = subprocess.run([sys.executable, "-m", "analyzer", "dissect", "--json", "--reveal-keys",
                          str(corpus_pcap)], capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_every_field_tshark_decodes_is_equal(corpus, corpus_pcap):
    theirs = tshark_mikey_fields(corpus_pcap)
    ours = _ours(corpus_pcap)
    assert len(theirs) == len(ours) == len(corpus)
    exact = compared = 0
    seen: Counter[str] = Counter()
    for n, (raw, tshark_fields, obj) in enumerate(zip(corpus, theirs, ours)):
        msg = parse(raw)
        # our JSON is exactly our dissection
        assert [f[0] for f in obj["fields"]] == [name for name, _ in _fields_of(msg)], n
        view = tshark_view(msg)
        seen.update(view.deviations)
        got = list(tshark_fields)  # names exactly as tshark's, no renaming
        if view.mode == "diverge":
            got = got[:len(view.fields)]
        assert len(got) == len(view.fields), (n, view.deviations, got, view.fields)
        for (tname, tvalue), (mname, mvalue) in zip(got, view.fields):
            assert tname == mname, (n, tname, mname)
            if mvalue is not ANY:
                assert tvalue == mvalue, (n, tname, tvalue, mvalue)
        compared += len(view.fields)
        exact += view.mode == "exact"
    # each difference is a named one, and the comparison is substantial
    assert set(seen) <= set(DEVIATIONS)
    assert exact >= 150, f"only {exact} messages compared in full"
    assert compared >= 10000, f"only {compared} fields compared"


def _fields_of(msg):
    from dissectors.mikey import field_list
    return [(f.name, f.value) for f in field_list(msg)]


def test_fields_tshark_lacks_are_named(corpus):
    """Every field name we emit is tshark's, or one of the named extensions."""
    known = set(field_types())
    for raw in corpus:
        for name, _ in _fields_of(parse(raw)):
            assert name in known or name.startswith(OURS_ONLY_PREFIXES), name


def test_digest_message_matches_tshark_exactly(tmp_path):
    """The digest's MSK message: tshark shows EXT type 3 as bytes; we add the decoded IDs."""
    from tests.corpus import DIGEST_MSK_MESSAGE, write_pcap
    pcap = tmp_path / "msk.pcap"
    write_pcap(pcap, [DIGEST_MSK_MESSAGE], port=4359)
    theirs = tshark_mikey_fields(pcap, port=4359)[0]
    view = tshark_view(parse(DIGEST_MSK_MESSAGE))
    assert view.mode == "exact" and view.deviations == []
    assert theirs == view.fields
    assert ("mikey.ext.data", "000300f110010400010002") in theirs
