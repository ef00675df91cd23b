"""The small base classes every MIKEY payload layer is built on.

A MIKEY message (RFC 3830 §6) is a chain: the common header names the type
of the first payload, and each payload names the type of the next one in its
first byte (the IKEv2 pattern of Scapy's ``contrib/ikev2.py``). The chain is
modelled as Scapy layers: :meth:`MIKEYPayload.guess_payload_class` follows
``next_payload`` through :data:`PAYLOAD_CLASSES`, where every payload class
registers itself when it is defined (as Scapy's ``contrib/ikev2.py`` binds
next-payload values in one place). A layer's display tree is derived from its
``fields_desc`` and a name map (:attr:`MIKEYPacket.shows`), and the byte span of
each shown field comes from the same map.

Robustness (STYLE.md rules 1-2): before a payload class is used on wire
bytes, its :meth:`~MIKEYPayload.wire_length` (the length algorithm of digest
§2.12) must fit in what is left; otherwise the bytes become a
:class:`MIKEY_Malformed` (or :class:`MIKEY_Unknown`) layer that keeps them and
carries an :class:`~dissectors.issues.Issue`. The chain is capped at
:data:`MAX_PAYLOADS` layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator

from scapy.fields import StrField, _FieldContainer
from scapy.packet import NoPayload, Packet, Raw

from dissectors.issues import Issue

from .constants import PAYLOAD_TITLES, PAYLOAD_TYPES

#: Most payloads one message may chain before the rest is kept as bytes. A
#: real message carries a handful; the cap bounds time and stack depth.
MAX_PAYLOADS = 64

#: Payload type -> layer class: each :class:`MIKEYPayload` with a ``payload_type``
#: registers itself when defined.
PAYLOAD_CLASSES: dict[int, type["MIKEYPayload"]] = {}


def hexstr(value: bytes | None) -> str:
    """Lowercase hex of *value* (``""`` for None), the JSON form of bytes."""
    return value.hex() if value else ""


def text_of(value: bytes | None) -> str:
    """Bytes shown as text: UTF-8 where valid, escapes elsewhere."""
    if not value:
        return ""
    return value.decode("utf-8", "backslashreplace")


class Field_(tuple):
    """One dissected field: ``(name, value, label, display)``.

    ``name`` is the dotted display-filter name (Wireshark's where it has one),
    ``value`` the JSON value (int, lowercase hex str for bytes, or text),
    ``label`` the tree label and ``display`` the text shown after it. ``secret``
    marks key material that output hides unless keys are revealed.
    """

    __slots__ = ()

    def __new__(cls, name: str, value: Any, label: str, display: Any = None,
                secret: bool = False, depth: int = 0) -> "Field_":
        return tuple.__new__(cls, (name, value, label, display, secret, depth))

    name = property(lambda self: self[0])
    value = property(lambda self: self[1])
    label = property(lambda self: self[2])

    def __getnewargs__(self) -> tuple:  # pickled to ``dissect`` workers
        return tuple(self)

    @property
    def display(self) -> str:
        """The text shown after the label (rendered only when asked for)."""
        shown = self[3]
        if shown is None:
            return str(self[1])
        if isinstance(shown, _EnumShown):
            return f"{shown[0].get(shown[1], 'Unknown')} ({shown[1]})"
        return shown

    secret = property(lambda self: self[4])
    depth = property(lambda self: self[5])


class Node(tuple):
    """A subtree title in the dissection tree: ``(title, depth)``."""

    __slots__ = ()

    def __new__(cls, title: str, depth: int = 0) -> "Node":
        return super().__new__(cls, (title, depth))

    title = property(lambda self: self[0])
    depth = property(lambda self: self[1])

    def __getnewargs__(self) -> tuple:
        return tuple(self)


class _EnumShown(tuple):
    """``(table, value)``: an enumerated value whose text is made only when shown."""

    __slots__ = ()


def enum_display(table: dict[int, str], value: int) -> _EnumShown:
    """Wireshark's ``Name (value)`` form of an enumerated value, rendered lazily."""
    return _EnumShown((table, value))


@dataclass(frozen=True)
class Show:
    """One line of a layer's display tree: layer field *field* shown as
    ``<prefix>.<name>`` with *label*.

    The value shown follows the field: an enumeration (``ByteEnumField``...) as
    Wireshark's ``Name (n)``, bytes as lowercase hex, numbers as they are; *fmt*
    ``(layer, value) -> (value, display)`` overrides that. *secret* marks key
    material (hidden unless keys are revealed); a callable decides per layer.
    """

    field: str
    name: str
    label: str
    fmt: Callable[[Any, Any], tuple[Any, Any]] | None = None
    secret: bool | Callable[[Any], bool] = False

    def field_of(self, layer: Packet, depth: int) -> "Field_":
        value = getattr(layer, self.field)
        shown = None
        if self.fmt is not None:
            value, shown = self.fmt(layer, value)
        else:
            table = _enum_table(type(layer), self.field)
            if table is not None and isinstance(value, int):
                shown = enum_display(table, value)
            elif isinstance(value, bytes) or value is None:
                value = hexstr(value)
        secret = self.secret(layer) if callable(self.secret) else self.secret
        return Field_(f"{layer.prefix}.{self.name}", value, self.label, shown, secret=secret,
                      depth=depth)


_ENUM_TABLES: dict[tuple[type, str], Any] = {}


def _enum_table(cls: type, name: str) -> Any:
    """The value names of enumerated field *name* of layer class *cls* (None: not one)."""
    key = (cls, name)
    if key not in _ENUM_TABLES:
        fld = next((f for f in cls.fields_desc if f.name == name), None)
        _ENUM_TABLES[key] = getattr(getattr(fld, "fld", fld), "i2s", None)
    return _ENUM_TABLES[key]


def next_payload_field(layer: Packet, depth: int) -> "Field_":
    """The next-payload byte (RFC 3830 §6.1), shown by the next payload's name."""
    return Field_("mikey.next_payload", layer.next_payload, "Next Payload",
                  enum_display(PAYLOAD_TITLES, layer.next_payload), depth=depth)


class MIKEYPacket(Packet):
    """Common behaviour of every MIKEY layer: issues and the field walk."""

    #: Payload type of this layer (-1 for HDR); None for sub-structures.
    payload_type: ClassVar[int | None] = None

    def __init__(self, _pkt: bytes = b"", post_transform: Any = None, _internal: int = 0,
                 _underlayer: Packet | None = None, _parent: Packet | None = None,
                 stop_dissection_after: Any = None, **fields: Any) -> None:
        object.__setattr__(self, "issues", [])
        cls = type(self)
        defaults = Packet.class_default_fields.get(cls)
        if (not _pkt or fields or post_transform is not None or stop_dissection_after is not None
                or defaults is None or cls in Packet.class_dont_cache):
            super().__init__(_pkt, post_transform, _internal, _underlayer, _parent,
                             stop_dissection_after, **fields)
            return
        # Dissection fast path: the state Packet.__init__ gives a layer made from
        # bytes, set without its per-field keyword handling (a quarter of the cost
        # of dissecting a MIKEY message). tests/test_mikey_vectors.py checks that
        # both paths give the same state for every layer class.
        osa = object.__setattr__
        osa(self, "time", 0.0)
        osa(self, "sent_time", None)
        osa(self, "name", cls.__name__ if self._name is None else self._name)
        osa(self, "default_fields", defaults)
        osa(self, "overload_fields", self._overload_fields)
        osa(self, "overloaded_fields", {})
        osa(self, "fields", {})
        osa(self, "fieldtype", Packet.class_fieldtype[cls])
        osa(self, "packetfields", Packet.class_packetfields[cls])
        osa(self, "payload", NoPayload())
        osa(self, "underlayer", _underlayer)
        osa(self, "parent", _parent)
        osa(self, "original", bytes(_pkt))
        osa(self, "explicit", 0)
        osa(self, "raw_packet_cache", None)
        osa(self, "raw_packet_cache_fields", None)
        osa(self, "wirelen", None)
        osa(self, "direction", None)
        osa(self, "sniffed_on", None)
        osa(self, "comments", None)
        osa(self, "process_information", None)
        osa(self, "stop_dissection_after", None)
        self.dissect(self.original)
        if not _internal:
            self.dissection_done(self)
        osa(self, "post_transforms", [])

    def do_dissect(self, s: bytes) -> bytes:
        # Packet.do_dissect, with its slot writes bypassing Packet.__setattr__.
        raw = s
        cache: dict[str, Any] = {}
        object.__setattr__(self, "raw_packet_cache_fields", cache)
        fields = self.fields
        for f in self.fields_desc:
            s, fval = f.getfield(self, s)
            if f.isconditional and fval is None:
                continue
            if (f.islist or f.holds_packets or f.ismutable) and fval is not None:
                cache[f.name] = self._raw_packet_cache_field_value(f, fval, copy=True)
            fields[f.name] = fval
            if not s and (f.ismayend or (fval is not None and f.isconditional
                                         and f.fld.ismayend)):
                break
        object.__setattr__(self, "raw_packet_cache", raw[:-len(s)] if s else raw)
        object.__setattr__(self, "explicit", 1)
        return s

    def __getattr__(self, attr: str) -> Any:
        # Fast path for dissected field values: our fields' i2h is the identity,
        # so the stored value is what Scapy's slower lookup would return.
        if attr == "fields":  # not set yet: early in Scapy's __init__
            raise AttributeError(attr)
        fields = self.fields
        if attr in fields:
            return fields[attr]
        return Packet.__getattr__(self, attr)

    def add_issue(self, code: str, message: str, severity: str = "error") -> None:
        """Record a problem found while dissecting this layer."""
        self.issues.append(Issue(code, message, severity))

    @property
    def title(self) -> str:
        """Subtree title, Wireshark's payload name."""
        if self.payload_type is None:
            return self.name
        return PAYLOAD_TITLES.get(self.payload_type, self.name)

    #: display-filter prefix of this layer's fields (``mikey.rand``)
    prefix: ClassVar[str] = ""
    #: the display tree, in wire order: :class:`Show` lines (a layer field shown under a
    #: display-filter name) and hooks ``(layer, depth) -> items`` for what is derived
    #: (decoded timestamps, sub-payloads); the next-payload byte comes first by itself
    shows: ClassVar[tuple[Any, ...]] = ()

    def tree(self, depth: int = 0) -> Iterator[Field_ | Node]:
        """This layer's fields in wire order, derived from :attr:`shows` (a layer with
        a shape of its own overrides it)."""
        yield Node(self.title, depth)
        d = depth + 1
        if "next_payload" in self.fieldtype and getattr(self, "next_payload_offset", 0) == 0:
            yield next_payload_field(self, d)
        for line in self.shows:
            if isinstance(line, Show):
                yield line.field_of(self, d)
            else:
                yield from line(self, d)

    @classmethod
    def source_field(cls, name: str) -> str | None:
        """The layer field a display name is read from (None: derived, not a field)."""
        table = cls.__dict__.get("_sources")
        if table is None:
            table = {f"{cls.prefix}.{s.name}": s.field for s in cls.shows if isinstance(s, Show)}
            table["mikey.next_payload"] = "next_payload"
            cls._sources = table
        return table.get(name)

    def sub_packets(self) -> list[Packet]:
        """Sub-structures (list items) whose issues belong to this layer's message."""
        return []

    def clone_with(self, payload: Any = None, **kargs: Any) -> "MIKEYPacket":
        """Keep issues when Scapy copies a packet."""
        pkt = super().clone_with(payload=payload, **kargs)
        object.__setattr__(pkt, "issues", list(self.issues))
        return pkt

    def copy(self) -> "MIKEYPacket":
        pkt = super().copy()
        object.__setattr__(pkt, "issues", list(self.issues))
        return pkt


class MIKEYPayload(MIKEYPacket):
    """Base of the chained payloads: next-payload dispatch and length checks.

    A subclass that declares its own ``payload_type`` registers itself for the chain
    walk (:data:`PAYLOAD_CLASSES`); a type claimed twice is an error at import. So a
    new payload is one class: ``payload_type``, ``fields_desc``, ``wire_length``
    and its display (:attr:`prefix`, :attr:`shows`).
    """

    #: Offset of the next-payload byte in this layer (None: SIGN has none).
    next_payload_offset: ClassVar[int | None] = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("payload_type")
        if isinstance(kind, int) and kind >= 0:
            other = PAYLOAD_CLASSES.get(kind)
            if other is not None and other.__qualname__ != cls.__qualname__:
                raise TypeError(f"MIKEY payload type {kind} claimed by {other.__name__} "
                                f"and {cls.__name__}")
            PAYLOAD_CLASSES[kind] = cls

    @classmethod
    def wire_length(cls, buf: bytes) -> int | None:
        """Bytes this payload occupies at the start of *buf*.

        None when the length cannot be known (an unknown algorithm value).
        May exceed ``len(buf)``: the caller then treats the bytes as malformed.
        Each subclass implements the rule of digest §2.12 for its payload.
        """
        raise NotImplementedError

    def chain_index(self) -> int:
        """Position of this layer in the chain (HDR is 0)."""
        n = 0
        under = self.underlayer
        while under is not None:
            n += 1
            under = under.underlayer
        return n

    def message_header(self) -> Packet | None:
        """The HDR layer this payload hangs from, if any."""
        under: Packet | None = self
        while under is not None and under.underlayer is not None:
            under = under.underlayer
        return under if under is not self else None

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        nxt = getattr(self, "next_payload", 0)
        if nxt == 0 or nxt is None:
            return MIKEY_Trailing
        if self.chain_index() >= MAX_PAYLOADS:
            return MIKEY_Capped
        cls = PAYLOAD_CLASSES.get(nxt)
        if cls is None:
            return MIKEY_Unknown
        length = cls.wire_length(payload)
        if length is None:
            return MIKEY_UnknownLength
        if length > len(payload):
            return MIKEY_Malformed
        return cls

    def do_dissect_payload(self, s: bytes) -> None:
        nxt = getattr(self, "next_payload", 0)
        if self.parent is not None:
            # An item of a bounded list (Key data inside KEMAC): the list walks
            # the chain; the item owns exactly its bytes.
            if s:
                self.add_payload(MIKEY_Trailing(s, _internal=1, _underlayer=self))
            return
        if not s:
            if nxt:
                self.add_issue(
                    "mikey.missing_payload",
                    f"next payload {PAYLOAD_TYPES.get(nxt, 'Unknown')} ({nxt}) missing: "
                    "the message ends",
                )
            return
        cls = self.guess_payload_class(s)
        if cls in (MIKEY_Malformed, MIKEY_Unknown, MIKEY_UnknownLength, MIKEY_Capped,
                   MIKEY_Trailing):
            pkt = cls(s, _internal=1, _underlayer=self)
            pkt.describe(nxt)
            self.add_payload(pkt)
            return
        # The chosen class fits: give it exactly its own bytes plus the rest.
        self.add_payload(cls(s, _internal=1, _underlayer=self))

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        off = self.next_payload_offset
        if off is not None and getattr(self, "next_payload", 0) is None:
            nxt = _payload_type_of(self.payload)
            pkt = pkt[:off] + bytes([nxt]) + pkt[off + 1:]
        return pkt + pay


def _payload_type_of(payload: Packet) -> int:
    """The next-payload value that announces *payload* (0 when there is none)."""
    if isinstance(payload, NoPayload) or payload is None:
        return 0
    ptype = getattr(payload, "payload_type", None)
    if ptype is None or ptype < 0:
        return 0
    return ptype


class _RawRest(MIKEYPacket):
    """Bytes the chain cannot decode, kept whole (base of the fallbacks)."""

    fields_desc = [StrField("load", b"")]
    payload_type = None
    code = "mikey.malformed"

    def describe(self, announced: int) -> None:
        """Attach the issue for bytes announced as payload type *announced*."""
        object.__setattr__(self, "announced", announced)
        self.add_issue(self.code, self.message(announced))

    def message(self, announced: int) -> str:
        return f"{len(self.load)} bytes kept raw"

    def tree(self, depth: int = 0) -> Iterator[Field_ | Node]:
        yield Node(f"{self.name} ({len(self.load)} bytes)", depth)
        yield Field_("mikey.raw", hexstr(self.load), "Data", depth=depth + 1)


class MIKEY_Malformed(_RawRest):
    """A payload shorter than its own length fields say (digest §2.12).

    As Wireshark does, the fields read before the cut (next payload, type,
    lengths: the fixed-size head of the announced payload) are shown by their
    names, then the bytes left and the error; nothing read is lost.
    """

    name = "Malformed payload"
    code = "mikey.malformed"

    def message(self, announced: int) -> str:
        pname = PAYLOAD_TYPES.get(announced, "Unknown")
        return f"{pname} payload ({announced}) truncated: {len(self.load)} bytes left"

    def _head(self) -> tuple[Packet | None, set[str], int]:
        """(an instance of the announced payload holding the fields read, their
        names, the bytes they took)."""
        cls = PAYLOAD_CLASSES.get(getattr(self, "announced", -1))
        if cls is None:
            return None, set(), 0
        values: dict[str, Any] = {}
        s = bytes(self.load)
        used = 0
        probe = cls()
        for fld in cls.fields_desc:
            size = getattr(fld, "sz", None)
            fmt = getattr(fld, "fmt", "")
            if isinstance(fld, _FieldContainer) or isinstance(fld, StrField) \
                    or not isinstance(size, int) or size <= 0 or size > len(s) - used \
                    or not isinstance(fmt, str) or fmt[-1:] not in "BHIQ":
                break  # a fixed-size integer field; anything else ends the head
            try:
                _rest, value = fld.getfield(probe, s[used:used + size])
            except Exception:  # noqa: BLE001 - a field that resists ends the head
                break
            values[fld.name] = value
            used += size
        if not values:
            return None, set(), 0
        try:
            return cls(**values), set(values), used
        except Exception:  # noqa: BLE001
            return None, set(), 0

    def tree(self, depth: int = 0) -> Iterator[Field_ | Node]:
        head, names, used = self._head()
        if head is None:
            yield from super().tree(depth)
            return
        pname = PAYLOAD_TYPES.get(getattr(self, "announced", -1), "Unknown")
        yield Node(f"{pname} (truncated: {len(self.load)} bytes)", depth)
        for item in head.tree(depth):
            if isinstance(item, Field_) and item.depth == depth + 1 \
                    and any(n in names for n in field_candidates(item.name)):
                yield item
        yield Field_("mikey.raw", hexstr(self.load[used:]), "Data (cut short)", depth=depth + 1)


class MIKEY_Unknown(_RawRest):
    """A payload type with no known layout: the rest cannot be walked."""

    name = "Unknown payload"
    code = "mikey.unknown_payload"

    def message(self, announced: int) -> str:
        return f"unknown payload type {announced}; {len(self.load)} bytes kept raw"


class MIKEY_UnknownLength(_RawRest):
    """A payload whose length hangs on an algorithm value we do not know."""

    name = "Undecodable payload"
    code = "mikey.unknown_algorithm"

    def message(self, announced: int) -> str:
        pname = PAYLOAD_TYPES.get(announced, "Unknown")
        return (f"{pname} payload ({announced}) uses an algorithm of unknown length; "
                f"{len(self.load)} bytes kept raw")


class MIKEY_Capped(_RawRest):
    """What follows the :data:`MAX_PAYLOADS`-th payload."""

    name = "Payloads past the cap"
    code = "mikey.too_many_payloads"

    def message(self, announced: int) -> str:
        return f"more than {MAX_PAYLOADS} payloads; {len(self.load)} bytes kept raw"


class MIKEY_Trailing(_RawRest):
    """Bytes after the payload whose next payload is 0 (or after SIGN)."""

    name = "Trailing data"
    code = "mikey.trailing_data"

    def message(self, announced: int) -> str:
        return f"{len(self.load)} bytes after the last payload"


#: Tree field names whose layer field is named otherwise (last name part -> layer field).
SPAN_ALIASES = {"type": "data_type", "set": "v", "counter": "ts_value", "ntp": "ts_value",
                "key_data_len": "encr_data_len", "key_data": "encr_data", "data": "key_ids"}


def field_candidates(name: str) -> tuple[str, ...]:
    """Layer field names a display name may stand for (``mikey.id.len`` -> ``len``,
    ``id_len``, ...), most specific last."""
    parts = name.split(".")
    suffix = parts[-1]
    parent = parts[-2] if len(parts) > 2 else ""
    return tuple(c for c in (suffix, f"{parent}_{suffix}", parent if suffix == "data" else "",
                             SPAN_ALIASES.get(suffix, "")) if c)


def iter_layers(pkt: Packet) -> Iterator[Packet]:
    """Every layer of a dissected message, HDR first."""
    layer: Packet | None = pkt
    while layer is not None and not isinstance(layer, NoPayload):
        yield layer
        layer = layer.payload


def all_issues(pkt: Packet) -> list[Issue]:
    """Issues of every layer and sub-structure of a dissected message."""
    out: list[Issue] = []
    for layer in iter_layers(pkt):
        if isinstance(layer, MIKEYPacket):
            out.extend(layer.issues)
            for sub in layer.sub_packets():
                out.extend(getattr(sub, "issues", ()))
        elif isinstance(layer, Raw):
            out.append(Issue("mikey.trailing_data", f"{len(layer.load)} bytes left raw"))
    return out
