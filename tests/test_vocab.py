"""Vocabularies and the findings registry: one definition each, and the timeline
schema (the contract other tools validate against) agrees with them."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from analyzer import vocab
from analyzer.flows import findings
from analyzer.flows.findings import FINDING_CODES, FindingKind
from analyzer.flows.model import KeyEvent, Procedure, next_state
from analyzer.output.timeline import SCHEMA
from dissectors.issues import ISSUE_CODES

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"


def _schema_enum(*path: str) -> set:
    node = json.loads(SCHEMA.read_text())
    for step in path:
        node = node[step]
    return set(node["enum"])


@pytest.mark.parametrize("enum,path", [
    (vocab.KeyKind, ("properties", "keys", "items", "properties", "kind")),
    (vocab.KeyState, ("properties", "keys", "items", "properties", "state")),
    (vocab.Event, ("properties", "keys", "items", "properties", "events", "items",
                   "properties", "event")),
    (vocab.ProcedureName, ("properties", "procedures", "items", "properties", "procedure")),
    (vocab.Outcome, ("properties", "procedures", "items", "properties", "outcome")),
    (vocab.Severity, ("properties", "findings", "items", "properties", "severity")),
    (vocab.DownloadResult, ("properties", "downloads", "items", "properties", "result")),
])
def test_the_schema_lists_exactly_the_vocabulary(enum, path):
    assert _schema_enum(*path) == {m.value for m in enum}


def test_records_refuse_a_name_outside_the_vocabulary():
    with pytest.raises(ValueError):
        KeyEvent(0.0, 0, 1, "deliverd")
    with pytest.raises(ValueError):
        Procedure("msk_requets", None, 0.0, 0.0)
    proc = Procedure("msk_request", None, 0.0, 0.0)
    with pytest.raises(ValueError):
        proc.close("succes")
    proc.close("success")
    assert proc.outcome is vocab.Outcome.SUCCESS and json.dumps(proc.outcome) == '"success"'
    with pytest.raises(ValueError):
        next_state(vocab.KeyState.KNOWN, "used")


def test_findings_register_themselves_once():
    assert set(FINDING_CODES) == set(FindingKind.registry)
    assert len(FINDING_CODES) >= 20
    for code, kind in FindingKind.registry.items():
        assert kind.code == code and isinstance(kind.severity, vocab.Severity)
        assert len(kind.description()) > 20, code
    with pytest.raises(TypeError, match="registered twice"):
        class Again(FindingKind):
            """The same code a second time."""

            code = "mikey.replay"
            severity = vocab.Severity.WARNING
    with pytest.raises(TypeError, match="docstring"):
        class Silent(FindingKind):
            code = "test.silent"
            severity = vocab.Severity.INFO
    with pytest.raises(TypeError, match="Severity"):
        class Loose(FindingKind):
            """A severity that is a bare string."""

            code = "test.loose"
            severity = "warning"
    assert "test.silent" not in FindingKind.registry
    assert "test.loose" not in FindingKind.registry


def test_the_reconstructor_raises_findings_by_their_class():
    """No bare code strings in the reconstructor: each finding is a registered class,
    so a typo is an AttributeError at the first run, not a new code in the output."""
    tree = ast.parse((ROOT / "analyzer" / "flows" / "reconstructor.py").read_text())
    raised = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("_finding", "_once"):
            arg = node.args[0] if node.func.attr == "_finding" else node.args[1]
            if isinstance(arg, ast.Attribute):
                raised.add(arg.attr)
            else:
                assert not isinstance(arg, ast.Constant), ast.unparse(node)
    registered = {k.__name__ for k in FindingKind.registry.values()}
    assert raised <= registered and len(raised) >= 20
    assert all(getattr(findings, name).code in FINDING_CODES for name in raised)


def test_every_golden_finding_code_is_registered():
    docs = sorted(GOLDEN.glob("*.timeline.json"))
    if not docs:
        pytest.skip("no golden timelines")
    seen = {f["code"] for doc in docs for f in json.loads(doc.read_text())["findings"]}
    assert seen and seen <= set(FINDING_CODES) | set(ISSUE_CODES), \
        seen - set(FINDING_CODES) - set(ISSUE_CODES)
