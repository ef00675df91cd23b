"""The fuzz harnesses (issue #9): every crash they found stays fixed, and each
harness still runs (a short smoke; ``fuzz/run.sh`` is the long run)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

atheris = pytest.importorskip("atheris")

FUZZ = ROOT / "fuzz"
TARGETS = ("mikey", "bmsc", "srtp", "reader", "flute")


def _harness(target: str):
    sys.path.insert(0, str(FUZZ))
    try:
        return importlib.import_module(f"fuzz_{target}")
    finally:
        sys.path.remove(str(FUZZ))


@pytest.mark.parametrize("target", TARGETS)
def test_regressions_and_seeds_pass_through_the_harness(target):
    harness = _harness(target)
    files = sorted((ROOT / "tests" / "fuzz_regressions" / target).glob("*")) + \
        sorted((FUZZ / "corpus" / target).glob("*"))
    assert files
    for path in files:
        harness.test_one_input(path.read_bytes())  # raises on a regression


@pytest.mark.parametrize("target", TARGETS)
def test_each_harness_fuzzes_for_a_moment(target, tmp_path):
    work = tmp_path / target
    work.mkdir()
    proc = subprocess.run([sys.executable, f"fuzz_{target}.py", str(work), f"corpus/{target}",
                           "-runs=400", f"-artifact_prefix={tmp_path}/"], cwd=FUZZ,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done 400 runs" in proc.stderr
