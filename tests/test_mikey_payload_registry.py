"""A MIKEY payload is one class: it registers itself for the chain walk, and its display
tree and the byte spans of its fields come from its fields_desc and name map."""

from __future__ import annotations

import pytest
from scapy.fields import ByteEnumField, FieldLenField, XStrLenField

from dissectors.mikey import (
    MIKEY,
    MIKEY_RAND,
    MIKEY_T,
    PAYLOAD_CLASSES,
    parse,
    tree,
    tree_spans,
)
from dissectors.mikey.base import MIKEYPayload, Show
from dissectors.mikey.constants import PAYLOAD_TYPES

TEST_TYPE = 250  # unassigned (IANA MIKEY payload name space)


@pytest.fixture
def new_payload():
    """A payload defined the way a contributor would add one - and nothing else."""
    class MIKEY_TEST(MIKEYPayload):
        """A test payload: ``next | colour | len | blob``."""

        name = "TEST"
        payload_type = TEST_TYPE
        fields_desc = [
            ByteEnumField("next_payload", None, PAYLOAD_TYPES),
            ByteEnumField("colour", 1, {1: "red", 2: "green"}),
            FieldLenField("blob_len", None, length_of="blob", fmt="B"),
            XStrLenField("blob", b"", length_from=lambda pkt: pkt.blob_len),
        ]
        prefix = "mikey.test"
        shows = (Show("colour", "colour", "Colour"), Show("blob_len", "len", "Blob len"),
                 Show("blob", "blob", "Blob"))

        @classmethod
        def wire_length(cls, buf: bytes) -> int | None:
            return 3 if len(buf) < 3 else 3 + buf[2]

    try:
        yield MIKEY_TEST
    finally:
        PAYLOAD_CLASSES.pop(TEST_TYPE, None)


def test_a_new_payload_is_found_shown_and_spanned(new_payload):
    msg = MIKEY(data_type=0, csb_id=7) / MIKEY_T(ts_type=2, ts_value=b"\0\0\0\x05") \
        / new_payload(colour=2, blob=b"\xca\xfe") / MIKEY_RAND(rand=b"\x11" * 16)
    raw = bytes(msg)
    back = parse(raw)
    assert back.haslayer(new_payload) and back.haslayer(MIKEY_RAND)
    shown = {item.name: (item.value, str(item.display))
             for item in tree(back) if hasattr(item, "name")}
    assert shown["mikey.test.colour"] == (2, "green (2)")
    assert shown["mikey.test.len"] == (2, "2")
    assert shown["mikey.test.blob"][0] == "cafe"
    spans = {item.name: span for item, span in tree_spans(back) if hasattr(item, "name")}
    a, b = spans["mikey.test.blob"]
    assert raw[a:b] == b"\xca\xfe"
    a, b = spans["mikey.test.colour"]
    assert raw[a:b] == b"\x02"


def test_a_payload_type_cannot_be_claimed_twice(new_payload):
    with pytest.raises(TypeError, match="claimed by MIKEY_TEST"):
        class MIKEY_OTHER(MIKEYPayload):
            payload_type = TEST_TYPE
            fields_desc = []
    assert PAYLOAD_CLASSES[TEST_TYPE] is new_payload


def test_every_payload_of_rfc_3830_6043_6509_is_registered():
    assert {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 21, 26} \
        <= set(PAYLOAD_CLASSES)
    assert all(issubclass(cls, MIKEYPayload) for cls in PAYLOAD_CLASSES.values())
