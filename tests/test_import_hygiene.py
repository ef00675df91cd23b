"""Architecture: the layers of pyproject's import-linter contracts (dissectors never
import the analyzer; nothing below the TUI imports Textual), no private name
imported across modules, a sans-IO reconstructor, documented codes."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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



def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import "
                           "lint_imports_command; sys.exit(lint_imports_command())"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_layer_contracts_hold():
    """pyproject.toml's import-linter contracts: cli | tui | lab down to dissectors."""
    pytest.importorskip("importlinter")
    proc = _lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


@pytest.mark.parametrize("module,line", [
    # the wire format reaching up into the analyzer
    ("dissectors/srtp.py", "from analyzer.pipeline.session import Session"),
    # a view reaching up into the pipeline that drives it (a cycle)
    ("analyzer/views/srtp.py", "from analyzer.pipeline import dissect"),
    # the reconstructor using the TUI
    ("analyzer/flows/model.py", "import textual"),
])
def test_a_forbidden_import_breaks_the_contracts(tmp_path, module, line):
    """The contracts are not vacuous: one upward import in a copy of the tree fails them."""
    pytest.importorskip("importlinter")
    for folder in ("analyzer", "dissectors"):
        shutil.copytree(ROOT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + "\n" + line + "\n")
    proc = _lint_imports(tmp_path)
    assert proc.returncode != 0 and "BROKEN" in proc.stdout, proc.stdout


def test_no_private_name_is_imported_across_modules():
    """``from X import _name`` only within one module's own tests of itself: a private
    name used elsewhere is part of an interface and gets a public name."""
    offenders = []
    for folder in ("analyzer", "dissectors"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                        and node.module.split(".")[0] in ("analyzer", "dissectors"):
                    offenders += [f"{path.relative_to(ROOT)}: {node.module}.{a.name}"
                                  for a in node.names if a.name.startswith("_")]
    assert not offenders, offenders
