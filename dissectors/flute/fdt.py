"""The FLUTE File Delivery Table instance (RFC 6726 §3.4.2; RFC 3926 §3.4.2).

An FDT Instance is an XML document carried as TOI 0 with EXT_FDT. It names the
files of the session: for each ``File``, its TOI, ``Content-Location`` (the
file name), lengths, type, encoding, ``Content-MD5`` and FEC OTI. Attributes
on ``FDT-Instance`` are defaults for every ``File``.

The XML is parsed with ``defusedxml``: a DTD, entity or external reference is
refused (an XML bomb is a finding, not an expansion), and the document is
bounded by :data:`MAX_FDT` bytes and :data:`MAX_FILES` entries. Both
namespaces are accepted: RFC 3926's ``urn:IETF:metadata:2005:FLUTE:FDT``
(which 3GPP TS 26.346 keeps) and RFC 6726's ``urn:ietf:params:xml:ns:fdt``;
so is a document without one.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from dissectors.issues import Issue
from dissectors.mikey.base import Field_, Node

#: Largest FDT Instance parsed (bytes); real ones are a few kilobytes.
MAX_FDT = 1 << 20
#: Most ``File`` entries taken from one instance.
MAX_FILES = 4096
#: Largest length an FDT may announce before it is called absurd (1 TiB).
MAX_ANNOUNCED = 1 << 40

#: File attributes taken over from FDT-Instance when a File does not set them.
INHERITED = ("Content-Type", "Content-Encoding", "FEC-OTI-FEC-Encoding-ID",
             "FEC-OTI-FEC-Instance-ID", "FEC-OTI-Maximum-Source-Block-Length",
             "FEC-OTI-Encoding-Symbol-Length", "FEC-OTI-Max-Number-of-Encoding-Symbols",
             "FEC-OTI-Scheme-Specific-Info")


@dataclass(frozen=True)
class FdtFile:
    """One ``File`` entry: where a TOI's object goes and what it should be."""

    toi: int
    content_location: str
    content_length: int | None = None
    transfer_length: int | None = None
    content_type: str | None = None
    content_encoding: str | None = None
    content_md5: bytes | None = None
    fec_encoding_id: int | None = None
    symbol_length: int | None = None
    max_source_block_length: int | None = None
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """The file name: the last path segment of Content-Location."""
        tail = self.content_location.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        return tail or f"toi-{self.toi}"


@dataclass
class FdtInstance:
    """A parsed FDT Instance (``files`` is empty when it did not parse)."""

    expires: str | None = None
    complete: bool = False
    files: list[FdtFile] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def tree(self, depth: int = 0) -> list:
        """Dissection items (``flute.fdt.*`` and ``flute.file.*``)."""
        items: list = [Node("FLUTE File Delivery Table instance", depth - 1)]
        if self.expires is not None:
            items.append(Field_("flute.fdt.expires", self.expires, "Expires", depth=depth))
        items.append(Field_("flute.fdt.complete", int(self.complete), "Complete", depth=depth))
        for f in self.files:
            items.append(Node(f"File TOI {f.toi}: {f.content_location}", depth))
            d = depth + 1
            items.append(Field_("flute.file.toi", f.toi, "TOI", depth=d))
            items.append(Field_("flute.file.content_location", f.content_location,
                                "Content-Location", depth=d))
            for name, value, label in (
                    ("flute.file.content_length", f.content_length, "Content-Length"),
                    ("flute.file.transfer_length", f.transfer_length, "Transfer-Length"),
                    ("flute.file.content_type", f.content_type, "Content-Type"),
                    ("flute.file.content_encoding", f.content_encoding, "Content-Encoding"),
                    ("flute.file.content_md5", f.content_md5.hex() if f.content_md5 else None,
                     "Content-MD5"),
                    ("flute.file.fec_encoding_id", f.fec_encoding_id, "FEC-OTI-FEC-Encoding-ID"),
                    ("flute.file.symbol_length", f.symbol_length,
                     "FEC-OTI-Encoding-Symbol-Length"),
                    ("flute.file.max_source_block_length", f.max_source_block_length,
                     "FEC-OTI-Maximum-Source-Block-Length")):
                if value is not None:
                    items.append(Field_(name, value, label, depth=d))
        return items


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _int(value: str | None, what: str, issues: list[Issue]) -> int | None:
    if value is None:
        return None
    try:
        n = int(value.strip())
    except ValueError:
        issues.append(Issue("flute.fdt_bad_value", f"{what} {value[:40]!r} is not a number"))
        return None
    if n < 0 or n > MAX_ANNOUNCED:
        issues.append(Issue("flute.fdt_absurd_length", f"{what} {n} is outside 0..2^40"))
        return None
    return n


def parse_fdt(data: bytes) -> FdtInstance:
    """Parse an FDT Instance document; never raises."""
    fdt = FdtInstance()
    issues = fdt.issues
    if len(data) > MAX_FDT:
        issues.append(Issue("flute.fdt_too_large", f"FDT instance of {len(data)} bytes is over "
                            f"the {MAX_FDT}-byte limit: not parsed"))
        return fdt
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        issues.append(Issue("flute.fdt_refused", f"FDT instance refused: {type(exc).__name__} "
                            "(a DTD, entity or external reference)"))
        return fdt
    except (ParseError, ValueError, UnicodeError, LookupError) as exc:  # LookupError: encoding=
        issues.append(Issue("flute.fdt_malformed", f"FDT instance does not parse: "
                            f"{str(exc)[:120]}"))
        return fdt
    if _local(root.tag) != "FDT-Instance":
        issues.append(Issue("flute.fdt_malformed", f"root element is {_local(root.tag)[:40]!r}, "
                            "not FDT-Instance"))
        return fdt
    top = {_local(k): v for k, v in root.attrib.items()}
    fdt.expires = top.get("Expires")
    if fdt.expires is None:
        issues.append(Issue("flute.fdt_no_expires", "FDT-Instance has no Expires (RFC 6726 "
                            "§3.4.2 requires it)", "warning"))
    fdt.complete = top.get("Complete", "").strip().lower() in ("true", "1")
    for elem in root:
        if _local(elem.tag) != "File":
            continue
        if len(fdt.files) >= MAX_FILES:
            issues.append(Issue("flute.fdt_too_many_files",
                                f"over {MAX_FILES} File entries: the rest are ignored"))
            break
        attrs = {_local(k): v for k, v in elem.attrib.items()}
        for name in INHERITED:
            if name not in attrs and name in top:
                attrs[name] = top[name]
        toi = _int(attrs.get("TOI"), "TOI", issues)
        location = attrs.get("Content-Location")
        if toi is None or not location:
            issues.append(Issue("flute.fdt_bad_file", "a File without a TOI or Content-Location "
                                "(both required by RFC 6726 §3.4.2)"))
            continue
        md5 = None
        if "Content-MD5" in attrs:
            try:
                md5 = base64.b64decode(attrs["Content-MD5"].strip(), validate=True)
            except (binascii.Error, ValueError):
                md5 = None
            if md5 is not None and len(md5) != 16:
                md5 = None
            if md5 is None:
                issues.append(Issue("flute.fdt_bad_value", f"Content-MD5 of TOI {toi} is not "
                                    "base64 of 16 bytes"))
        fdt.files.append(FdtFile(
            toi, location[:1024],
            _int(attrs.get("Content-Length"), f"Content-Length of TOI {toi}", issues),
            _int(attrs.get("Transfer-Length"), f"Transfer-Length of TOI {toi}", issues),
            attrs.get("Content-Type"), attrs.get("Content-Encoding"), md5,
            _int(attrs.get("FEC-OTI-FEC-Encoding-ID"), "FEC-OTI-FEC-Encoding-ID", issues),
            _int(attrs.get("FEC-OTI-Encoding-Symbol-Length"), "FEC-OTI-Encoding-Symbol-Length",
                 issues),
            _int(attrs.get("FEC-OTI-Maximum-Source-Block-Length"),
                 "FEC-OTI-Maximum-Source-Block-Length", issues),
            tuple(sorted(attrs.items()))[:64]))
    return fdt


def build_fdt(files: list[dict[str, str]], expires: int = 4_000_000_000,
              namespace: str = "urn:IETF:metadata:2005:FLUTE:FDT") -> bytes:
    """An FDT Instance document with one ``File`` per attribute dict (the lab's)."""
    from xml.sax.saxutils import quoteattr

    body = "".join("  <File " + " ".join(f"{k}={quoteattr(str(v))}" for k, v in f.items())
                   + "/>\n" for f in files)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<FDT-Instance xmlns="{namespace}" '
            f'Expires="{expires}">\n{body}</FDT-Instance>\n').encode()
