"""Architecture: dissectors never import the analyzer; nothing below the TUI imports Textual."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_dissectors_do_not_import_analyzer_or_textual():
    for path in (ROOT / "dissectors").rglob("*.py"):
        assert not _imports(path) & {"analyzer", "textual", "pyshark"}, path


def test_only_the_tui_imports_textual():
    for path in (ROOT / "analyzer").rglob("*.py"):
        if "tui" in path.parts:
            continue
        assert "textual" not in _imports(path), path


def test_the_reconstructor_is_sans_io():
    """analyzer/flows: observations in, changes out; no files, sockets, threads or Textual."""
    forbidden = {"socket", "threading", "subprocess", "multiprocessing", "asyncio", "os",
                 "io", "pathlib", "shutil", "textual", "select"}
    for path in (ROOT / "analyzer" / "flows").rglob("*.py"):
        assert not _imports(path) & forbidden, path
        assert "open(" not in path.read_text(), path


def test_every_issue_code_is_documented():
    import re

    from dissectors.issues import ISSUE_CODES

    used = set()
    for folder in ("dissectors", "analyzer"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            used |= set(re.findall(r'Issue\("([a-z_]+\.[a-z_.]+)"', text))
            used |= set(re.findall(r'add_issue\(\s*"([a-z_]+\.[a-z_.]+)"', text))
            used |= set(re.findall(r'issue_code="([a-z_]+\.[a-z_.]+)"', text))
    assert used and used <= set(ISSUE_CODES), used - set(ISSUE_CODES)



def test_every_finding_code_is_documented():
    """Codes the reconstructor raises itself are in FINDING_CODES (the timeline's
    stable codes); the dissectors' issues it passes on are in ISSUE_CODES."""
    import re

    from analyzer.flows.model import FINDING_CODES

    text = (ROOT / "analyzer" / "flows" / "reconstructor.py").read_text()
    code = r'"([a-z0-9_]+\.[a-z0-9_.]+)"'
    used = set(re.findall(r"_finding\(\s*" + code, text))
    used |= set(re.findall(r"_once\(\([^)]*\),\s*" + code, text))
    assert len(used) > 10 and used <= set(FINDING_CODES), used - set(FINDING_CODES)
