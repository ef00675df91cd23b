"""``mbms-analyzer extract``: every file the captures' FLUTE sessions delivered.

Runs the timeline export (so MTKs are learned from MIKEY in capture order) and
writes each complete object into the output directory - decrypted when its DCF
names a known MTK, the DCF itself when not - with ``index.json``::

    {"format": "mbms-extract", "version": 1, "captures": [...],
     "files": [{"capture": 0, "dst": "232.0.0.1:4001", "tsi": 1, "toi": 3,
                "name": "clip.3gp", "content_location": "http://...", "path": null,
                "size": null, "transfer_length": 40279, "received": 39255,
                "complete": false, "missing": [[7168, 8192]], "md5": null,
                "protected": true, "mtk": "02f810/00010001/0002", "decrypted": false,
                "result": "incomplete", "key_derivation": null, "signature": null,
                "frames": [[0, 75], [0, 113]]}]}

An incomplete object is listed with what is missing and not written: a file
with holes is not passed off as whole. Names come from the FDT's
Content-Location, reduced to a safe file name (no directories, no dot-files,
at most 128 characters); two objects with one name get ``-tsi<T>-toi<N>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from analyzer.views.alc import OpenedObject

FORMAT = "mbms-extract"
VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def safe_name(name: str) -> str:
    """A file name that stays inside the output directory."""
    name = _UNSAFE.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).lstrip(".")
    return (name or "object")[:128]


class Extractor:
    """Collects finished objects (``Export.on_download``) and writes them to *out*."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.files: list[dict[str, Any]] = []
        self._names: set[str] = {"index.json"}

    def __call__(self, opened: OpenedObject) -> None:
        obj = opened.obj
        protected = opened.dcf is not None
        content = opened.plain
        decrypted = protected and opened.result in ("ok", "unchecked") and content is not None
        if obj.complete and content is None:
            content = obj.data  # protected without a key: the DCF as it came
        path = None
        if obj.complete and content is not None:
            name = safe_name(obj.name)
            if protected and not decrypted:
                name += ".dcf"
            if name in self._names:
                stem, dot, ext = name.partition(".")
                name = f"{stem}-tsi{obj.tsi}-toi{obj.toi}{dot}{ext}"
                n = 1
                while name in self._names:
                    n += 1
                    name = f"{stem}-tsi{obj.tsi}-toi{obj.toi}-{n}{dot}{ext}"
            self._names.add(name)
            (self.out / name).write_bytes(content)
            path = name
        self.files.append({
            "capture": obj.first.capture, "dst": obj.session, "tsi": obj.tsi, "toi": obj.toi,
            "name": obj.name,
            "content_location": obj.fdt.content_location if obj.fdt is not None else None,
            "content_type": obj.fdt.content_type if obj.fdt is not None else None,
            "path": path, "size": len(content) if path is not None else None,
            "transfer_length": obj.transfer_length, "received": obj.received,
            "complete": obj.complete, "missing": [list(m) for m in obj.missing],
            "md5": obj.md5, "protected": protected,
            "mtk": "/".join(opened.mtk) if opened.mtk else None, "decrypted": decrypted,
            "result": opened.result, "key_derivation": opened.key_how,
            "key_by_trial": opened.by_trial,
            "signature": opened.signature,
            "frames": [[obj.first.capture, obj.first.frame], [obj.last.capture, obj.last.frame]],
        })

    def index(self, captures: list[dict[str, Any]]) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "captures": captures,
                "files": self.files}
