"""Display filters over dissected packets (our field names, Wireshark-like syntax).

Grammar (``or`` binds loosest; ``not`` tightest; parentheses group)::

    expr   := term ("or" | "||") term ...
    term   := factor ("and" | "&&") factor ...
    factor := ("not" | "!") factor | "(" expr ")" | test
    test   := NAME [("==" | "!=" | "contains" | ">" | "<" | ">=" | "<=") VALUE]
            | NAME "in" "{" VALUE ... "}"

Names are the ``dissect`` field names (``mikey.mbms.msk_id``, ``bmsc.btid`` ...), plus
``ip.addr``/``ip.src``/``ip.dst``, ``frame``, ``protocol`` (or just ``mikey``, ``bmsc``,
``srtp``), and ``finding`` (a packet with a problem: a dissector issue, or a finding of
the timeline at its frame). A bare name tests presence.
Hex values may have colons. :class:`FilterError` says what is wrong, for "as you type".
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Callable

from analyzer.views.result import Dissected

PROTOCOLS = {"mikey", "bmsc", "srtp", "srtcp"}
#: protocols of packets that carry nothing MBMS (:mod:`analyzer.views.frame`)
LIGHT_PROTOCOLS = {"udp", "tcp", "icmp", "icmpv6", "igmp", "arp", "ipv4", "ipv6", "ethernet", "sctp",
                   "gre", "esp", "sync"}
_MBMS_PREFIXES = ("mikey.", "bmsc.", "srtp.", "srtcp.", "rtp.", "rtcp.", "http.", "digest.")
OPS = {"==", "!=", "contains", ">", "<", ">=", "<="}
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_.]*$")


class FilterError(ValueError):
    """The filter text does not parse (the message says where)."""


Predicate = Callable[[Dissected], bool]


class Filter:
    """A compiled display filter: call it on a packet.

    ``scope`` says which packets can match, so a million-packet list is not
    dissected for nothing: ``mbms`` (only fully dissected MBMS packets),
    ``frame`` (others too, but only by frame number: no need to read them) or
    ``all`` (others must be summarised to be tested).
    """

    def __init__(self, predicate: Predicate, scope: str) -> None:
        self.predicate = predicate
        self.scope = scope

    def __call__(self, pkt: Dissected) -> bool:
        return self.predicate(pkt)


def _ip(endpoint: str) -> str:
    return endpoint.rsplit(":", 1)[0].strip("[]")


def _values(pkt: Dissected, name: str) -> list[Any]:
    if name == "ip.addr":
        return [_ip(pkt.src), _ip(pkt.dst)]
    if name == "ip.src":
        return [_ip(pkt.src)]
    if name == "ip.dst":
        return [_ip(pkt.dst)]
    if name == "frame":
        return [pkt.frame]
    if name == "protocol":
        return [pkt.protocol]
    name = ALIASES.get(name, name)
    return [v for k, v in pkt.fields(reveal_keys=False) if k == name]


#: Other spellings of a field name that the filter accepts (Wireshark's own is the field's)
ALIASES = {"mikey.sp.param.value": "mikey.sp.patam.value"}


def _norm(value: Any) -> str:
    return str(value).lower().replace(":", "")


def _compare(op: str, have: Any, want: str) -> bool:
    if op in ("==", "!="):
        same = _norm(have) == _norm(want)
        if not same and isinstance(have, int):
            try:
                same = have == int(want, 0)
            except ValueError:
                same = False
        return same if op == "==" else not same
    if op == "contains":
        return _norm(want) in _norm(have)
    try:
        a, b = float(have), float(int(want, 0) if want.lower().startswith("0x") else want)
    except (TypeError, ValueError):
        return False
    return {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]


@dataclass
class _Parser:
    tokens: list[str]
    pos: int = 0
    names: set[str] = field(default_factory=set)
    negated: bool = False
    #: (capture, frame) of the timeline's findings (see :func:`compile_filter`)
    flagged: Any = frozenset()

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise FilterError("the filter ends too early")
        self.pos += 1
        return tok

    def expr(self) -> Predicate:
        left = self.term()
        while self.peek() in ("or", "||"):
            self.take()
            right = self.term()
            left = (lambda a, b: lambda p: a(p) or b(p))(left, right)
        return left

    def term(self) -> Predicate:
        left = self.factor()
        while self.peek() in ("and", "&&"):
            self.take()
            right = self.factor()
            left = (lambda a, b: lambda p: a(p) and b(p))(left, right)
        return left

    def factor(self) -> Predicate:
        tok = self.take()
        if tok in ("not", "!"):
            self.negated = True
            inner = self.factor()
            return lambda p: not inner(p)
        if tok == "(":
            inner = self.expr()
            if self.take() != ")":
                raise FilterError("a ')' is missing")
            return inner
        return self.test(tok)

    def test(self, name: str) -> Predicate:
        self.names.add(name)
        if name == "finding":
            flagged = self.flagged
            return lambda p: bool(p.errors) or (p.capture, p.frame) in flagged
        if name in PROTOCOLS or name in LIGHT_PROTOCOLS:
            return lambda p: p.protocol == name
        if not _NAME_RE.match(name):
            raise FilterError(f"{name!r} is not a field name")
        if self.peek() in OPS:
            op = self.take()
            want = self.take()
            return lambda p: any(_compare(op, v, want) for v in _values(p, name))
        if self.peek() == "in":
            self.take()
            if self.take() != "{":
                raise FilterError("'in' wants a set: {value value ...}")
            wanted = []
            while self.peek() != "}":
                wanted.append(self.take())
            self.take()
            return lambda p: any(_compare("==", v, w) for v in _values(p, name) for w in wanted)
        return lambda p: bool(_values(p, name))


def compile_filter(text: str, flagged: Any = frozenset()) -> Filter:
    """A :class:`Filter` for *text* (empty: everything); raises :class:`FilterError`.

    *flagged*: the (capture, frame) of the timeline's findings (``finding`` matches
    them, whether or not the packet is an MBMS one); read when the filter runs, so
    the caller may keep filling it."""
    text = text.strip()
    if not text:
        return Filter(lambda p: True, "all")
    try:
        tokens = shlex.split(re.sub(r"(==|!=|>=|<=|\(|\)|\{|\}|&&|\|\|)", r" \1 ", text))
    except ValueError as exc:
        raise FilterError(str(exc)) from None
    parser = _Parser(tokens, flagged=flagged)
    pred = parser.expr()
    if parser.peek() is not None:
        raise FilterError(f"unexpected {parser.peek()!r}")
    mbms = all(n in PROTOCOLS or n.startswith(_MBMS_PREFIXES) for n in parser.names)
    if mbms and not parser.negated:
        scope = "mbms"
    elif all(n in PROTOCOLS or n in ("finding", "frame") or n.startswith(_MBMS_PREFIXES)
             for n in parser.names):
        scope = "frame"  # a packet without MBMS fields is judged by its number alone
    else:
        scope = "all"
    return Filter(pred, scope)
